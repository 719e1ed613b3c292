"""Feature inversion: find an image whose activations at a layer match those of a photo.

MACO optimises the phase of a canvas so that, at every step, each random crop of the canvas
has the activations of the **same region** of the reference photo
(:meth:`xmaco.Objective.inversion`). What the inversion keeps of the photo shows what the
layer retains: early layers keep colours and edges in place, late layers keep objects and
textures but let go of their arrangement.

:func:`invert` runs one inversion per reference photo and per layer in one batched run and
records how close it came (:func:`similarity`, the cosine of the flattened activations of
the final canvas and of the photo); :func:`figure` shows the photo beside its inversions.
"""

from __future__ import annotations

import dataclasses
import numbers
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import tensorflow as tf

from . import presets, schedules
from ._checks import check_images
from ._run import input_size_of
from .callbacks import Callback, CallbackList
from .engine import maco
from .objectives import Objective, layer_name
from .plot import _new_figure, _show
from .result import Result
from .transforms import crop

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["invert", "similarity", "figure"]

#: Crop side at the start and the end of an inversion, as a fraction of the canvas: large
#: crops, so that the whole canvas, on which the similarity is measured, is optimised too.
CROP_SIZE = (1.0, 0.4)


def invert(
    model: Any,
    layer: str | int | None = None,
    image: Any = None,
    *,
    layers: Sequence[str | int] | None = None,
    cossim_pow: float = 2.0,
    image_size: int | tuple[int, int] | None = None,
    crop_size: Any = None,
    **keywords: Any,
) -> Result:
    """Invert the activations of a reference photo at one or several layers with MACO.

    Parameters
    ----------
    model
        A Keras model with one image input.
    layer
        The layer to invert (name or index); or give ``layers``.
    image
        The reference: one photo (H, W, C) or a batch (N, H, W, C), in the model's input
        range (e.g. [-1, 1] for :func:`xmaco.zoo.efficientnet_lite0`), with the model's number
        of channels. Any size: each crop of it is resized to the model input.
    layers
        Several layers, inverted together in one batched run: visualization ``i * N + j`` is
        the inversion of photo ``j`` at ``layers[i]``.
    cossim_pow
        Power of the cosine in the objective (see :meth:`xmaco.Objective.inversion`).
    image_size
        The canvas; None: the size (H, W) of the reference, so that a crop box covers the same
        region, undistorted, of canvas and photo.
    crop_size
        Crop side as a fraction of the canvas, a number or a schedule; None:
        ``schedules.linear(*CROP_SIZE, steps)`` over the run's steps (the preset's when
        ``steps`` is not given), larger crops than MACO's default, since the whole canvas is
        what should match the whole photo.
    **keywords
        Any other keyword of :func:`xmaco.maco` (``steps``, ``crops``, ``seed``, ...).

    Returns
    -------
    Result
        One visualization per (layer, photo). ``config`` also holds ``"inverted_layers"``
        (the layer of each visualization), ``"cosine_similarity"`` (reached by the final
        canvas, see :func:`similarity`) and ``"cosine_similarity_start"`` (that of the
        starting canvas), one value per visualization.

    Example
    -------
    >>> import keras, numpy as np
    >>> inputs = keras.Input((16, 16, 3))
    >>> x = keras.layers.Conv2D(4, 3, activation="relu", name="conv1")(inputs)
    >>> x = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="conv2")(x)
    >>> model = keras.Model(inputs, x)
    >>> photo = np.random.default_rng(0).random((24, 24, 3))
    >>> result = invert(model, layers=["conv1", "conv2"], image=photo, steps=4,
    ...                 crops=2, seed=0)
    >>> result.names, result.images.shape
    (['conv1:inversion', 'conv2:inversion'], (2, 24, 24, 3))
    >>> len(result.config["cosine_similarity"])
    2
    """
    if (layer is None) == (layers is None):
        raise ValueError(
            "Expected exactly one of layer (one layer) and layers (a list of layers). "
            f"Received: layer={layer!r}, layers={layers!r}"
        )
    if image is None:
        raise ValueError("Expected image, the reference photo (H, W, C). Received: image=None")
    if layers is not None and (isinstance(layers, (str, bytes)) or not list(layers)):
        raise ValueError(
            f"Expected layers to be a non-empty list of layer names or indices. Received: "
            f"layers={layers!r}"
        )
    chosen = [layer] if layers is None else list(layers)
    objectives = [Objective.inversion(model, item, image, cossim_pow) for item in chosen]
    objective = Objective.concatenate(objectives)
    references = check_images(image, int(model.inputs[0].shape[-1]))
    if image_size is None:
        image_size = (int(references.shape[1]), int(references.shape[2]))
    if crop_size is None and keywords.get("transforms") is None:
        # the larger crops of an inversion, over the steps the run will have
        steps = keywords.get("steps") or presets.get(keywords.get("preset", presets.DEFAULT)).steps
        if isinstance(steps, numbers.Integral) and steps >= 1:
            crop_size = schedules.linear(*CROP_SIZE, int(steps))
    if crop_size is not None:
        keywords["crop_size"] = crop_size
    start = _StartImages()
    callbacks = CallbackList([start, *CallbackList(keywords.pop("callbacks", None))])
    result = maco(objective, image_size=image_size, callbacks=callbacks, **keywords)
    names = [part.layers[0] for part in objectives]
    inverted = [names[i // len(references)] for i in range(len(result))]
    measured = {
        key: _similarities(model, names, images, references, result.config["model_input_size"])
        for key, images in (
            ("cosine_similarity", result.images),
            ("cosine_similarity_start", start.images),
        )
    }
    config = {**result.config, "inverted_layers": inverted, **measured}
    return dataclasses.replace(result, config=config)


def _similarities(
    model: Any, names: list[str], images: np.ndarray, references: np.ndarray, input_size: Any
) -> list[float]:
    """The similarity of each image with its photo, image ``i * N + j`` being the inversion of
    photo ``j`` at ``names[i]``, rounded for the configuration."""
    values = np.zeros(len(images), np.float64)
    for i, name in enumerate(names):
        rows = slice(i * len(references), (i + 1) * len(references))
        values[rows] = similarity(model, name, images[rows], references, tuple(input_size))
    return [round(float(v), 6) for v in values]


def similarity(
    model: Any,
    layer: str | int,
    image: Any,
    reference: Any,
    model_input_size: int | tuple[int, int] | None = None,
) -> np.ndarray:
    """Cosine similarity of the flattened activations of ``layer`` for images and references.

    Both are resized (bilinear) to the model input as a whole, as the engine feeds a whole
    canvas, then run through the model; the activations of each image and of its reference
    are flattened (every position and channel) and compared.

    Parameters
    ----------
    model
        A Keras model with one image input.
    layer
        Layer name or index.
    image
        An image (H, W, C) or a batch (N, H, W, C), in the model's input range, e.g.
        ``result.images``.
    reference
        The reference photo(s), (H', W', C) or (N, H', W', C); one photo is compared with every
        image.
    model_input_size
        (height, width) to resize to, when the model's input size is unknown.

    Returns
    -------
    numpy.ndarray
        float64 (N,): the cosine similarity of each image with its reference, in [-1, 1].

    Example
    -------
    >>> import keras, numpy as np
    >>> model = keras.Sequential(
    ...     [keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, activation="relu", name="conv")]
    ... )
    >>> photo = np.random.default_rng(0).random((12, 12, 3))
    >>> similarity(model, "conv", np.stack([photo, 1.0 - photo]), photo).round(2)[0]
    np.float64(1.0)
    """
    name = layer_name(model, layer)
    channels = int(model.inputs[0].shape[-1])
    images = check_images(image, channels)
    references = check_images(reference, channels)
    if len(references) not in (1, len(images)):
        raise ValueError(
            f"Expected one reference or one per image ({len(images)}). Received: "
            f"{len(references)} references"
        )
    size = input_size_of(model, model_input_size)
    features = _feature_model(model, name)

    def flat(batch: np.ndarray) -> np.ndarray:
        resized = crop(tf.constant(batch), None, 1, size)
        return np.asarray(features(resized, training=False), np.float64).reshape(len(batch), -1)

    a, r = flat(images), flat(references)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(r, axis=1)
    return np.sum(a * r, axis=1) / np.maximum(norms, 1e-12)


def figure(result: Result, reference: Any, size: float = 3.0) -> Figure:
    """The reference photo(s) beside their inversions, titled with the similarity reached.

    Parameters
    ----------
    result
        The result of :func:`invert`.
    reference
        The photo(s) given to :func:`invert`, in the model's input range.
    size
        Side of one panel in inches.

    Returns
    -------
    matplotlib.figure.Figure
        One row per photo: the photo, then its inversion at each layer, from the first layer
        given to the last, titled ``"<layer>\\ncos <similarity>"``.

    Example
    -------
    >>> import keras, numpy as np
    >>> model = keras.Sequential(
    ...     [keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, activation="relu", name="conv")]
    ... )
    >>> photo = np.random.default_rng(0).random((12, 12, 3))
    >>> result = invert(model, "conv", photo, steps=2, crops=1, seed=0)
    >>> [ax.get_title().split("\\n")[0] for ax in figure(result, photo).axes]
    ['reference', 'conv']
    """
    if not isinstance(result, Result) or "cosine_similarity" not in result.config:
        raise TypeError(
            "Expected result to be the Result of xmaco.invert (with config['cosine_similarity'])."
            f" Received: {type(result).__name__}"
        )
    if not isinstance(size, numbers.Real) or isinstance(size, bool) or not size > 0:
        raise ValueError(f"Expected size to be a positive number. Received: size={size!r}")
    references = check_images(reference, result.images.shape[-1])
    count = len(references)
    if len(result) % count:
        raise ValueError(
            f"Expected the photos given to xmaco.invert ({len(result)} inversions are not a "
            f"whole number per photo). Received: {count} photo(s)"
        )
    depths = len(result) // count
    low, high = result.values_range
    shown = result.images01()
    layers = result.config["inverted_layers"]
    cosines = result.config["cosine_similarity"]
    fig = _new_figure((size * (depths + 1), (size + 0.5) * count))
    width = max(12, int(size * 9))
    for row, photo in enumerate(references):
        panel = row * (depths + 1) + 1
        _show(fig.add_subplot(count, depths + 1, panel), _unit(photo, low, high), "reference")
        for depth in range(depths):
            i = depth * count + row
            title = "\n".join(textwrap.wrap(str(layers[i]), width)) + f"\ncos {cosines[i]:.2f}"
            _show(fig.add_subplot(count, depths + 1, panel + depth + 1), shown[i], title)
    fig.tight_layout()
    return fig


class _StartImages(Callback):
    """Keeps the canvas as it was before the first step."""

    def __init__(self) -> None:
        super().__init__()
        self.images: np.ndarray | None = None

    def on_run_begin(self, logs: dict[str, Any]) -> None:
        self.images = self.run.images()


def _feature_model(model: Any, layer: str) -> Any:
    import keras

    return keras.Model(model.inputs[0], model.get_layer(layer).output)


def _unit(image: np.ndarray, low: float, high: float) -> np.ndarray:
    return np.clip((image - low) / (high - low), 0.0, 1.0).astype(np.float32)
