"""Are the visualizations recognisable? By the model that made them, and by other models.

A class visualization is a canvas larger than the model input, painted by many small crops;
its centre is where the crops concentrated. Two checks read it:

- :func:`recognise` is *self-recognition*: the model that made the pictures classifies their
  central part. It is a quick check of a run, but a circular one: a picture can score 0.999 on
  its maker and still be an adversarial pattern that no other network sees as the class.
- :func:`transfer` asks *judges*, networks that did not make the pictures (by default
  EfficientNet-Lite1, EfficientNet-Lite2 and MobileNet v1 0.25), what they see in the central
  half and in random crops, each at its own resolution and value range. A picture that other
  networks recognise shows the class, not the maker's weak spots.

For a unit (a channel, a neuron, a direction), :func:`hold` reads the objective itself on 32
fresh random crops of each picture: a pattern that fills the picture holds on every crop.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from .result import Result

__all__ = [
    "DEFAULT_JUDGES",
    "JUDGES",
    "Judgement",
    "Hold",
    "Recognition",
    "Transfer",
    "hold",
    "recognise",
    "transfer",
]

# Short judge names -> catalogue names (xmaco.zoo.load).
JUDGES = {
    "lite0": "efficientnet_lite0",
    "lite1": "efficientnet_lite1",
    "lite2": "efficientnet_lite2",
    "mobilenet": "mobilenet_v1_025",
}
# Networks other than EfficientNet-Lite0 (the default maker): two deeper and wider versions of
# it, and one of another family.
DEFAULT_JUDGES = ("lite1", "lite2", "mobilenet")


@dataclasses.dataclass(frozen=True)
class Recognition:
    """What the model that made a visualization sees in it (self-recognition).

    Attributes
    ----------
    target
        The class the visualization was made for.
    top
        The ``k`` most probable classes, most probable first.
    probabilities
        Their probabilities (softmax of the logits), aligned with ``top``.
    target_probability
        The probability of ``target``.
    target_rank
        The rank of ``target`` among all classes (1 = the most probable).

    Example
    -------
    >>> seen = Recognition(target=2, top=[2, 3], probabilities=[0.7, 0.1],
    ...                    target_probability=0.7, target_rank=1)
    >>> seen.top1
    True
    """

    target: int
    top: list[int]
    probabilities: list[float]
    target_probability: float
    target_rank: int

    @property
    def top1(self) -> bool:
        """Whether ``target`` is the most probable class."""
        return self.target_rank == 1

    @property
    def top5(self) -> bool:
        """Whether ``target`` is among the five most probable classes."""
        return self.target_rank <= 5


def recognise(
    model: Any,
    result: Result,
    classes: Sequence[int] | None = None,
    fraction: float = 0.5,
    k: int = 5,
) -> list[Recognition]:
    """Self-recognition: classify the central part of each visualization with its maker.

    For a judgement by other networks, see :func:`transfer`.

    The central square (side ``fraction`` of the canvas' shorter side) of every image is
    resized to the model input (bilinear, antialiased) and fed to the model, in the model's own
    value range (the images of a Result already are). The model's output is read as logits and
    turned into probabilities with a softmax, unless its last layer already applies one.

    Parameters
    ----------
    model
        The Keras classifier the visualizations were made with, with a fixed input size.
    result
        A run whose visualization ``i`` targets class ``classes[i]``.
    classes
        One class index per visualization. None: ``result.config["classes"]``.
    fraction
        Side of the central square as a fraction of the canvas, in (0, 1]; 0.5 (the default)
        keeps the central half.
    k
        How many of the most probable classes to report, >= 1.

    Returns
    -------
    list of Recognition
        One per visualization.

    Raises
    ------
    ValueError
        If the classes are missing or do not match the result, or an argument is out of range.

    Example
    -------
    >>> import keras, numpy as np
    >>> from xmaco.result import Result
    >>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(),
    ...                           keras.layers.Dense(4, name="logits")])
    >>> run = Result(images=np.zeros((1, 16, 16, 3), "float32"),
    ...              transparency=np.zeros((1, 16, 16, 3), "float32"),
    ...              history=np.zeros((1, 1), "float32"), names=["logits[2]"],
    ...              config={"classes": [2]})
    >>> found = recognise(model, run, k=2)
    >>> found[0].target, len(found[0].top)
    (2, 2)
    """
    if not isinstance(result, Result):
        raise TypeError(f"Expected result to be an xmaco Result. Received: {type(result).__name__}")
    if classes is None:
        classes = result.config.get("classes")
        if classes is None:
            raise ValueError(
                "Expected classes (one class index per visualization) or a result with "
                "config['classes']. Received: classes=None and no config['classes']"
            )
    classes = list(classes)
    if len(classes) != len(result):
        raise ValueError(
            f"Expected classes to hold {len(result)} class indices (one per visualization). "
            f"Received: classes={classes!r}"
        )
    if (
        isinstance(fraction, bool)
        or not isinstance(fraction, numbers.Real)
        or not (0.0 < fraction <= 1.0)
    ):
        raise ValueError(
            f"Expected fraction to be a number in (0, 1]. Received: fraction={fraction!r}"
        )
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"Expected k to be a positive integer. Received: k={k!r}")
    shape = tuple(model.inputs[0].shape)
    if shape[1] is None or shape[2] is None:
        raise ValueError(
            f"Expected model '{model.name}' to have a fixed input size. Received: input shape "
            f"{shape}"
        )
    count = model.outputs[0].shape[-1]
    for target in classes:
        if (
            isinstance(target, bool)
            or not isinstance(target, numbers.Integral)
            or not (0 <= target < count)
        ):
            raise ValueError(
                f"Expected classes to be indices in [0, {count - 1}] (the outputs of model "
                f"'{model.name}'). Received: {target!r} in classes={classes!r}"
            )
    outputs = np.asarray(model(_centres(result.images, fraction, shape[1:3]), training=False))
    probabilities = outputs if _ends_in_softmax(model) else _softmax(outputs)
    found = []
    for target, row in zip(classes, probabilities, strict=True):
        order = np.argsort(-row, kind="stable")
        found.append(
            Recognition(
                target=int(target),
                top=[int(c) for c in order[:k]],
                probabilities=[float(row[c]) for c in order[:k]],
                target_probability=float(row[target]),
                target_rank=int(np.flatnonzero(order == target)[0]) + 1,
            )
        )
    return found


def _centres(images: np.ndarray, fraction: float, size: tuple[int, int]) -> tf.Tensor:
    height, width = images.shape[1:3]
    side = max(1, round(min(height, width) * fraction))
    top, left = (height - side) // 2, (width - side) // 2
    centre = images[:, top : top + side, left : left + side, :]
    return tf.image.resize(centre, size, method="bilinear", antialias=True)


def _ends_in_softmax(model: Any) -> bool:
    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    return getattr(activation, "__name__", None) == "softmax" or type(last).__name__ == "Softmax"


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


@dataclasses.dataclass(frozen=True)
class Judgement:
    """What one judge sees in one picture (see :func:`transfer`).

    Attributes
    ----------
    picture
        Index of the picture.
    judge
        Name of the judging model.
    target
        The class the picture should show.
    probability
        The judge's probability of ``target`` on the central part (softmax of the logits).
    rank
        The rank of ``target`` on the central part (1 = the most probable).
    top
        The judge's five most probable classes on the central part, most probable first.
    crop_top1
        The share of the random crops on which ``target`` is the judge's top-1, in [0, 1].

    Example
    -------
    >>> seen = Judgement(picture=0, judge="efficientnet_lite1", target=1, probability=0.8,
    ...                  rank=1, top=(1, 2, 3, 4, 5), crop_top1=0.5)
    >>> seen.top1, seen.top5
    (True, True)
    """

    picture: int
    judge: str
    target: int
    probability: float
    rank: int
    top: tuple[int, ...]
    crop_top1: float

    @property
    def top1(self) -> bool:
        """Whether ``target`` is the judge's most probable class on the central part."""
        return self.rank == 1

    @property
    def top5(self) -> bool:
        """Whether ``target`` is among the judge's five most probable classes there."""
        return self.rank <= 5


_MEASURES = ("probability", "top1", "top5", "crop_top1")


@dataclasses.dataclass(frozen=True)
class Transfer:
    """What each judge sees in each picture, and how the measurement was made.

    Attributes
    ----------
    judgements
        One :class:`Judgement` per picture and judge, picture by picture.
    judges
        The judges' names, in the order given.
    crops
        Random crops per picture.
    crop_sides
        The range of the crops' side, as fractions of the picture's shorter side.
    fraction
        Side of the central part, as a fraction of the picture's shorter side.
    seed
        Seed of the crop boxes (the same boxes for every judge).

    Example
    -------
    >>> seen = [Judgement(0, "a", 1, 0.9, 1, (1, 0), 0.75), Judgement(1, "a", 2, 0.1, 3,
    ...         (0, 1, 2), 0.25)]
    >>> found = Transfer(tuple(seen), ("a",), crops=4, crop_sides=(0.25, 0.5), fraction=0.5,
    ...                  seed=0)
    >>> found.summary()["a"]
    {'probability': 0.5, 'top1': 0.5, 'top5': 1.0, 'crop_top1': 0.5}
    """

    judgements: tuple[Judgement, ...]
    judges: tuple[str, ...]
    crops: int
    crop_sides: tuple[float, float]
    fraction: float
    seed: int

    def __len__(self) -> int:
        """The number of pictures."""
        return len(self.judgements) // max(1, len(self.judges))

    def of(self, judge: str) -> list[Judgement]:
        """The judgements of one judge, picture by picture."""
        if judge not in self.judges:
            raise ValueError(
                f"Expected judge to be one of {', '.join(map(repr, self.judges))}. "
                f"Received: judge={judge!r}"
            )
        return [found for found in self.judgements if found.judge == judge]

    def summary(self) -> dict[str, dict[str, float]]:
        """Per judge, the means over the pictures.

        Returns
        -------
        dict
            ``{judge: {"probability": ..., "top1": ..., "top5": ..., "crop_top1": ...}}``:
            the mean centre probability of the target, the top-1 and top-5 rates of the
            centre, and the mean top-1 rate over the crops.
        """
        return {
            judge: {
                measure: float(
                    np.mean([float(getattr(found, measure)) for found in self.of(judge)])
                )
                for measure in _MEASURES
            }
            for judge in self.judges
        }

    def table(self) -> str:
        """The summary as a plain-text table, one row per judge.

        Example
        -------
        >>> found = Transfer((Judgement(0, "lite", 1, 0.9, 1, (1,), 0.75),), ("lite",), 4,
        ...                  (0.25, 0.5), 0.5, 0)
        >>> print(found.table())
        judge  pictures  centre p  centre top-1  centre top-5  crop top-1
        lite          1     0.900          1.00          1.00        0.75
        """
        header = ("judge", "pictures", "centre p", "centre top-1", "centre top-5", "crop top-1")
        rows = [
            (
                judge,
                str(len(self)),
                f"{means['probability']:.3f}",
                f"{means['top1']:.2f}",
                f"{means['top5']:.2f}",
                f"{means['crop_top1']:.2f}",
            )
            for judge, means in self.summary().items()
        ]
        return _format_table(header, rows)

    def details(
        self, names: Sequence[str] | None = None, labels: Sequence[str] | None = None
    ) -> str:
        """Every judgement as a plain-text table, one row per picture and judge.

        Parameters
        ----------
        names
            A name per picture (e.g. its file); default: its index.
        labels
            A name per class (e.g. :func:`xmaco.zoo.imagenet_classes`); default: the index.

        Example
        -------
        >>> found = Transfer((Judgement(0, "lite", 1, 0.9, 1, (1,), 0.75),), ("lite",), 4,
        ...                  (0.25, 0.5), 0.5, 0)
        >>> print(found.details(names=["fish.png"], labels=["cat", "goldfish"]))
        picture   class         judge  centre p  centre rank  judge's top-1  crop top-1
        fish.png  goldfish (1)  lite      0.900            1  goldfish           0.75
        """
        if names is not None and len(names) != len(self):
            raise ValueError(
                f"Expected names to hold {len(self)} picture names. Received: {len(names)}"
            )

        def label(index: int) -> str:
            return str(index) if labels is None else str(labels[index])

        header = ("picture", "class", "judge", "centre p", "centre rank", "judge's top-1")
        header += ("crop top-1",)
        rows = [
            (
                str(found.picture) if names is None else str(names[found.picture]),
                label(found.target) + ("" if labels is None else f" ({found.target})"),
                found.judge,
                f"{found.probability:.3f}",
                str(found.rank),
                label(found.top[0]),
                f"{found.crop_top1:.2f}",
            )
            for found in self.judgements
        ]
        return _format_table(header, rows)

    def __str__(self) -> str:
        return self.table()


def _format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell: the first left-aligned, the others right-aligned."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first, *rest = cells
        padded = [str(first).ljust(widths[0])]
        padded += [str(cell).rjust(width) for cell, width in zip(rest, widths[1:], strict=True)]
        return "  ".join(padded).rstrip()

    return "\n".join(line(row) for row in [header, *rows])


def transfer(
    images: Any,
    classes: int | Sequence[int] | None = None,
    judges: Any = DEFAULT_JUDGES,
    *,
    values_range: tuple[float, float] | None = None,
    crops: int = 32,
    crop_sides: tuple[float, float] = (0.25, 0.5),
    fraction: float = 0.5,
    seed: int = 0,
    batch_size: int = 16,
) -> Transfer:
    """Ask judges, networks that did not make the pictures, what they see in them.

    For each picture and judge: the judge's probability of the target class on the central
    part (a square of side ``fraction`` of the shorter side, as :func:`recognise`), the
    target's rank there (top-1, top-5), and the share of ``crops`` random square crops (side
    uniform in ``crop_sides`` of the shorter side, anywhere inside the picture; the boxes come
    from ``seed`` and are the same for every judge) on which the target is the judge's top-1.
    Every crop is resized to the judge's own input (bilinear, antialiased) and mapped to its
    own value range (``model.xmaco_values_range``).

    Parameters
    ----------
    images
        A :class:`xmaco.Result` (its images, in its values range), or an array (N, H, W, C) or
        (H, W, C): uint8 pixels, or floats in ``values_range``. C is 3, or 1 (repeated for RGB
        judges).
    classes
        The target class of each picture: one index for all, or one per picture. None: a
        Result's ``config["classes"]``.
    judges
        A model, a name, or a sequence of them. Names are the short names of :data:`JUDGES`
        (``"lite1"``, ``"lite2"``, ``"mobilenet"``, ``"lite0"``) or anything
        :func:`xmaco.zoo.load` accepts; a model must have a fixed input size and record its
        value range (``xmaco_values_range``, as every :mod:`xmaco.zoo` model does). Judges
        loaded by name are kept for the next call.
    values_range
        The (low, high) range of float ``images``; default (0, 1). Ignored for a Result and
        for uint8 arrays.
    crops
        Random crops per picture, >= 0 (0 skips the crops; ``crop_top1`` is then NaN).
    crop_sides
        (smallest, largest) crop side as fractions of the shorter side, in (0, 1].
    fraction
        Side of the central part, in (0, 1]; 0.5 (the default) is the central half.
    seed
        Seed of the crop boxes.
    batch_size
        Images per judge call (bounds the memory; the result does not depend on it).

    Returns
    -------
    Transfer
        Judgements per picture and judge; ``.summary()`` and ``.table()`` give the means per
        judge.

    Raises
    ------
    ValueError
        If an argument is out of range, the classes do not match the pictures, or a judge is
        unknown, lacks a fixed input size or a recorded value range.
    TypeError
        If ``images`` is neither a Result nor an array.

    Example
    -------
    >>> import keras, numpy as np
    >>> inputs = keras.Input((8, 8, 3))
    >>> judge = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)),
    ...                     name="tiny")
    >>> judge.xmaco_values_range = (0.0, 1.0)
    >>> found = transfer(np.zeros((2, 32, 32, 3), "uint8"), 1, [judge], crops=4)
    >>> len(found), found.judges, sorted(found.summary()["tiny"])
    (2, ('tiny',), ['crop_top1', 'probability', 'top1', 'top5'])
    """
    pictures, classes = _pictures(images, classes, values_range)
    crops = _count(crops, "crops", minimum=0)
    batch_size = _count(batch_size, "batch_size", minimum=1)
    fraction = _fraction(fraction, "fraction")
    crop_sides = _crop_sides(crop_sides)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"Expected seed to be an integer. Received: seed={seed!r}")
    models = [_judge(judge) for judge in _as_list(judges)]
    names = [model.name for model in models]
    if len(set(names)) != len(names):
        raise ValueError(
            f"Expected judges to be different models. Received: judges named {names!r}"
        )
    boxes = _crop_boxes(pictures.shape[1:3], len(pictures), crops, crop_sides, int(seed))
    found = {}
    for model in models:
        _check_classes(classes, model)
        for index, (picture, target) in enumerate(zip(pictures, classes, strict=True)):
            found[index, model.name] = _judge_picture(
                model, picture, boxes[index], fraction, target, index, batch_size
            )
    judgements = tuple(found[index, name] for index in range(len(pictures)) for name in names)
    return Transfer(judgements, tuple(names), crops, crop_sides, float(fraction), int(seed))


def _pictures(
    images: Any, classes: Any, values_range: tuple[float, float] | None
) -> tuple[np.ndarray, list[int]]:
    """The pictures as float32 (N, H, W, C) in [0, 1], and one class per picture."""
    if isinstance(images, Result):
        if classes is None:
            classes = images.config.get("classes")
        pictures = images.images01()
    elif isinstance(images, (np.ndarray, tf.Tensor, list)):
        array = np.asarray(images)
        if array.ndim == 3:
            array = array[None]
        if array.ndim != 4 or array.shape[-1] not in (1, 3) or 0 in array.shape:
            raise ValueError(
                "Expected images to be an array (N, H, W, C) or (H, W, C) with C = 1 or 3. "
                f"Received: images of shape {np.shape(images)}"
            )
        if array.dtype == np.uint8:
            pictures = array.astype(np.float32) / 255.0
        else:
            low, high = _range(values_range)
            pictures = np.clip((array.astype(np.float32) - low) / (high - low), 0.0, 1.0)
    else:
        raise TypeError(
            "Expected images to be an xmaco Result or an array (N, H, W, C). "
            f"Received: images of type {type(images).__name__}"
        )
    if classes is None:
        raise ValueError(
            "Expected classes (one class index, or one per picture). Received: classes=None"
            + (" and a Result without config['classes']" if isinstance(images, Result) else "")
        )
    listed = [classes] if isinstance(classes, numbers.Integral) else list(classes)
    if len(listed) == 1:
        listed *= len(pictures)
    if len(listed) != len(pictures):
        raise ValueError(
            f"Expected classes to hold one class index, or {len(pictures)} (one per picture). "
            f"Received: classes={classes!r}"
        )
    for target in listed:
        if isinstance(target, bool) or not isinstance(target, numbers.Integral) or target < 0:
            raise ValueError(
                f"Expected classes to be non-negative class indices. Received: {target!r} in "
                f"classes={classes!r}"
            )
    return pictures.astype(np.float32), [int(target) for target in listed]


def _range(values_range: Any) -> tuple[float, float]:
    if values_range is None:
        return 0.0, 1.0
    try:
        low, high = (float(v) for v in values_range)
        valid = low < high
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ValueError(
            "Expected values_range to be a pair (low, high) with low < high. "
            f"Received: values_range={values_range!r}"
        )
    return low, high


def _count(value: Any, argument: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        expected = "a positive integer" if minimum == 1 else "a non-negative integer"
        raise ValueError(f"Expected {argument} to be {expected}. Received: {argument}={value!r}")
    return int(value)


def _fraction(value: Any, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 < value <= 1.0:
        raise ValueError(
            f"Expected {argument} to be a number in (0, 1]. Received: {argument}={value!r}"
        )
    return float(value)


def _crop_sides(value: Any) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value)
        valid = 0.0 < low <= high <= 1.0
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ValueError(
            "Expected crop_sides to be a pair (smallest, largest) with 0 < smallest <= largest "
            f"<= 1. Received: crop_sides={value!r}"
        )
    return low, high


def _as_list(judges: Any) -> list[Any]:
    if isinstance(judges, (str, bytes)) or not isinstance(judges, Sequence):
        judges = [judges]
    if not judges:
        raise ValueError("Expected judges to name at least one model. Received: judges=[]")
    return list(judges)


def _judge(judge: Any) -> Any:
    """A judging model with a fixed input size and a recorded value range."""
    if isinstance(judge, str):
        model = _load_judge(JUDGES.get(judge.casefold().replace("-", "_"), judge))
    else:
        model = judge
    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise ValueError(
            "Expected judges to be Keras models or names of models (short names: "
            f"{', '.join(JUDGES)}). Received: {judge!r}"
        )
    shape = tuple(inputs[0].shape)
    if len(shape) != 4 or shape[1] is None or shape[2] is None:
        raise ValueError(
            f"Expected judge '{model.name}' to take images of a fixed size. Received: input "
            f"shape {shape}"
        )
    if getattr(model, "xmaco_values_range", None) is None:
        raise ValueError(
            f"Expected judge '{model.name}' to record its input's value range in "
            "model.xmaco_values_range, e.g. (-1.0, 1.0), as the models of xmaco.zoo do. "
            "Received: no xmaco_values_range"
        )
    return model


@functools.lru_cache(maxsize=8)
def _load_judge(name: str) -> Any:
    # Imported here: the zoo pulls in the model code, which recognise() does not need.
    from xmaco import zoo

    try:
        return zoo.load(name)
    except ValueError as error:
        raise ValueError(
            f"Expected judges to be Keras models, short names ({', '.join(JUDGES)}) or "
            f"catalogue names. {error}"
        ) from None


def _check_classes(classes: list[int], model: Any) -> None:
    count = model.outputs[0].shape[-1]
    for target in classes:
        if target >= count:
            raise ValueError(
                f"Expected classes to be indices in [0, {count - 1}] (the outputs of judge "
                f"'{model.name}'). Received: {target}"
            )


def _crop_boxes(
    shape: tuple[int, int], count: int, crops: int, sides: tuple[float, float], seed: int
) -> list[np.ndarray]:
    """Per picture, ``crops`` boxes (top, left, side) in pixels, inside the picture."""
    height, width = shape
    shorter = min(height, width)
    generator = np.random.default_rng(seed)
    boxes = []
    for _ in range(count):
        side = np.maximum(1, np.rint(generator.uniform(*sides, crops) * shorter)).astype(int)
        top = generator.integers(0, height - side + 1)
        left = generator.integers(0, width - side + 1)
        boxes.append(np.stack([top, left, side], axis=-1).reshape(crops, 3))
    return boxes


def _judge_picture(
    model: Any,
    picture: np.ndarray,
    boxes: np.ndarray,
    fraction: float,
    target: int,
    index: int,
    batch_size: int,
) -> Judgement:
    size = tuple(int(n) for n in model.inputs[0].shape[1:3])
    height, width = picture.shape[:2]
    side = max(1, round(min(height, width) * fraction))
    regions = [((height - side) // 2, (width - side) // 2, side), *map(tuple, boxes)]
    low, high = model.xmaco_values_range
    channels = int(model.inputs[0].shape[-1])
    if picture.shape[-1] == 1 and channels == 3:
        picture = np.repeat(picture, 3, axis=-1)
    if picture.shape[-1] != channels:
        raise ValueError(
            f"Expected images with {channels} channels (or 1) for judge '{model.name}'. "
            f"Received: {picture.shape[-1]} channels"
        )
    # Equal batches (33 views in batches of at most 16: 11, 11, 11), so that the compiled
    # predict function of predict_on_batch is traced for one batch shape, not two.
    per_batch = math.ceil(len(regions) / math.ceil(len(regions) / batch_size))
    rows = []
    for start in range(0, len(regions), per_batch):
        batch = [
            tf.image.resize(
                picture[top : top + length, left : left + length],
                size,
                method="bilinear",
                antialias=True,
            )
            for top, left, length in regions[start : start + per_batch]
        ]
        inputs = low + tf.stack(batch) * (high - low)
        rows.append(np.asarray(model.predict_on_batch(inputs)))
    outputs = np.concatenate(rows)
    probabilities = outputs if _ends_in_softmax(model) else _softmax(outputs)
    centre = probabilities[0]
    order = np.argsort(-centre, kind="stable")
    crop_top1 = (
        float(np.mean(np.argmax(probabilities[1:], axis=-1) == target))
        if len(regions) > 1
        else float("nan")
    )
    return Judgement(
        picture=index,
        judge=model.name,
        target=target,
        probability=float(centre[target]),
        rank=int(np.flatnonzero(order == target)[0]) + 1,
        top=tuple(int(c) for c in order[:5]),
        crop_top1=crop_top1,
    )


# ---------------------------------------------------------------------------- hold
@dataclasses.dataclass(frozen=True)
class Hold:
    """How well each visualization holds: its objective on fresh random crops of itself.

    Attributes
    ----------
    names
        One name per visualization (the objective's).
    scores
        float array (N, crops): the objective of visualization ``i`` on each crop.
    mean
        float array (N,): the mean over the crops, the hold number.
    std
        float array (N,): the spread over the crops (standard deviation).
    crop_sides
        The range of crop sides drawn, as fractions of the picture's shorter side.
    seed
        The seed of the crops; the same seed gives the same crops on any picture.

    Example
    -------
    >>> import numpy as np
    >>> held = Hold(["conv:channel 0"], np.array([[1.0, 3.0]]), np.array([2.0]),
    ...             np.array([1.0]), (0.25, 0.5), 0)
    >>> print(held)
    conv:channel 0: 2 +- 1 (2 crops)
    """

    names: list[str]
    scores: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    crop_sides: tuple[float, float]
    seed: int

    def __str__(self) -> str:
        count = self.scores.shape[1]
        return "\n".join(
            f"{name}: {mean:.4g} +- {std:.2g} ({count} crops)"
            for name, mean, std in zip(self.names, self.mean, self.std, strict=True)
        )


def hold(
    objective: Any,
    pictures: Result | np.ndarray,
    *,
    crops: int = 32,
    crop_sides: tuple[float, float] = (0.25, 0.5),
    seed: int = 0,
    model_input_size: int | tuple[int, int] | None = None,
    batch_size: int = 16,
) -> Hold:
    """Score each visualization on ``crops`` fresh random crops of itself: does it hold?

    An optimised picture can score high only on the views the optimisation saw. Cropping it
    afresh (square crops of random side and position, resized to the model input, as the
    optimisation's own crops) and reading the objective on each crop tells whether the unit's
    pattern fills the picture. The crops depend only on ``seed`` and the canvas size, so two
    pictures of the same size (MACO and Fourier on one unit) are read on the same crops.
    :func:`transfer` asks other networks about a picture; ``hold`` asks the objective itself.

    Parameters
    ----------
    objective
        The :class:`xmaco.Objective` the pictures were made for; visualization ``i`` is scored
        by its term ``i`` (a batch-1 objective scores every picture).
    pictures
        A :class:`xmaco.Result`, or an array (N, H, W, C) or (H, W, C) in the model's value
        range.
    crops
        Crops per picture (default 32).
    crop_sides
        ``(smallest, largest)`` crop side as a fraction of the picture's shorter side, drawn
        uniformly (default ``(0.25, 0.5)``, as :func:`transfer`).
    seed
        Seed of the crops (default 0).
    model_input_size
        ``(height, width)`` the crops are resized to, for a model whose input size is not
        fixed; default: the model's input size.
    batch_size
        Crops per model call (memory, not results).

    Returns
    -------
    Hold
        The scores, their mean (the hold number) and spread per visualization.

    Raises
    ------
    ValueError
        If the pictures do not match the objective's batch or the model's channels, or an
        argument is out of range; the message names the argument.
    TypeError
        If ``objective`` is not an Objective.

    Example
    -------
    >>> import keras, numpy as np, xmaco
    >>> model = keras.Sequential([keras.Input((16, 16, 3)),
    ...                           keras.layers.Conv2D(2, 3, name="conv")])
    >>> objective = xmaco.Objective.channel(model, "conv", [0, 1])
    >>> pictures = np.random.default_rng(0).random((2, 32, 32, 3)).astype("float32")
    >>> held = hold(objective, pictures, crops=4)
    >>> held.scores.shape, held.mean.shape
    ((2, 4), (2,))
    """
    from .objectives import Objective

    if not isinstance(objective, Objective):
        raise TypeError(
            "Expected objective to be an xmaco.Objective. Received: objective of type "
            f"{type(objective).__name__}"
        )
    images = _hold_pictures(pictures, objective)
    crops = _count(crops, "crops", 1)
    batch_size = _count(batch_size, "batch_size", 1)
    low, high = _crop_sides(crop_sides)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"Expected seed to be an integer. Received: seed={seed!r}")
    size = _hold_input_size(objective.model, model_input_size)

    # One set of boxes for every picture: pictures of one size are read on the same crops.
    height, width = images.shape[1:3]
    top, left, side = _crop_boxes((height, width), 1, crops, (low, high), int(seed))[0].T
    # crop_and_resize maps a normalised coordinate c to the pixel c * (size - 1).
    boxes = np.stack(
        [
            top / max(height - 1, 1),
            left / max(width - 1, 1),
            (top + side - 1) / max(height - 1, 1),
            (left + side - 1) / max(width - 1, 1),
        ],
        axis=-1,
    ).astype(np.float32)

    compiled = objective.compile()
    count = len(images)
    owners = np.repeat(np.arange(count, dtype=np.int32), crops)
    all_boxes = np.tile(boxes, (count, 1))
    scores = []
    canvas = tf.constant(images)
    for start in range(0, len(owners), batch_size):
        rows = owners[start : start + batch_size]
        chosen = all_boxes[start : start + batch_size]
        views = tf.image.crop_and_resize(canvas, chosen, rows, size, method="bilinear")
        scores.append(np.asarray(compiled.scores(views, tf.constant(rows), tf.constant(chosen))))
    table = np.concatenate(scores).astype(np.float64).reshape(count, crops)
    names = objective.names if objective.batch_size == count else [objective.names[0]] * count
    return Hold(
        names=list(names),
        scores=table,
        mean=table.mean(axis=1),
        std=table.std(axis=1),
        crop_sides=(low, high),
        seed=int(seed),
    )


def _hold_pictures(pictures: Any, objective: Any) -> np.ndarray:
    images = pictures.images if isinstance(pictures, Result) else pictures
    try:
        images = np.asarray(images, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(
            "Expected pictures to be an xmaco.Result or an array (N, H, W, C). Received: "
            f"pictures of type {type(pictures).__name__}"
        ) from None
    if images.ndim == 3:
        images = images[None]
    channels = int(objective.model.inputs[0].shape[-1])
    if images.ndim != 4 or images.shape[-1] != channels or min(images.shape[:3]) < 1:
        raise ValueError(
            f"Expected pictures to be an array (N, H, W, {channels}). Received: shape "
            f"{images.shape}"
        )
    if objective.batch_size not in (1, len(images)):
        raise ValueError(
            f"Expected pictures to hold one picture per visualization of the objective "
            f"({objective.batch_size}). Received: {len(images)} pictures"
        )
    if not np.isfinite(images).all():
        raise ValueError("Expected pictures to be finite. Received: NaN or infinite values")
    return images


def _hold_input_size(model: Any, model_input_size: Any) -> tuple[int, int]:
    if model_input_size is None:
        shape = tuple(model.inputs[0].shape)
        if shape[1] is None or shape[2] is None:
            raise ValueError(
                f"Expected model_input_size=(height, width) for model '{model.name}', whose "
                f"input size is not fixed. Received: model_input_size=None (input shape {shape})"
            )
        return int(shape[1]), int(shape[2])
    sides = (model_input_size,) * 2 if isinstance(model_input_size, int) else model_input_size
    try:
        height, width = (int(v) for v in sides)
        valid = height >= 1 and width >= 1 and not isinstance(model_input_size, bool)
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ValueError(
            "Expected model_input_size to be a positive int or a (height, width) pair. "
            f"Received: model_input_size={model_input_size!r}"
        )
    return height, width
