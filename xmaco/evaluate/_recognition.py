"""Self-recognition: the model that made the visualizations classifies their central part."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from .._checks import check_count, check_fraction
from ..result import Result
from ._common import centre_box, check_class_indices, probabilities, ranking

__all__ = ["Recognition", "recognise"]


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
    fraction = check_fraction(fraction, "fraction")
    k = check_count(k, "k", minimum=1)
    shape = tuple(model.inputs[0].shape)
    if shape[1] is None or shape[2] is None:
        raise ValueError(
            f"Expected model '{model.name}' to have a fixed input size. Received: input shape "
            f"{shape}"
        )
    check_class_indices(classes, model)
    outputs = np.asarray(model(_centres(result.images, fraction, shape[1:3]), training=False))
    found = []
    for target, row in zip(classes, probabilities(model, outputs), strict=True):
        order, rank = ranking(row, target)
        found.append(
            Recognition(
                target=int(target),
                top=[int(c) for c in order[:k]],
                probabilities=[float(row[c]) for c in order[:k]],
                target_probability=float(row[target]),
                target_rank=rank,
            )
        )
    return found


def _centres(images: np.ndarray, fraction: float, size: tuple[int, int]) -> tf.Tensor:
    top, left, side = centre_box(*images.shape[1:3], fraction)
    centre = images[:, top : top + side, left : left + side, :]
    return tf.image.resize(centre, size, method="bilinear", antialias=True)
