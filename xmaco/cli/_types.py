"""Argument types shared by the ``xmaco`` subcommands: argparse prints their messages as the
command's one-line error (``argument --crops: expected a positive integer, received '0'``).

Example
-------
>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> _ = parser.add_argument("--crops", type=positive_int)
>>> parser.parse_args(["--crops", "4"]).crops
4
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = [
    "fraction",
    "neuron",
    "non_negative",
    "non_negative_int",
    "positive_int",
    "power_of_two",
    "prefix",
]


def positive_int(text: str) -> int:
    """``text`` as an integer >= 1.

    Example
    -------
    >>> positive_int("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a positive integer, received '0'
    """
    return _at_least(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    """``text`` as an integer >= 0.

    Example
    -------
    >>> non_negative_int("0"), non_negative_int("12")
    (0, 12)
    """
    return _at_least(text, 0, "a non-negative integer")


def power_of_two(text: str) -> int:
    """``text`` as a power of two >= 2.

    Example
    -------
    >>> power_of_two("32")
    32
    >>> power_of_two("24")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a power of two >= 2, received '24'
    """
    value = _at_least(text, 2, "a power of two >= 2")
    if value & (value - 1):
        raise argparse.ArgumentTypeError(f"expected a power of two >= 2, received {text!r}")
    return value


def fraction(text: str) -> float:
    """``text`` as a number in (0, 1].

    Example
    -------
    >>> fraction("0.5")
    0.5
    >>> fraction("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a number in (0, 1], received '0'
    """
    return _number(text, "a number in (0, 1]", lambda value: 0.0 < value <= 1.0)


def non_negative(text: str) -> float:
    """``text`` as a finite number >= 0.

    Example
    -------
    >>> non_negative("0.08")
    0.08
    >>> non_negative("nan")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a non-negative number, received 'nan'
    """
    return _number(text, "a non-negative number", lambda value: value >= 0.0)


def prefix(text: str) -> str:
    """``text`` as a file name prefix: checked when parsing, not by the export after the run.

    Example
    -------
    >>> prefix("run")
    'run'
    >>> prefix("a/b")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a file name prefix ... received prefix='a/b'
    """
    if text in ("", ".", "..") or any(separator in text for separator in "/\\"):
        raise argparse.ArgumentTypeError(
            f"expected a file name prefix without directory separators, received prefix={text!r}"
        )
    return text


def neuron(text: str) -> int | tuple[int, ...]:
    """``text`` as a flat unit index, or comma-separated coordinates (row, column, channel).

    Example
    -------
    >>> neuron("4"), neuron("3,3,12")
    (4, (3, 3, 12))
    """
    parts = text.split(",")
    try:
        coordinates = tuple(int(part) for part in parts)
    except ValueError:
        coordinates = (-1,)
    if any(c < 0 for c in coordinates):
        raise argparse.ArgumentTypeError(
            f"expected a non-negative index or comma-separated coordinates such as 3,3,12, "
            f"received {text!r}"
        )
    return coordinates[0] if len(coordinates) == 1 else coordinates


def _at_least(text: str, minimum: int, expected: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {expected}, received {text!r}")
    return value


def _number(text: str, expected: str, valid: Callable[[float], bool]) -> float:
    """``text`` as a finite number for which ``valid`` holds."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and valid(value)):
        raise argparse.ArgumentTypeError(f"expected {expected}, received {text!r}")
    return value
