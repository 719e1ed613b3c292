"""What self-recognition, transfer and hold share: the central square, random crop boxes,
probabilities from a classifier's outputs and the rank of a class."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..objectives import _applies_softmax


def centre_box(height: int, width: int, fraction: float) -> tuple[int, int, int]:
    """(top, left, side) of the central square of side ``fraction`` of the shorter side.

    Example
    -------
    >>> centre_box(10, 20, 0.5)
    (2, 7, 5)
    """
    side = max(1, round(min(height, width) * fraction))
    return (height - side) // 2, (width - side) // 2, side


def crop_boxes(
    shape: tuple[int, int], count: int, crops: int, sides: tuple[float, float], seed: int
) -> list[np.ndarray]:
    """Per picture, ``crops`` boxes (top, left, side) in pixels, inside the picture.

    Example
    -------
    >>> (boxes,) = crop_boxes((32, 32), 1, 4, (0.25, 0.5), seed=0)
    >>> boxes.shape, bool(((boxes[:, :2] + boxes[:, 2:]) <= 32).all())
    ((4, 3), True)
    """
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


def check_crop_sides(value: Any) -> tuple[float, float]:
    """``crop_sides`` as ``(smallest, largest)`` with 0 < smallest <= largest <= 1.

    Example
    -------
    >>> check_crop_sides([0.25, 0.5])
    (0.25, 0.5)
    """
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


def check_class_indices(classes: list[Any], model: Any = None, owner: str = "model") -> None:
    """Check that every entry of ``classes`` is a class index: an integer (not a bool) >= 0,
    and below ``model``'s number of outputs when a model is given (``owner`` names its role).

    Example
    -------
    >>> check_class_indices([1, -2])
    Traceback (most recent call last):
    ...
    ValueError: Expected classes to be non-negative class indices. Received: -2 in classes=[1, -2]
    """
    count = None if model is None else model.outputs[0].shape[-1]
    for target in classes:
        integral = isinstance(target, numbers.Integral) and not isinstance(target, bool)
        if not integral or target < 0 or (count is not None and target >= count):
            expected = (
                "non-negative class indices"
                if count is None
                else f"indices in [0, {count - 1}] (the outputs of {owner} '{model.name}')"
            )
            raise ValueError(
                f"Expected classes to be {expected}. Received: {target!r} in classes={classes!r}"
            )


def probabilities(model: Any, outputs: np.ndarray) -> np.ndarray:
    """The class probabilities of ``model``'s outputs: a softmax of logits, unless the model's
    last layer already applies one.

    Example
    -------
    >>> import keras
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    >>> probabilities(model, np.array([[0.0, 0.0]]))
    array([[0.5, 0.5]])
    """
    if _applies_softmax(model.layers[-1]):
        return outputs
    shifted = np.exp(outputs - outputs.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def ranking(row: np.ndarray, target: int) -> tuple[np.ndarray, int]:
    """The classes of one probability row, most probable first, and the rank of ``target``
    among them (1 = the most probable).

    Example
    -------
    >>> order, rank = ranking(np.array([0.2, 0.5, 0.3]), 2)
    >>> order.tolist(), rank
    ([1, 2, 0], 2)
    """
    order = np.argsort(-row, kind="stable")
    return order, int(np.flatnonzero(order == target)[0]) + 1
