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

__all__ = ["non_negative_int", "positive_int"]


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


def _at_least(text: str, minimum: int, expected: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {expected}, received {text!r}")
    return value
