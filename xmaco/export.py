"""Write visualizations to disk: PNGs (8 or 16 bits, with the transparency as alpha) and bundles.

Every file is written atomically (``xmaco.files.atomic_write``): a reader never finds a
half-written PNG, and a failed write leaves no temporary file behind. The alpha channel
uses the same normalisation as ``xmaco.plot.overlay`` (``xmaco.plot.transparency_alpha``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ._checks import check_file_path
from ._display import (
    check_display,
    finite_array,
    image_array,
    normalize_image,
    overlaid,
    top_percentile,
    transparency_alpha,
)
from .files import atomic_write, ensure_writable_dir
from .result import Result

__all__ = ["save_overlay", "save_png", "save_result"]


def save_png(
    path: str | os.PathLike,
    image: np.ndarray,
    values_range: tuple[float, float] = (0.0, 1.0),
    transparency: np.ndarray | None = None,
    bits: int = 8,
    transparency_percentile: float = 80.0,
) -> Path:
    """Write an image as a PNG, optionally with its transparency map as the alpha channel.

    The image is mapped from ``values_range`` to the full integer range (values outside are
    clipped). With ``transparency``, the alpha channel is
    ``xmaco.plot.transparency_alpha(transparency, transparency_percentile)``: the channel
    mean of the raw map clipped at that percentile and divided by its maximum. A grayscale
    image is written as one channel, or as RGBA (grey in each colour) when it has an alpha.

    Parameters
    ----------
    path
        Destination, ending in ``.png``. Its directory is created if needed.
    image
        Array (H, W, C) with C = 1 or 3, or (H, W), e.g. ``result.images[i]``.
    values_range
        ``(low, high)``: the values mapped to black and white, e.g. ``result.values_range``.
    transparency
        Raw map (H, W, C) or (H, W), e.g. ``result.transparency[i]``; None for no alpha.
    bits
        8 or 16 bits per channel.
    transparency_percentile
        Percentile at which the map is clipped, in (0, 100].

    Returns
    -------
    pathlib.Path
        The written file.

    Example
    -------
    >>> import numpy as np, tempfile, os, cv2
    >>> target = os.path.join(tempfile.mkdtemp(), "dog.png")
    >>> _ = save_png(target, np.full((4, 4, 3), 0.5, "float32"),
    ...              transparency=np.ones((4, 4)), bits=16)
    >>> cv2.imread(target, cv2.IMREAD_UNCHANGED).shape
    (4, 4, 4)
    """
    path = check_file_path(path, (".png",))
    image = image_array(image, "image")
    low, high = _values_range(values_range)
    _check_bits(bits)
    top_percentile(transparency_percentile, "transparency_percentile")
    pixels = np.clip((image - low) / (high - low), 0.0, 1.0)
    if transparency is not None:
        raw_map = finite_array(transparency, "transparency")
        if raw_map.ndim not in (2, 3) or raw_map.shape[:2] != image.shape[:2]:
            raise ValueError(
                f"Expected transparency of shape {image.shape[:2]} or {image.shape[:2]} + (C,) "
                f"(the image's height and width). Received: transparency.shape={raw_map.shape}"
            )
        alpha = transparency_alpha(raw_map, transparency_percentile)
        colour = np.repeat(pixels, 3, axis=-1) if pixels.shape[-1] == 1 else pixels
        pixels = np.concatenate([colour, alpha[..., None]], axis=-1)
    _write_png(path, pixels, bits)
    return path


def save_overlay(
    path: str | os.PathLike,
    result_or_image: Result | np.ndarray,
    transparency: np.ndarray | None = None,
    index: int = 0,
    background: str = "white",
    image_percentiles: tuple[float, float] = (1.0, 99.0),
    transparency_percentile: float = 80.0,
) -> Path:
    """Write the image and its overlay side by side in one 8-bit PNG: ``[image | overlay]``.

    Both halves are the pixels ``xmaco.plot.overlay`` would show: the image clipped at
    ``image_percentiles`` and rescaled to [0, 1]; on the right, blended over the background
    with the normalised transparency as alpha.

    Parameters
    ----------
    path
        Destination, ending in ``.png``.
    result_or_image
        A ``Result`` (visualization ``index``) or an image array (H, W, C) / (H, W).
    transparency
        The raw map (H, W, C) or (H, W); required with an image array, None with a Result.
    index, background, image_percentiles, transparency_percentile
        As in ``xmaco.plot.overlay``.

    Returns
    -------
    pathlib.Path
        The written file, an image of shape (H, 2 W, C).

    Example
    -------
    >>> import numpy as np, tempfile, os, cv2
    >>> target = os.path.join(tempfile.mkdtemp(), "side.png")
    >>> _ = save_overlay(target, np.random.rand(8, 8, 3), transparency=np.random.rand(8, 8))
    >>> cv2.imread(target).shape
    (8, 16, 3)
    """
    path = check_file_path(path, (".png",))
    display = (background, image_percentiles, transparency_percentile)
    image, blended = overlaid(result_or_image, transparency, index, *display)
    plain = normalize_image(image, image_percentiles)
    _write_png(path, np.concatenate([plain, blended], axis=1), 8)
    return path


def save_result(
    directory: str | os.PathLike,
    result: Result,
    prefix: str = "xmaco",
    bits: int = 8,
    background: str = "white",
    image_percentiles: tuple[float, float] = (1.0, 99.0),
    transparency_percentile: float = 80.0,
) -> list[Path]:
    """Write everything a run produced into ``directory``.

    For each visualization ``i`` (numbered with at least two digits):

    - ``<prefix>_<i>.png``: the image, mapped from ``result.values_range`` (``save_png``);
    - ``<prefix>_<i>_alpha.png``: the same image with the transparency as alpha channel;
    - ``<prefix>_<i>_overlay.png``: image and overlay side by side (``save_overlay``);

    then the bundle ``<prefix>.npz`` + ``<prefix>.json`` (``Result.save``), from which
    ``Result.load`` restores the run exactly.

    Parameters
    ----------
    directory
        Created if needed; must be writable.
    result
        The run to export.
    prefix
        File name prefix, without directory separators.
    bits
        8 or 16 bits per channel for the image and alpha PNGs (overlays are 8-bit).
    background, image_percentiles, transparency_percentile
        As in ``xmaco.plot.overlay``.

    Returns
    -------
    list of pathlib.Path
        The written files: three PNGs per visualization, then the .npz and the .json.

    Example
    -------
    >>> import numpy as np, tempfile
    >>> r = Result(images=np.random.rand(2, 8, 8, 3).astype("float32"),
    ...            transparency=np.random.rand(2, 8, 8, 3).astype("float32"),
    ...            history=np.zeros((3, 2), "float32"), names=["a", "b"], config={})
    >>> [p.name for p in save_result(tempfile.mkdtemp(), r)][:3]
    ['xmaco_00.png', 'xmaco_00_alpha.png', 'xmaco_00_overlay.png']
    """
    if not isinstance(result, Result):
        raise TypeError(f"Expected result to be an xmaco Result. Received: {type(result).__name__}")
    if not isinstance(prefix, str) or not prefix or any(sep in prefix for sep in "/\\"):
        raise ValueError(
            "Expected prefix to be a non-empty file name prefix without directory separators. "
            f"Received: prefix={prefix!r}"
        )
    _check_bits(bits)
    check_display(background, image_percentiles, transparency_percentile)
    directory = ensure_writable_dir(directory, argument="directory")
    digits = max(2, len(str(len(result) - 1)))
    written = []
    for i in range(len(result)):
        base = directory / f"{prefix}_{i:0{digits}d}"
        written.append(save_png(f"{base}.png", result.images[i], result.values_range, bits=bits))
        written.append(
            save_png(
                f"{base}_alpha.png",
                result.images[i],
                result.values_range,
                transparency=result.transparency[i],
                bits=bits,
                transparency_percentile=transparency_percentile,
            )
        )
        written.append(
            save_overlay(
                f"{base}_overlay.png",
                result,
                index=i,
                background=background,
                image_percentiles=image_percentiles,
                transparency_percentile=transparency_percentile,
            )
        )
    bundle = result.save(directory / prefix)
    written += [bundle, bundle.with_suffix(".json")]
    return written


def _write_png(path: Path, pixels01: np.ndarray, bits: int) -> None:
    """Quantise (H, W, C) values in [0, 1] (C = 1, 3 or 4, RGB order) and write a PNG."""
    top = 2**bits - 1
    quantised = np.rint(pixels01 * top).astype(np.uint8 if bits == 8 else np.uint16)
    channels = quantised.shape[-1]
    # OpenCV stores colour as BGR(A).
    order = {1: [0], 3: [2, 1, 0], 4: [2, 1, 0, 3]}[channels]
    quantised = np.ascontiguousarray(quantised[..., order])
    if channels == 1:
        quantised = quantised[..., 0]
    ok, encoded = cv2.imencode(".png", quantised)
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a PNG of shape {quantised.shape}")
    with atomic_write(path) as handle:
        handle.write(encoded.tobytes())


def _check_bits(bits: Any) -> None:
    if bits not in (8, 16) or isinstance(bits, bool):
        raise ValueError(f"Expected bits to be 8 or 16. Received: bits={bits!r}")


def _values_range(value: Any) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value)
        valid = bool(np.isfinite(low) and np.isfinite(high) and low < high)
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ValueError(
            "Expected values_range to be (low, high) with finite low < high. "
            f"Received: values_range={value!r}"
        )
    return low, high
