"""The average magnitude of your own images, read one at a time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import cv2
import numpy as np

from ..color import decorrelate
from ._natural import LUMINANCE
from ._validation import canvas_side, channel_count


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
    height = canvas_side(height, "height")
    width = canvas_side(width, "width")
    if channels is not None:
        channels = channel_count(channels, "channels")
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
        return pixels @ LUMINANCE[:, None]
    return pixels
