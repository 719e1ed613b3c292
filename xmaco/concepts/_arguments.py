"""Checks of the concept functions' arguments, with the project's error style."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .._checks import check_values_range
from ..engine import values_range_of
from ..objectives import _resolve_layer

__all__ = [
    "bounded_count",
    "class_layer_name",
    "class_of",
    "crop_range",
    "image_array",
    "input_range",
]


def bounded_count(value: Any, argument: str, low: int, high: int | None, what: str) -> int:
    """``value`` as an int in ``[low, high]`` (``what`` says where ``high`` comes from).

    Example
    -------
    >>> bounded_count(0, "rank", 1, 8, "min(n, c) = 8")
    Traceback (most recent call last):
    ...
    ValueError: Expected rank to be an integer >= 1 and <= 8 (min(n, c) = 8). Received: rank=0
    """
    valid = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not valid or value < low or (high is not None and value > high):
        bound = f"an integer >= {low}" + (f" and <= {high} ({what})" if high is not None else "")
        raise ValueError(f"Expected {argument} to be {bound}. Received: {argument}={value!r}")
    return int(value)


def input_range(chosen: Any, model: Any) -> tuple[float, float]:
    """``chosen``, else the range recorded on ``model``, else (0, 1), as ``(low, high)``."""
    if chosen is None:
        chosen = values_range_of(model) or (0.0, 1.0)
    return check_values_range(chosen)


def image_array(images: Any, channels: int) -> np.ndarray:
    """``images`` as a finite float32 (N, H, W, channels) array."""
    try:
        array = np.asarray(images, dtype=np.float32)
    except (TypeError, ValueError):
        array = np.zeros(0)
    if array.ndim != 4 or array.shape[-1] != channels or min(array.shape) == 0:
        raise ValueError(
            f"Expected images to be a folder or an array (N, H, W, {channels}). Received: "
            f"shape {np.shape(array)}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError("Expected images to be finite. Received: NaN or Inf values")
    return array


def crop_range(crop_size: Any) -> tuple[float, float]:
    """``crop_size`` (a fraction or a (low, high) range of fractions) as ``(low, high)``."""
    pair = (crop_size, crop_size) if isinstance(crop_size, numbers.Real) else crop_size
    try:
        low, high = (float(v) for v in pair)
    except (TypeError, ValueError):
        low, high = 0.0, 0.0
    if isinstance(crop_size, bool) or not 0.0 < low <= high <= 1.0:
        raise ValueError(
            "Expected crop_size to be a fraction in (0, 1] or a (low, high) range of them. "
            f"Received: crop_size={crop_size!r}"
        )
    return low, high


def class_layer_name(model: Any, layer: Any) -> str:
    """The name of the layer holding the class scores; None: the model's last layer."""
    if layer is None:
        return model.layers[-1].name
    name, _ = _resolve_layer(model, layer)
    return name


def class_of(class_index: Any, classes: int) -> tuple[int, str]:
    """``(index, name)`` of a class given by index or ImageNet name, among ``classes``."""
    if isinstance(class_index, str):
        from ..zoo import class_index as imagenet_index

        index = imagenet_index(class_index)
    elif isinstance(class_index, numbers.Integral) and not isinstance(class_index, bool):
        index = int(class_index)
    else:
        raise TypeError(
            "Expected class_index to be an int or an ImageNet class name. Received: "
            f"class_index={class_index!r}"
        )
    if not 0 <= index < classes:
        raise ValueError(
            f"Expected class_index to be in [0, {classes - 1}] (the class layer's units). "
            f"Received: class_index={class_index!r}"
        )
    if classes == 1000:
        from ..zoo import imagenet_classes

        return index, str(imagenet_classes()[index])
    return index, f"class {index}"
