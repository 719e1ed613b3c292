"""Spectra in ``.npy`` files, and the ``spectrum=`` argument of :func:`xmaco.maco` made an array."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..files import atomic_write
from ._natural import natural
from ._resize import resize
from ._validation import canvas_side, channel_count, validated


def save(path: str | os.PathLike, spectrum: np.ndarray) -> Path:
    """Write a magnitude spectrum to a ``.npy`` file, atomically, as float32.

    ``.npy`` is appended to ``path`` when it has another suffix, as ``numpy.save`` does.

    Returns
    -------
    Path
        The file written.

    Example
    -------
    >>> import pathlib, tempfile
    >>> from xmaco.spectrum import load, natural, save
    >>> target = save(pathlib.Path(tempfile.mkdtemp()) / "mine", natural(64, 64))
    >>> target.name, load(target).shape
    ('mine.npy', (3, 64, 33))
    """
    array = validated(np.asarray(spectrum), "spectrum")
    path = Path(path)
    if path.suffix != ".npy":
        path = path.with_name(path.name + ".npy")
    with atomic_write(path) as handle:
        np.save(handle, array, allow_pickle=False)
    return path


def load(path: str | os.PathLike) -> np.ndarray:
    """Read a magnitude spectrum from a ``.npy`` file (no pickles) and validate it.

    Raises
    ------
    ValueError
        Naming ``path`` when the file is missing, is not a ``.npy`` array, or does not hold a
        valid magnitude spectrum ``(C, H, W // 2 + 1)``, C = 1 or 3, finite, non-negative and
        not all zero.

    Example
    -------
    >>> import pathlib, tempfile
    >>> from xmaco.spectrum import load, natural, save
    >>> path = save(pathlib.Path(tempfile.mkdtemp()) / "natural.npy", natural(32, 32, 1))
    >>> load(path).shape
    (1, 32, 17)
    """
    return validated(read(path, "path"), "path", where=f"='{path}'")


def resolve(spectrum: Any, height: int, width: int, channels: int) -> np.ndarray:
    """Turn the ``spectrum=`` argument of :func:`xmaco.maco` into the canvas' magnitude.

    Parameters
    ----------
    spectrum
        None for :func:`natural`; a path (str or ``os.PathLike``) to a ``.npy`` file; or an
        array ``(channels, H', W' // 2 + 1)`` (NumPy, or anything ``numpy.asarray`` reads),
        finite, non-negative and not all zero. Files and arrays of another size are resized
        with :func:`resize`.
    height, width
        Canvas size, at least 8 each.
    channels
        3 (decorrelated colour) or 1 (grayscale).

    Returns
    -------
    np.ndarray
        float32, C-contiguous, shape ``(channels, height, width // 2 + 1)``, a new array.

    Raises
    ------
    ValueError
        Naming ``spectrum``, what was expected and what was received.
    TypeError
        When ``spectrum`` is none of the accepted kinds.

    Example
    -------
    >>> import numpy as np
    >>> from xmaco.spectrum import resolve
    >>> resolve(None, 64, 48, 3).shape
    (3, 64, 25)
    >>> resolve(np.ones((1, 8, 5)), 16, 16, 1).shape
    (1, 16, 9)
    """
    height = canvas_side(height, "height")
    width = canvas_side(width, "width")
    channels = channel_count(channels, "channels")
    if spectrum is None:
        return natural(height, width, channels)
    if isinstance(spectrum, (str, os.PathLike)):
        array = validated(read(spectrum, "spectrum"), "spectrum", channels, where=f"='{spectrum}'")
    elif isinstance(spectrum, (list, tuple)) or hasattr(spectrum, "__array__"):
        try:
            array = np.asarray(spectrum)
        except ValueError:
            raise ValueError(
                f"Expected spectrum to be an array of shape ({channels}, H, W // 2 + 1). "
                f"Received: spectrum={_short(spectrum)} (a ragged nested sequence)"
            ) from None
        array = validated(array, "spectrum", channels)
    else:
        raise TypeError(
            "Expected spectrum to be None, a path to a .npy file or an array of shape "
            f"({channels}, H, W // 2 + 1). Received: spectrum of type {type(spectrum).__name__}"
        )
    return resize(array, height, width)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def read(path: str | os.PathLike, name: str) -> np.ndarray:
    """Load the array of a ``.npy`` file, naming ``name`` in errors."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(
            f"Expected {name} to be an existing .npy file. Received: {name}='{path}' (no such file)"
        )
    try:
        array = np.load(path, allow_pickle=False)
    except Exception as error:
        # a damaged header can raise tokenize/syntax errors or ask for a huge allocation
        raise ValueError(
            f"Expected {name} to be a .npy file holding a magnitude spectrum. "
            f"Received: {name}='{path}' ({error})"
        ) from None
    if not isinstance(array, np.ndarray):
        array.close()
        raise ValueError(
            f"Expected {name} to be a .npy file holding one array. "
            f"Received: {name}='{path}' (an .npz archive)"
        )
    return array
