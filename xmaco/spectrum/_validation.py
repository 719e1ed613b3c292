"""Checks of the spectra and canvas sizes that the functions of :mod:`xmaco.spectrum` receive.

Example
-------
>>> validated(np.ones((1, 8, 5)), "spectrum").dtype
dtype('float32')
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import check_choice

# The smallest canvas, as in the engine: spectra and sizes below it are rejected.
MINIMUM_SIZE = 8


def validated(
    array: np.ndarray, name: str, channels: int | None = None, where: str = ""
) -> np.ndarray:
    """Check that ``array`` is a magnitude spectrum; return it as float32, C-contiguous."""
    expected_channels = "1 or 3" if channels is None else str(channels)
    received = f"Received: {name}{where} with shape {array.shape}"
    if array.ndim != 3 or array.shape[0] not in ((1, 3) if channels is None else (channels,)):
        raise ValueError(
            f"Expected {name} to be a magnitude spectrum of shape (C, H, W // 2 + 1) with "
            f"C = {expected_channels}. {received}"
        )
    if array.shape[1] < MINIMUM_SIZE or array.shape[2] < MINIMUM_SIZE // 2 + 1:
        raise ValueError(
            f"Expected {name} to come from a canvas of at least {MINIMUM_SIZE} x "
            f"{MINIMUM_SIZE}: at least {MINIMUM_SIZE} rows and {MINIMUM_SIZE // 2 + 1} "
            f"columns. {received}"
        )
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"Expected {name} to hold real numbers. {received}, dtype {array.dtype}")
    if np.iscomplexobj(array):
        raise ValueError(
            f"Expected {name} to hold real magnitudes (take numpy.abs of a complex spectrum). "
            f"{received}, dtype {array.dtype}"
        )
    array = np.ascontiguousarray(array, dtype=np.float32)
    finite = np.isfinite(array)
    if not finite.all():
        raise ValueError(
            f"Expected {name} to hold finite values. {received} and "
            f"{int(array.size - finite.sum())} NaN or infinite values"
        )
    if (array < 0).any():
        raise ValueError(
            f"Expected {name} to be non-negative (a magnitude). {received} and "
            f"{int((array < 0).sum())} negative values, the lowest {float(array.min()):g}"
        )
    if not array.any():
        raise ValueError(f"Expected {name} to have some non-zero magnitude. {received}, all zero")
    return array


def canvas_side(value: Any, name: str) -> int:
    expected = f"Expected {name} to be an integer >= {MINIMUM_SIZE}. Received: {name}={value!r}"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(expected)
    if value < MINIMUM_SIZE:
        raise ValueError(expected)
    return int(value)


def channel_count(value: Any, name: str) -> int:
    return int(check_choice(value, name, (1, 3)))
