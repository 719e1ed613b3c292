"""Argument checks shared by the public front doors, with the project's error style.

Each check returns the value in its canonical form or raises ``ValueError`` naming the
argument, what was expected and what was received, e.g.
``Expected crops to be a positive integer. Received: crops=0``. ``is_int`` and ``is_number``
are the type tests behind them, for checks that word their own message.

Example
-------
>>> check_count(3, "crops", minimum=1), check_fraction(0.5, "fraction")
(3, 0.5)
>>> check_values_range((0, 255))
(0.0, 255.0)
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "check_batch",
    "check_choice",
    "check_count",
    "check_file_path",
    "check_flag",
    "check_fraction",
    "check_images",
    "check_integer",
    "check_number",
    "check_values_range",
    "is_int",
    "is_number",
]


def check_choice(value: Any, argument: str, choices: Sequence[Any]) -> Any:
    """``value`` if it equals one of ``choices`` (a bool never stands for 1 or 0).

    Example
    -------
    >>> check_choice(None, "weights", ("imagenet", None)) is None
    True
    >>> check_choice(True, "channels", (1, 3))
    Traceback (most recent call last):
    ...
    ValueError: Expected channels to be 1 or 3. Received: channels=True
    """
    if isinstance(value, bool) and not any(choice is value for choice in choices):
        valid = False
    else:
        valid = value in tuple(choices)
    if not valid:
        listed = [repr(choice) for choice in choices]
        expected = " or ".join(listed) if len(listed) <= 2 else f"one of {', '.join(listed)}"
        raise ValueError(f"Expected {argument} to be {expected}. Received: {argument}={value!r}")
    return value


def check_flag(value: Any, argument: str) -> bool:
    """``value`` as a bool: True or False (NumPy's too), nothing else.

    Example
    -------
    >>> check_flag(1, "jit_compile")
    Traceback (most recent call last):
    ...
    TypeError: Expected jit_compile to be True or False. Received: jit_compile=1
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"Expected {argument} to be True or False. Received: {argument}={value!r}")
    return bool(value)


def check_count(value: Any, argument: str, minimum: int) -> int:
    """``value`` as an int >= ``minimum``, not a bool (NumPy integers are ints).

    Example
    -------
    >>> check_count(0, "crops", minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: Expected crops to be a positive integer. Received: crops=0
    >>> check_count(1, "rank", minimum=2)
    Traceback (most recent call last):
    ...
    ValueError: Expected rank to be an integer >= 2. Received: rank=1
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        expected = {0: "a non-negative integer", 1: "a positive integer"}.get(
            minimum, f"an integer >= {minimum}"
        )
        raise ValueError(f"Expected {argument} to be {expected}. Received: {argument}={value!r}")
    return int(value)


def check_integer(value: Any, argument: str) -> int:
    """``value`` as an int (any sign, NumPy integers included), not a bool or a float.

    Example
    -------
    >>> import numpy as np
    >>> check_integer(np.int64(-3), "seed")
    -3
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"Expected {argument} to be an integer. Received: {argument}={value!r}")
    return int(value)


def check_fraction(value: Any, argument: str) -> float:
    """``value`` as a float in (0, 1].

    Example
    -------
    >>> check_fraction(0.0, "fraction")
    Traceback (most recent call last):
    ...
    ValueError: Expected fraction to be a number in (0, 1]. Received: fraction=0.0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 < value <= 1.0:
        raise ValueError(
            f"Expected {argument} to be a number in (0, 1]. Received: {argument}={value!r}"
        )
    return float(value)


def check_number(value: Any, argument: str, minimum: float) -> float:
    """``value`` as a float >= ``minimum``, not a bool (NaN is refused).

    Example
    -------
    >>> check_number(2, "cossim_pow", minimum=0.0)
    2.0
    >>> check_number(-1, "cossim_pow", minimum=0.0)
    Traceback (most recent call last):
    ...
    ValueError: Expected cossim_pow to be a number >= 0.0. Received: cossim_pow=-1
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= minimum:
        raise ValueError(
            f"Expected {argument} to be a number >= {minimum}. Received: {argument}={value!r}"
        )
    return float(value)


def check_values_range(values_range: Any) -> tuple[float, float]:
    """``values_range`` as a pair of floats ``(low, high)`` with ``low < high``.

    Example
    -------
    >>> check_values_range((1, 0))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Expected values_range to be a pair (low, high) with low < high. Received: ...
    """
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


def check_file_path(path: Any, suffixes: tuple[str, ...] | None) -> Path:
    """``path`` (a str or ``os.PathLike``) as a ``Path`` that names a file, not a directory,
    ending in one of ``suffixes`` (any ending when None).

    Example
    -------
    >>> check_file_path("run.gif", (".gif", ".mp4")).name
    'run.gif'
    >>> check_file_path("run.avi", (".gif", ".mp4"))
    Traceback (most recent call last):
    ...
    ValueError: Expected path to end in one of ('.gif', '.mp4'). Received: path='run.avi'
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(
            f"Expected path to be a str or os.PathLike. Received: {type(path).__name__}"
        )
    path = Path(path)
    if suffixes is not None and path.suffix.lower() not in suffixes:
        expected = f"'{suffixes[0]}'" if len(suffixes) == 1 else f"one of {suffixes}"
        raise ValueError(f"Expected path to end in {expected}. Received: path='{path}'")
    if path.is_dir():
        raise ValueError(f"Expected path to name a file. Received: path='{path}' (a directory)")
    return path


def check_images(image: Any, channels: int, argument: str = "image") -> np.ndarray:
    """``image``, one image (H, W, C) or a batch (N, H, W, C) with C == ``channels``, as a
    finite float32 batch (N, H, W, C); errors name ``argument``.

    Example
    -------
    >>> check_images(np.zeros((4, 6, 3)), channels=3).shape
    (1, 4, 6, 3)
    >>> check_images(np.zeros((4, 6, 1)), channels=3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Expected image to have shape (H, W, 3) or (N, H, W, 3) ... Received: shape (4, 6, 1)
    """
    images = check_batch(image, argument, ("H", "W"), channels, "the model's input channels")
    if not np.all(np.isfinite(images)):
        raise ValueError(f"Expected {argument} to be finite. Received: an image with NaN or Inf")
    return images


def check_batch(
    value: Any, argument: str, axes: tuple[str, ...], channels: int, meaning: str
) -> np.ndarray:
    """``value``, one array of shape ``(*axes, channels)`` or a batch ``(N, *axes, channels)``
    of them, as a float32 batch; ``meaning`` says what fixes ``channels``, for the error.

    Example
    -------
    >>> check_batch([1.0, 2.0], "vector", (), 2, "the channels of the layer").shape
    (1, 2)
    >>> check_batch("abc", "vector", (), 2, "the channels of the layer")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: Expected vector to be an array of shape (2,) or (N, 2). Received: vector of type ...
    """
    one, batch = _shape_text((*axes, str(channels))), _shape_text(("N", *axes, str(channels)))
    try:
        array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        text = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        raise TypeError(
            f"Expected {argument} to be an array of shape {one} or {batch}. Received: "
            f"{argument} of type {type(value).__name__} ({argument}={text})"
        ) from None
    if array.ndim == len(axes) + 1:
        array = array[None]
    if array.ndim != len(axes) + 2 or array.shape[-1] != channels or min(array.shape) == 0:
        raise ValueError(
            f"Expected {argument} to have shape {one} or {batch} ({meaning}). "
            f"Received: shape {np.shape(value)}"
        )
    return array


def is_int(value: Any) -> bool:
    """True for an int or a NumPy integer, False for a bool, a float or anything else.

    Example
    -------
    >>> is_int(np.int32(3)), is_int(True), is_int(3.0)
    (True, False, False)
    """
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """True for an int, a float or their NumPy kinds; False for a bool or anything else.

    Example
    -------
    >>> is_number(np.float32(0.5)), is_number(False), is_number("1")
    (True, False, False)
    """
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def _shape_text(axes: tuple[str, ...]) -> str:
    return f"({axes[0]},)" if len(axes) == 1 else f"({', '.join(axes)})"
