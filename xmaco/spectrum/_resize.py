"""Resampling a magnitude spectrum to another canvas, in frequency coordinates."""

from __future__ import annotations

import numpy as np

from ._validation import canvas_side, validated


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
    source = validated(np.asarray(spectrum), "spectrum")
    height = canvas_side(height, "height")
    width = canvas_side(width, "width")
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
