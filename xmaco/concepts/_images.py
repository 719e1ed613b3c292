"""Reading a folder of images for :func:`xmaco.concepts.discover`."""

from __future__ import annotations

import numbers
import os
from pathlib import Path

import numpy as np

__all__ = ["load_images"]

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def load_images(
    folder: str | os.PathLike,
    size: int | tuple[int, int],
    values_range: tuple[float, float] = (0.0, 1.0),
    channels: int = 3,
) -> np.ndarray:
    """Read every image file of a folder: resized to cover ``size``, centre-cropped, scaled.

    Parameters
    ----------
    folder
        A folder of ``.jpg``, ``.jpeg``, ``.png``, ``.bmp``, ``.webp`` or ``.tif`` files (other
        files are ignored), read in name order.
    size
        (height, width) of every output image (an int for a square): each image is resized,
        keeping its aspect, to cover it, then its centre is cut out.
    values_range
        Pixel values 0..255 map linearly to (low, high).
    channels
        3 (RGB) or 1 (grey).

    Returns
    -------
    numpy.ndarray
        float32 (N, height, width, channels).

    Example
    -------
    >>> import cv2, numpy as np, tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> _ = cv2.imwrite(os.path.join(folder, "a.png"), np.zeros((30, 40, 3), np.uint8))
    >>> load_images(folder, 16, (-1.0, 1.0)).shape
    (1, 16, 16, 3)
    """
    import cv2

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(
            f"Expected images to be an array or a folder of images. Received: '{folder}' "
            "(not a folder)"
        )
    height, width = (size, size) if isinstance(size, numbers.Integral) else size
    low, high = (float(v) for v in values_range)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
    if not files:
        raise ValueError(
            f"Expected a folder holding image files ({', '.join(_IMAGE_SUFFIXES)}). Received: "
            f"'{folder}' (none found)"
        )
    out = np.zeros((len(files), height, width, channels), np.float32)
    for i, file in enumerate(files):
        pixels = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE if channels == 1 else cv2.IMREAD_COLOR)
        if pixels is None:
            raise ValueError(f"Expected a readable image file. Received: '{file}'")
        pixels = pixels[..., None] if channels == 1 else pixels[..., ::-1]
        scale = max(height / pixels.shape[0], width / pixels.shape[1])
        shape = (
            max(width, round(pixels.shape[1] * scale)),
            max(height, round(pixels.shape[0] * scale)),
        )
        resized = cv2.resize(pixels, shape, interpolation=cv2.INTER_AREA).reshape(
            shape[1], shape[0], channels
        )
        top, left = (shape[1] - height) // 2, (shape[0] - width) // 2
        out[i] = resized[top : top + height, left : left + width] / 255.0
    return low + (high - low) * out
