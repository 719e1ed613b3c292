"""The default magnitude: an analytic model of natural photographs, at any canvas size.

Example
-------
>>> natural(16, 16).shape
(3, 16, 9)
"""

from __future__ import annotations

import functools

import numpy as np

from ..color import recorrelate_matrix
from ._validation import canvas_side, channel_count

# The default model, per decorrelated channel c and frequency f = sqrt(fx^2 + fy^2) in cycles
# per pixel, on an H x W canvas:
#   A_c(f) = sqrt(H W) * SCALE_c * (f + OFFSET) ** -EXPONENT_c * AXIS_GAIN**[fx = 0 or fy = 0]
#            / (1 + (f / ROLLOFF) ** ROLLOFF_ORDER)                              for f > 0
#   A_c(0) = H W * DC_c
# The constants were fitted by tools/make_default_spectrum.py to eight colour photographs that
# ship with matplotlib, scikit-image and scikit-learn, first brought to the size of an average
# ImageNet photo (140,000 pixels) and then bilinearly to a 512 x 512 canvas, as ImageNet photos
# are. Eight of them, which a few photos cannot pin down (the channel scales: the colour balance
# of a large collection; the roll-off: how much its resampling and compression soften the top
# octave; the zero frequency: the spread of a million photos' mean colours), were then
# calibrated on the ImageNet average magnitude (``--calibrate``); nothing of that array ships.
# docs/spectrum.md gives the photos, the accuracy, and what the zero frequency does to
# transfer (docs/benchmarks.md, section 6).
# The scale is that of images standardised to unit contrast, as :func:`estimate` measures them.
_SCALE = (0.079456, 0.058633, 0.069898)
_EXPONENT = (1.1702, 1.2450, 1.1517)
_OFFSET = 0.0007115
_AXIS_GAIN = 1.6763
_ROLLOFF = 0.1670
_ROLLOFF_ORDER = 2.1475
_DC = (0.7036, 0.7435, 0.6285)


# Rec. 601 luma weights: the grayscale magnitude is that of the luminance of the RGB model.
LUMINANCE = np.array([0.299, 0.587, 0.114])


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
    height = canvas_side(height, "height")
    width = canvas_side(width, "width")
    channels = channel_count(channels, "channels")
    return _natural(height, width, channels).copy()


@functools.lru_cache(maxsize=16)
def _natural(height: int, width: int, channels: int) -> np.ndarray:
    magnitude = analytic_model(
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
        weights = recorrelate_matrix().astype(np.float64) @ LUMINANCE
        magnitude = np.sqrt(np.tensordot(weights**2, magnitude**2, axes=1))[None]
    magnitude = np.ascontiguousarray(magnitude, dtype=np.float32)
    magnitude.setflags(write=False)
    return magnitude


def analytic_model(
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
