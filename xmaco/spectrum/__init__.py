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

from ._estimate import estimate
from ._files import load, resolve, save
from ._natural import natural
from ._resize import resize

__all__ = ["natural", "estimate", "resize", "save", "load", "resolve"]
