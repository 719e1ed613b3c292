"""The transfer score: what judges, networks that did not make the pictures, see in them."""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from .._checks import (
    check_choice,
    check_count,
    check_fraction,
    check_integer,
    check_values_range,
)
from ..result import Result
from ._common import check_class_indices, check_crop_sides, crop_boxes
from ._judges import DEFAULT_JUDGES, Judgement, as_judge, judge_picture

__all__ = ["Transfer", "transfer"]

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
        check_choice(judge, "judge", self.judges)
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
    crops = check_count(crops, "crops", minimum=0)
    batch_size = check_count(batch_size, "batch_size", minimum=1)
    fraction = check_fraction(fraction, "fraction")
    crop_sides = check_crop_sides(crop_sides)
    seed = check_integer(seed, "seed")
    models = [as_judge(judge) for judge in _as_list(judges)]
    names = [model.name for model in models]
    if len(set(names)) != len(names):
        raise ValueError(
            f"Expected judges to be different models. Received: judges named {names!r}"
        )
    boxes = crop_boxes(pictures.shape[1:3], len(pictures), crops, crop_sides, seed)
    found = {}
    for model in models:
        check_class_indices(classes, model, owner="judge")
        for index, (picture, target) in enumerate(zip(pictures, classes, strict=True)):
            found[index, model.name] = judge_picture(
                model, picture, boxes[index], fraction, target, index, batch_size
            )
    judgements = tuple(found[index, name] for index in range(len(pictures)) for name in names)
    return Transfer(judgements, tuple(names), crops, crop_sides, fraction, seed)


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
            low, high = (0.0, 1.0) if values_range is None else check_values_range(values_range)
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
    check_class_indices(listed)
    if len(listed) == 1:
        listed *= len(pictures)
    if len(listed) != len(pictures):
        raise ValueError(
            f"Expected classes to hold one class index, or {len(pictures)} (one per picture). "
            f"Received: classes={classes!r}"
        )
    return pictures.astype(np.float32), [int(target) for target in listed]


def _as_list(judges: Any) -> list[Any]:
    if isinstance(judges, (str, bytes)) or not isinstance(judges, Sequence):
        judges = [judges]
    if not judges:
        raise ValueError("Expected judges to name at least one model. Received: judges=[]")
    return list(judges)
