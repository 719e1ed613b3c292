"""Errors raised by a run that stopped early; each carries the partial ``Result``."""

from __future__ import annotations

from typing import Any

__all__ = ["NonFiniteError", "OutOfMemoryError"]


class NonFiniteError(FloatingPointError):
    """The objective became NaN or Inf. ``error.result`` holds the last finite images.

    Example
    -------
    >>> try:
    ...     raise NonFiniteError("objective became nan at step 3")
    ... except FloatingPointError as error:
    ...     print(error, error.result)
    objective became nan at step 3 None
    """

    result: Any = None


class OutOfMemoryError(MemoryError):
    """The device ran out of memory. The message names the setting to change;
    ``error.result`` holds the images so far.

    Example
    -------
    >>> issubclass(OutOfMemoryError, MemoryError)
    True
    """

    result: Any = None
