"""The robustness transforms: what each step shows the model, made from the canvas.

A step starts from the canvases, one *view* per visualization, and passes them through the
run's transforms in order; MACO's are :class:`Crops` (random crops, resized to the model input)
then :class:`Noise`. A transform is any callable ``transform(views, context) -> views``
(:class:`Views` in, :class:`Views` out; :class:`StepContext` says which step it is and the
seeds), differentiable in ``views.images`` and run inside the compiled step, so that a user can
add their own (jitter, rotation, another crop law) with
``xmaco.maco(..., transforms=[MyJitter(), Crops(32), Noise(0.08)])``. Views stay grouped by
visualization, the same number for each; the engine resizes what the last transform gives to
the model input when their sizes differ.

Randomness is stateless and keyed by ``(seed of the visualization, step, draw)``
(:func:`random_key`), so that a visualization gets the same crops whether it runs alone or
inside a batch, and a run is reproducible from its seed.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import tensorflow as tf

from . import schedules
from ._checks import check_count, check_flag, check_fraction
from ._resample import gather_crop, kernel_crop

__all__ = [
    "Views",
    "StepContext",
    "Transform",
    "Crops",
    "Resize",
    "Noise",
    "random_key",
    "sample_boxes",
    "crop",
    "noise_field",
    "noise_levels",
    "MIN_CROP",
]

#: Smallest crop side, as a fraction of the canvas' shorter side.
MIN_CROP = 0.05

_SIZE_DRAW, _CENTER_DRAW, _NOISE_DRAW = 1, 2, 5

# The noise is drawn as one 16-bit index per value into a table of the equiprobable levels of
# its distribution: one uniform integer and one lookup instead of a normal and a uniform draw
# (a normal costs three uniforms' time on CPU, and the noise was the largest cost of a step
# after the model).
_NOISE_LEVELS = 2**16


class Views(NamedTuple):
    """What a step shows the model, as it goes through the transforms.

    Attributes
    ----------
    images
        float32 (B, h, w, C), in the model's value range; B a multiple of the number of
        visualizations, grouped by visualization.
    owners
        int32 (B,): the visualization each view belongs to.
    boxes
        float32 (B, 4): the region of the canvas each view shows, ``(y1, x1, y2, x2)`` as
        fractions of its height and width (objectives that compare with a reference photo crop
        the same region of it).

    Example
    -------
    >>> import tensorflow as tf
    >>> views = Views(tf.zeros([2, 8, 8, 3]), tf.range(2), tf.constant([[0., 0, 1, 1]] * 2))
    >>> views._replace(images=views.images + 1.0).images.shape.as_list()
    [2, 8, 8, 3]
    """

    images: tf.Tensor
    owners: tf.Tensor
    boxes: tf.Tensor


class StepContext(NamedTuple):
    """Where the run is, for a transform: the step, the seeds, the sizes and the value range.

    Attributes
    ----------
    step
        Scalar int64 tensor.
    seeds
        int64 (N,): the seed of each visualization (draw randomness per visualization with
        :func:`random_key`, and a visualization sees the same views alone or in a batch).
    input_size
        (height, width) of the model input.
    values_range
        (low, high) of the model's input values.

    Example
    -------
    >>> import tensorflow as tf
    >>> context = StepContext(tf.constant(3, tf.int64), tf.constant([7], tf.int64), (8, 8),
    ...                       (0.0, 1.0))
    >>> int(context.step), context.input_size
    (3, (8, 8))
    """

    step: tf.Tensor
    seeds: tf.Tensor
    input_size: tuple[int, int]
    values_range: tuple[float, float]


#: A transform: ``transform(views, context) -> views``.
Transform = Callable[[Views, StepContext], Views]


def random_key(seed: tf.Tensor, step: tf.Tensor, draw: int) -> tf.Tensor:
    """A stateless random key (for ``tf.random.stateless_*``) from a visualization's seed, the
    step and a number that tells one kind of draw from another (user transforms: >= 100).

    Example
    -------
    >>> import tensorflow as tf
    >>> key = random_key(tf.constant(0, tf.int64), tf.constant(3, tf.int64), draw=100)
    >>> tf.random.stateless_uniform([2], seed=key).shape.as_list()
    [2]
    """
    base = tf.stack([tf.cast(seed, tf.int64), tf.cast(step, tf.int64)])
    return tf.random.experimental.stateless_fold_in(base, draw, alg="philox")


@dataclasses.dataclass(frozen=True)
class Crops:
    """``count`` random square crops of each canvas per step, resized to the model input.

    Each crop's side is ``size`` (a fraction of the canvas' shorter side, a number or a
    schedule of the step) plus ``N(0, 0.05)``, its centre ``0.5 + N(0, spread)`` per axis (see
    :func:`sample_boxes`). Crops come first among the transforms that change the number of
    views: they take one view per visualization.

    Parameters
    ----------
    count
        Crops per visualization and step.
    size
        A number in (0, 1] or a schedule; None: the preset's crop schedule over the run.
    padding
        Let a crop reach outside the canvas (reading zeros there, the middle of a symmetric
        value range), as in Xplique's ``maco()``; False keeps every crop inside.
    spread
        Standard deviation of the crop centres around the canvas centre, a fraction of its side
        (keyword ``crop_spread``). The authors' 0.15 shows the canvas' borders to the model
        about 30 times less often than its centre, so that the picture fades out towards them;
        0.35 shows every part of the canvas within a factor of about 2.

    Example
    -------
    >>> import tensorflow as tf
    >>> views = Views(tf.zeros([2, 64, 64, 3]), tf.range(2), tf.constant([[0., 0, 1, 1]] * 2))
    >>> context = StepContext(tf.constant(0, tf.int64), tf.constant([5, 6], tf.int64),
    ...                       (16, 16), (0.0, 1.0))
    >>> Crops(4, 0.5)(views, context).images.shape.as_list()
    [8, 16, 16, 3]
    """

    count: int = 32
    size: Any = None
    padding: bool = False
    spread: float = 0.15

    def __post_init__(self) -> None:
        object.__setattr__(self, "count", check_count(self.count, "crops", 1))
        if self.size is not None:
            size = schedules.as_schedule(self.size, "crop_size", 0.0, 1.0)
            object.__setattr__(self, "size", size)
        object.__setattr__(self, "padding", check_flag(self.padding, "crop_padding"))
        object.__setattr__(self, "spread", check_fraction(self.spread, "crop_spread"))

    def __call__(self, views: Views, context: StepContext) -> Views:
        n = int(context.seeds.shape[0])
        if int(views.images.shape[0]) != n:
            raise ValueError(
                f"Expected Crops to receive one view per visualization ({n}). Received: "
                f"{views.images.shape[0]} views: put Crops before transforms that add views"
            )
        size = tf.cast(self.size(context.step), tf.float32)
        canvas = tuple(int(side) for side in views.images.shape[1:3])
        boxes = sample_boxes(
            context.seeds,
            context.step,
            self.count,
            size,
            canvas,
            center_std=self.spread,
            padding=self.padding,
        )
        images = crop(views.images, boxes, self.count, context.input_size)
        owners = tf.repeat(tf.range(n, dtype=tf.int32), self.count)
        return Views(images, owners, _within(tf.gather(views.boxes, owners), boxes))

    def logs(self, step: int) -> dict[str, float]:
        return {"crop_size": float(self.size(step))}

    def describe(self) -> dict[str, Any]:
        return {
            "transform": "crops",
            "count": self.count,
            "size": schedules.describe(self.size),
            "padding": bool(self.padding),
            "spread": self.spread,
        }


@dataclasses.dataclass(frozen=True)
class Resize:
    """Each view resized (bilinear) to the model input: what a run without crops shows.

    Example
    -------
    >>> import tensorflow as tf
    >>> views = Views(tf.zeros([1, 64, 48, 3]), tf.range(1), tf.constant([[0., 0, 1, 1]]))
    >>> context = StepContext(tf.constant(0, tf.int64), tf.constant([0], tf.int64),
    ...                       (16, 16), (0.0, 1.0))
    >>> Resize()(views, context).images.shape.as_list()
    [1, 16, 16, 3]
    """

    def __call__(self, views: Views, context: StepContext) -> Views:
        if tuple(int(side) for side in views.images.shape[1:3]) == tuple(context.input_size):
            return views
        return views._replace(images=crop(views.images, None, 1, context.input_size))

    def describe(self) -> dict[str, Any]:
        return {"transform": "resize"}


@dataclasses.dataclass(frozen=True)
class Noise:
    """Additive noise ``scale * (high - low) / 2 * (N(0, 1) + U(-1/2, 1/2))`` on every view.

    ``scale`` is a number >= 0 or a schedule of the step; the draws are keyed by each
    visualization's seed and the step (:func:`noise_field`).

    Example
    -------
    >>> import tensorflow as tf
    >>> views = Views(tf.zeros([4, 8, 8, 3]), tf.repeat(tf.range(2), 2), tf.zeros([4, 4]))
    >>> context = StepContext(tf.constant(0, tf.int64), tf.constant([5, 6], tf.int64),
    ...                       (8, 8), (-1.0, 1.0))
    >>> noisy = Noise(0.1)(views, context).images
    >>> noisy.shape.as_list(), 0.05 < float(tf.math.reduce_std(noisy)) < 0.15
    ([4, 8, 8, 3], True)
    """

    scale: Any = 0.08

    def __post_init__(self) -> None:
        scale = schedules.as_schedule(self.scale, "noise", 0.0, None, low_inclusive=True)
        object.__setattr__(self, "scale", scale)

    def __call__(self, views: Views, context: StepContext) -> Views:
        low, high = context.values_range
        n = int(context.seeds.shape[0])
        shape = [int(views.images.shape[0]) // n, *views.images.shape[1:]]
        scale = tf.cast(self.scale(context.step), tf.float32)
        noise = noise_field(context.seeds, context.step, shape, scale * (high - low) / 2.0)
        return views._replace(images=views.images + noise)

    def logs(self, step: int) -> dict[str, float]:
        return {"noise": float(self.scale(step))}

    def describe(self) -> dict[str, Any]:
        return {"transform": "noise", "scale": schedules.describe(self.scale)}


def check_transforms(transforms: Any, crop_size: Any) -> tuple[Transform, ...]:
    """``transforms`` as a tuple of callables, each :class:`Crops` without a size given
    ``crop_size`` (the preset's schedule over the run).

    Example
    -------
    >>> check_transforms([Crops(4)], 0.3)[0].size(0)
    0.3
    """
    if isinstance(transforms, (str, bytes)) or not isinstance(transforms, Sequence):
        raise TypeError(
            "Expected transforms to be a list of transforms (callables (views, context) -> "
            f"views). Received: transforms of type {type(transforms).__name__}"
        )
    checked = []
    for i, transform in enumerate(transforms):
        if not callable(transform):
            raise TypeError(
                "Expected transforms to be callables (views, context) -> views. Received: "
                f"transforms[{i}]={transform!r}"
            )
        if isinstance(transform, Crops) and transform.size is None:
            transform = dataclasses.replace(transform, size=crop_size)
        checked.append(transform)
    return tuple(checked)


def _within(outer: tf.Tensor, inner: tf.Tensor) -> tf.Tensor:
    """Boxes ``inner`` given relative to boxes ``outer``, in the coordinates of ``outer``."""
    start, end = outer[:, :2], outer[:, 2:]
    extent = end - start
    return tf.concat([start + inner[:, :2] * extent, start + inner[:, 2:] * extent], axis=1)


def sample_boxes(
    seeds: tf.Tensor,
    step: tf.Tensor,
    crops: int,
    size: tf.Tensor,
    canvas_shape: tuple[int, int],
    size_jitter: float = 0.05,
    center_std: float = 0.15,
    padding: bool = False,
) -> tf.Tensor:
    """Random square crop boxes, ``crops`` per visualization.

    Each crop's side is ``size`` (a fraction of the canvas' shorter side) plus
    ``N(0, size_jitter)``, clipped to ``[MIN_CROP, 1]``; its centre is ``0.5 + N(0,
    center_std)`` per axis, clipped so that the box stays inside the canvas, unless
    ``padding`` is True: then the centre stays in the canvas but the box may reach outside
    it, where :func:`crop` reads zeros (the middle of a symmetric value range).

    Parameters
    ----------
    seeds
        int tensor (N,): one seed per visualization.
    step
        Scalar int tensor.
    crops
        Crops per visualization (a Python int).
    size
        Scalar float: the crop size of this step.
    canvas_shape
        (height, width) of the canvas, to keep crops square in pixels.

    Returns
    -------
    tf.Tensor
        float32 (N * crops, 4) boxes ``(y1, x1, y2, x2)`` in normalised coordinates, grouped by
        visualization (rows ``i * crops ... (i + 1) * crops - 1`` belong to visualization i).

    Example
    -------
    >>> import tensorflow as tf
    >>> boxes = sample_boxes(tf.constant([0, 1]), tf.constant(0), 4, 0.5, (64, 64))
    >>> boxes.shape.as_list()
    [8, 4]
    """
    height, width = canvas_shape
    shorter = float(min(height, width))
    scale = tf.constant([shorter / height, shorter / width], tf.float32)
    size = tf.cast(size, tf.float32)
    per_visualization = []
    for i in range(seeds.shape[0]):
        sides = size + size_jitter * tf.random.stateless_normal(
            [crops, 1], seed=random_key(seeds[i], step, _SIZE_DRAW), alg="philox"
        )
        sides = tf.clip_by_value(sides, MIN_CROP, 1.0) * scale  # (crops, 2): (h, w) fractions
        centers = 0.5 + center_std * tf.random.stateless_normal(
            [crops, 2], seed=random_key(seeds[i], step, _CENTER_DRAW), alg="philox"
        )
        if padding:
            centers = tf.clip_by_value(centers, 0.0, 1.0)
        else:
            centers = tf.clip_by_value(centers, sides / 2.0, 1.0 - sides / 2.0)
        per_visualization.append(tf.concat([centers - sides / 2.0, centers + sides / 2.0], 1))
    return tf.concat(per_visualization, 0)


def crop(
    canvas: tf.Tensor,
    boxes: tf.Tensor | None,
    crops: int,
    output_size: tuple[int, int],
    xla: bool = False,
) -> tf.Tensor:
    """Crop and resize (bilinear) the canvas to the model input.

    ``boxes`` None means the whole canvas, once per visualization. Where a box reaches outside
    the canvas, the crop reads zeros. ``xla=True`` uses an
    equivalent formulation made of gathers, which XLA compiles (``CropAndResize`` has no XLA
    kernel); the default, TensorFlow's kernel with a race-free gradient, is about 2x faster
    forward and backward on CPU.

    Example
    -------
    >>> import tensorflow as tf
    >>> crop(tf.zeros([2, 32, 32, 3]), None, 1, (8, 8)).shape.as_list()
    [2, 8, 8, 3]
    """
    n = canvas.shape[0]
    if boxes is None:
        boxes = tf.tile(tf.constant([[0.0, 0.0, 1.0, 1.0]]), [n, 1])
        crops = 1
    if not xla:
        return kernel_crop(canvas, boxes, crops, output_size)
    owners = tf.repeat(tf.range(n, dtype=tf.int32), crops)
    return gather_crop(canvas, boxes, owners, output_size)


def noise_field(
    seeds: tf.Tensor, step: tf.Tensor, shape: Sequence[int], scale: float | tf.Tensor = 1.0
) -> tf.Tensor:
    """Noise ``scale * (N(0, 1) + U(-1/2, 1/2))`` for ``len(seeds)`` groups of images of ``shape``.

    Add it to the crops (grouped by visualization). Each value is one of the 2**16 equiprobable
    levels of that distribution (see :func:`noise_levels`), picked by a stateless uniform index
    keyed by (seed, step): the same draws alone or in a batch, on every run.

    Example
    -------
    >>> import tensorflow as tf
    >>> noise_field(tf.constant([0, 1]), tf.constant(0), [2, 8, 8, 3]).shape.as_list()
    [4, 8, 8, 3]
    """
    levels = tf.cast(scale, tf.float32) * tf.constant(noise_levels())
    noise = []
    for i in range(seeds.shape[0]):
        index = tf.random.stateless_uniform(
            shape,
            seed=random_key(seeds[i], step, _NOISE_DRAW),
            minval=0,
            maxval=_NOISE_LEVELS,
            dtype=tf.int32,
            alg="philox",
        )
        noise.append(tf.gather(levels, index))
    return noise[0] if len(noise) == 1 else tf.concat(noise, 0)


@functools.lru_cache(maxsize=1)
def noise_levels() -> np.ndarray:
    """The 2**16 equiprobable levels of ``N(0, 1) + U(-1/2, 1/2)``, ascending (float32).

    Level ``i`` is the quantile at probability ``(i + 1/2) / 2**16``, made exactly symmetric and
    rescaled so that the levels have the exact variance ``1 + 1/12``; the tails are cut at
    about 4.2. The CDF is ``G(x + 1/2) - G(x - 1/2)`` with ``G(t) = t * Phi(t) + phi(t)``,
    the antiderivative of the normal CDF ``Phi``.

    Example
    -------
    >>> levels = noise_levels()
    >>> levels.shape, round(float(levels.mean()), 6), round(float(levels.var()), 4)
    ((65536,), 0.0, 1.0833)
    """
    x = np.linspace(-7.0, 7.0, 2**19 + 1)

    def antiderivative(t):
        with tf.init_scope():  # eager even when first called while tracing a step
            erf = tf.math.erf(tf.constant(t / np.sqrt(2.0), tf.float64)).numpy()
        return t * 0.5 * (1.0 + erf) + np.exp(-0.5 * t * t) / np.sqrt(2.0 * np.pi)

    cdf = antiderivative(x + 0.5) - antiderivative(x - 0.5)
    levels = np.interp((np.arange(_NOISE_LEVELS) + 0.5) / _NOISE_LEVELS, cdf, x)
    levels = (levels - levels[::-1]) / 2.0
    levels *= np.sqrt((1.0 + 1.0 / 12.0) / np.mean(levels**2))
    return levels.astype(np.float32)
