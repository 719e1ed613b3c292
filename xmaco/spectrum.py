"""Magnitude spectra for MACO: the natural default, estimation from images, resizing, files.

MACO fixes the Fourier magnitude of the image and optimises only its phase. A magnitude
spectrum is a float32 array of shape ``(C, H, W // 2 + 1)``: channels first, in the layout of
``numpy.fft.rfft2`` over the last two axes (rows in FFT order ``0 .. H/2, -H/2 .. -1``,
columns ``0 .. W/2``). ``C`` is 3 (the decorrelated colour space of :mod:`xmaco.color`) or 1
(grayscale). Xplique's spectra use this layout and are accepted as they are.

- :func:`natural` is the default: an analytic model of natural-image magnitudes whose
  constants were fitted to photographs (``tools/make_default_spectrum.py``), available at any
  canvas size without any file.
- :func:`estimate` averages the magnitudes of your own images.
- :func:`resize` resamples a spectrum to another canvas in frequency coordinates.
- :func:`save` / :func:`load` keep a spectrum in a ``.npy`` file.
- :func:`resolve` turns the ``spectrum=`` argument of :func:`xmaco.maco` into an array.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .color import decorrelate, recorrelate_matrix
from .files import atomic_write

__all__ = ["natural", "estimate", "resize", "save", "load", "resolve"]

# The default model, per decorrelated channel c and frequency f = sqrt(fx^2 + fy^2) in cycles
# per pixel, on an H x W canvas:
#   A_c(f) = sqrt(H W) * SCALE_c * (f + OFFSET) ** -EXPONENT_c * AXIS_GAIN**[fx = 0 or fy = 0]
#            / (1 + (f / ROLLOFF) ** ROLLOFF_ORDER)                              for f > 0
#   A_c(0) = H W * DC_c
# The constants were fitted by tools/make_default_spectrum.py to eight colour photographs that
# ship with matplotlib, scikit-image and scikit-learn, first brought to the size of an average
# ImageNet photo (140,000 pixels) and then bilinearly to a 512 x 512 canvas, as ImageNet photos
# are. Five of them, which a few photos cannot pin down (the channel scales: the colour balance
# of a large collection; the roll-off: how much its resampling and compression soften the top
# octave), were then calibrated on the ImageNet average magnitude (``--calibrate``); nothing of
# that array ships. docs/spectrum.md gives the photos and the accuracy.
# The scale is that of images standardised to unit contrast, as :func:`estimate` measures them.
_SCALE = (0.076302, 0.056144, 0.067548)
_EXPONENT = (1.1702, 1.2450, 1.1517)
_OFFSET = 0.0007115
_AXIS_GAIN = 1.6763
_ROLLOFF = 0.1747
_ROLLOFF_ORDER = 2.2414
_DC = (0.4204, 1.0955, 0.3909)

# The smallest canvas, as in the engine: spectra and sizes below it are rejected.
_MINIMUM_SIZE = 8

# Rec. 601 luma weights: the grayscale magnitude is that of the luminance of the RGB model.
_LUMINANCE = np.array([0.299, 0.587, 0.114])


def natural(height: int, width: int, channels: int = 3) -> np.ndarray:
    """Return the default natural-image magnitude for an ``height x width`` canvas.

    An analytic model of the average magnitude of natural photographs (a power law in
    frequency with a per-channel scale and exponent, extra energy on the horizontal and
    vertical axes and a high-frequency roll-off), evaluated on the canvas' frequency grid.
    Nothing is downloaded or read from a file. With ``channels=1`` the magnitude is that of
    the luminance (Rec. 601) of the colour model: the decorrelated channels are uncorrelated,
    so their magnitudes add in quadrature with the luminance weights of each channel.

    Parameters
    ----------
    height, width
        Canvas size in pixels, at least 8 each.
    channels
        3 (decorrelated colour space, the default) or 1 (grayscale).

    Returns
    -------
    np.ndarray
        float32 array of shape ``(channels, height, width // 2 + 1)``, a fresh copy.

    Example
    -------
    >>> from xmaco.spectrum import natural
    >>> natural(512, 512).shape
    (3, 512, 257)
    >>> natural(33, 47, channels=1).shape
    (1, 33, 24)
    """
    height = _size(height, "height")
    width = _size(width, "width")
    channels = _channel_count(channels, "channels")
    return _natural(height, width, channels).copy()


@functools.lru_cache(maxsize=16)
def _natural(height: int, width: int, channels: int) -> np.ndarray:
    magnitude = _model(
        height,
        width,
        scale=np.array(_SCALE),
        exponent=np.array(_EXPONENT),
        offset=_OFFSET,
        axis_gain=_AXIS_GAIN,
        rolloff=_ROLLOFF,
        rolloff_order=_ROLLOFF_ORDER,
        dc=np.array(_DC),
    )
    if channels == 1:
        weights = recorrelate_matrix().astype(np.float64) @ _LUMINANCE
        magnitude = np.sqrt(np.tensordot(weights**2, magnitude**2, axes=1))[None]
    magnitude = np.ascontiguousarray(magnitude, dtype=np.float32)
    magnitude.setflags(write=False)
    return magnitude


def _model(
    height: int,
    width: int,
    *,
    scale: np.ndarray,
    exponent: np.ndarray,
    offset: float,
    axis_gain: float,
    rolloff: float,
    rolloff_order: float,
    dc: np.ndarray,
) -> np.ndarray:
    """Evaluate the natural-image model (float64, one channel per entry of ``scale``).

    Shared with ``tools/make_default_spectrum.py``, which fits the constants.
    """
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    frequency = np.hypot(fx, fy)
    frequency[0, 0] = 1.0  # the zero frequency is set apart below; this avoids 0 ** -exponent
    on_axis = (fx == 0) | (fy == 0)
    shape = np.where(on_axis, axis_gain, 1.0) / (1.0 + (frequency / rolloff) ** rolloff_order)
    power_law = (frequency[None] + offset) ** -exponent[:, None, None]
    magnitude = np.sqrt(height * width) * scale[:, None, None] * power_law * shape[None]
    magnitude[:, 0, 0] = height * width * dc
    return magnitude


def estimate(
    images_or_dataset: Any, height: int, width: int, channels: int | None = None
) -> np.ndarray:
    """Average the Fourier magnitudes of your own images, on an ``height x width`` canvas.

    Images are read one at a time (the dataset is never held in memory). Each image is resized
    to the canvas (``cv2.INTER_AREA`` when it shrinks in both directions, bilinear otherwise),
    mapped to the decorrelated colour space (:func:`xmaco.color.decorrelate`) when RGB, or to
    its luminance when RGB images are asked for ``channels=1``, and divided by its own contrast
    (the root mean square of its deviations from its mean colour), so any value range works
    and every image weighs the same. The zero-frequency term records how far each image's mean
    colour lies from the mean colour of all images, in units of that image's contrast.
    Constant images carry no spectrum and are skipped.

    Parameters
    ----------
    images_or_dataset
        A NumPy array of images ``(N, H, W, C)`` or of one image ``(H, W, C)``; a
        ``tf.data.Dataset`` whose elements are such arrays or ``(images, labels)`` tuples; or
        any iterable of those (for instance a generator reading a folder). ``C`` is 3 (RGB) or
        1; images may differ in size.
    height, width
        Canvas size of the spectrum, at least 8 each.
    channels
        3 (decorrelated colour) or 1 (grayscale); by default that of the first image. RGB
        images give a grayscale spectrum with ``channels=1``.

    Returns
    -------
    np.ndarray
        float32 array of shape ``(channels, height, width // 2 + 1)``.

    Example
    -------
    >>> import numpy as np
    >>> from xmaco.spectrum import estimate
    >>> photos = np.random.default_rng(0).random((4, 64, 80, 3))
    >>> estimate(photos, 32, 32).shape
    (3, 32, 17)
    """
    height = _size(height, "height")
    width = _size(width, "width")
    if channels is not None:
        channels = _channel_count(channels, "channels")
    total: np.ndarray | None = None
    means: list[np.ndarray] = []
    contrasts: list[float] = []
    for image in _images(images_or_dataset):
        if channels is None:
            channels = image.shape[-1]
        canvas = _prepare(image, height, width, channels)
        mean = canvas.mean(axis=(0, 1))
        contrast = float(np.sqrt(np.mean((canvas - mean) ** 2)))
        if contrast == 0.0:
            continue
        magnitude = np.abs(np.fft.rfft2(canvas - mean, axes=(0, 1))) / contrast
        total = magnitude if total is None else total + magnitude
        means.append(mean)
        contrasts.append(contrast)
    if not means:
        raise ValueError(
            "Expected images_or_dataset to hold at least one image that is not constant. "
            "Received: no image, or only constant ones"
        )
    spectrum = np.moveaxis(total / len(means), -1, 0)
    means_array = np.stack(means)
    offsets = np.abs(means_array - means_array.mean(axis=0)) / np.array(contrasts)[:, None]
    spectrum[:, 0, 0] = height * width * offsets.mean(axis=0)
    return np.ascontiguousarray(spectrum, dtype=np.float32)


def _images(source: Any) -> Iterator[np.ndarray]:
    """Yield the images ``(H, W, C)`` of an array, a ``tf.data.Dataset`` or an iterable."""
    if hasattr(source, "as_numpy_iterator"):
        elements: Iterable[Any] = source.as_numpy_iterator()
    elif isinstance(source, np.ndarray) or hasattr(source, "__array__"):
        elements = [source]
    elif isinstance(source, Iterable) and not isinstance(source, (str, bytes)):
        elements = source
    else:
        raise TypeError(
            "Expected images_or_dataset to be a NumPy array of images, a tf.data.Dataset or an "
            f"iterable of images. Received: images_or_dataset of type {type(source).__name__}"
        )
    for element in elements:
        if isinstance(element, (tuple, list)) and element:
            element = element[0]
        if isinstance(element, dict):
            raise TypeError(
                "Expected images_or_dataset to yield images or (images, labels) tuples. "
                f"Received: a dict with keys {sorted(element)} (map it to the images first)"
            )
        batch = np.asarray(element)
        if batch.ndim == 3:
            batch = batch[None]
        if batch.ndim != 4 or batch.shape[-1] not in (1, 3) or min(batch.shape[1:3]) < 1:
            raise ValueError(
                "Expected images_or_dataset to hold images (H, W, C) or batches (N, H, W, C) "
                f"with C = 1 or 3. Received: an element of shape {np.shape(element)}"
            )
        yield from batch


def _prepare(image: np.ndarray, height: int, width: int, channels: int) -> np.ndarray:
    """Resize one image to the canvas and map it to the space of the spectrum (float64)."""
    if image.shape[-1] == 1 and channels == 3:
        raise ValueError(
            "Expected images_or_dataset to hold RGB images (C = 3) for channels=3. "
            f"Received: an image of shape {image.shape}"
        )
    pixels = image.astype(np.float32)
    if not np.isfinite(pixels).all():
        raise ValueError(
            "Expected images_or_dataset to hold finite values. "
            f"Received: an image of shape {image.shape} with NaN or infinite values"
        )
    shrinks = image.shape[0] >= height and image.shape[1] >= width
    interpolation = cv2.INTER_AREA if shrinks else cv2.INTER_LINEAR
    pixels = cv2.resize(pixels, (width, height), interpolation=interpolation)
    pixels = pixels.reshape(height, width, image.shape[-1]).astype(np.float64)
    if channels == 3:
        return decorrelate(pixels).astype(np.float64)
    if pixels.shape[-1] == 3:
        return pixels @ _LUMINANCE[:, None]
    return pixels


def resize(spectrum: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resample a magnitude spectrum to an ``height x width`` canvas.

    The spectrum is treated as a function of frequency in cycles per pixel: each bin of the
    new canvas takes the value of the source at the same frequency, interpolated bilinearly in
    log magnitude (geometric interpolation follows power-law spectra much more closely than a
    linear one). Rows are periodic (FFT order wraps from ``-1/H`` back to 0), so the wrap is
    interpolated across rather than through the middle of the array, the same as shifting
    zero to the centre (``fftshift``), interpolating and shifting back. A source of
    ``W' // 2 + 1`` columns is read as coming from an even width ``W' = 2 (columns - 1)``. The
    zero-frequency term is kept apart: it is not blurred into its neighbours, and new bins
    closer to zero than the source's first ones take the level of those first ones.

    Magnitudes also depend on the number of pixels: for a given content per pixel the
    zero-frequency term grows as ``H W`` and the others as ``sqrt(H W)``. Both are rescaled so
    the resized spectrum describes images with the same mean and the same contrast per pixel.
    MACO standardises its images, so only the relative magnitudes matter.

    Parameters
    ----------
    spectrum
        Magnitude spectrum ``(C, H', W' // 2 + 1)``, C = 1 or 3, from a canvas of at least 8 x 8.
    height, width
        Target canvas, at least 8 each.

    Returns
    -------
    np.ndarray
        float32 array of shape ``(C, height, width // 2 + 1)``, a new array.

    Example
    -------
    >>> from xmaco.spectrum import natural, resize
    >>> resize(natural(512, 512), 224, 224).shape
    (3, 224, 113)
    """
    source = _validated(np.asarray(spectrum), "spectrum")
    height = _size(height, "height")
    width = _size(width, "width")
    source_height, source_columns = source.shape[1:]
    source_width = 2 * (source_columns - 1)
    if (source_height, source_columns) == (height, width // 2 + 1):
        return source.copy()
    work = source.astype(np.float64)
    zero = work[:, 0, 0].copy()
    work[:, 0, 0] = (work[:, 0, 1] + work[:, 1, 0] + work[:, -1, 0]) / 3.0
    floor = max(1e-12 * work.max(), np.finfo(np.float64).tiny)
    work = np.log(work + floor)
    rows = np.fft.fftfreq(height) * source_height
    work = _interpolate(work, rows, source_height, axis=1, periodic=True)
    columns = np.fft.rfftfreq(width) * source_width
    work = _interpolate(work, columns, source_columns, axis=2, periodic=False)
    work = np.maximum(np.exp(work) - floor, 0.0)
    ratio = (height * width) / (source_height * source_width)
    work *= np.sqrt(ratio)
    work[:, 0, 0] = zero * ratio
    return np.ascontiguousarray(work, dtype=np.float32)


def _interpolate(
    values: np.ndarray, position: np.ndarray, length: int, axis: int, periodic: bool
) -> np.ndarray:
    """Linear interpolation of ``values`` along ``axis`` at fractional indices ``position``.

    Periodic indices wrap around ``length``; the others are clamped to the last index.
    """
    below = np.floor(position).astype(int)
    weight = np.expand_dims(position - below, [a for a in range(values.ndim) if a != axis])
    if periodic:
        above = (below + 1) % length
        below = below % length
    else:
        below = np.minimum(below, length - 1)
        above = np.minimum(below + 1, length - 1)
    return (1.0 - weight) * np.take(values, below, axis) + weight * np.take(values, above, axis)


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
    array = _validated(np.asarray(spectrum), "spectrum")
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
    return _validated(_read(path, "path"), "path", where=f"='{path}'")


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
    height = _size(height, "height")
    width = _size(width, "width")
    channels = _channel_count(channels, "channels")
    if spectrum is None:
        return natural(height, width, channels)
    if isinstance(spectrum, (str, os.PathLike)):
        array = _validated(
            _read(spectrum, "spectrum"), "spectrum", channels, where=f"='{spectrum}'"
        )
    elif isinstance(spectrum, (list, tuple)) or hasattr(spectrum, "__array__"):
        try:
            array = np.asarray(spectrum)
        except ValueError:
            raise ValueError(
                f"Expected spectrum to be an array of shape ({channels}, H, W // 2 + 1). "
                f"Received: spectrum={_short(spectrum)} (a ragged nested sequence)"
            ) from None
        array = _validated(array, "spectrum", channels)
    else:
        raise TypeError(
            "Expected spectrum to be None, a path to a .npy file or an array of shape "
            f"({channels}, H, W // 2 + 1). Received: spectrum of type {type(spectrum).__name__}"
        )
    return resize(array, height, width)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _read(path: str | os.PathLike, name: str) -> np.ndarray:
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


def _validated(
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
    if array.shape[1] < _MINIMUM_SIZE or array.shape[2] < _MINIMUM_SIZE // 2 + 1:
        raise ValueError(
            f"Expected {name} to come from a canvas of at least {_MINIMUM_SIZE} x "
            f"{_MINIMUM_SIZE}: at least {_MINIMUM_SIZE} rows and {_MINIMUM_SIZE // 2 + 1} "
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


def _size(value: Any, name: str) -> int:
    expected = f"Expected {name} to be an integer >= {_MINIMUM_SIZE}. Received: {name}={value!r}"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(expected)
    if value < _MINIMUM_SIZE:
        raise ValueError(expected)
    return int(value)


def _channel_count(value: Any, name: str) -> int:
    if isinstance(value, bool) or value not in (1, 3):
        raise ValueError(f"Expected {name} to be 1 or 3. Received: {name}={value!r}")
    return int(value)
