"""Films of a run: images to 8-bit frames (shrunk, tiled in a grid) and GIF or MP4 files.

``xmaco.callbacks.Animation`` takes the frames and decides when; this module only turns
arrays into pictures and pictures into files, each written atomically.

Example
-------
>>> import numpy as np
>>> frame(np.zeros((2, 4, 4, 3), "float32"), (0.0, 1.0), index=None, max_side=None).shape
(4, 9, 3)
"""

from __future__ import annotations

import io
import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..files import atomic_write

__all__ = ["check_mp4", "frame", "tile", "write_gif", "write_mp4"]

# At most this many visualizations side by side in one frame.
_COLUMNS = 4


def frame(
    images: np.ndarray, values_range: tuple[float, float], index: int | None, max_side: int | None
) -> np.ndarray:
    """Images (N, H, W, C) in ``values_range`` -> one uint8 frame (H', W', C), C = 1 or 3:
    visualization ``index`` alone (all when None), each shrunk to at most ``max_side``
    pixels per side (None: as they are), in a grid of at most four columns."""
    low, high = values_range
    images = np.asarray(images, np.float32)
    if index is not None:
        images = images[index : index + 1]
    pixels = np.rint(np.clip((images - low) / (high - low), 0.0, 1.0) * 255).astype(np.uint8)
    if max_side is not None and max(pixels.shape[1:3]) > max_side:
        pixels = _shrink(pixels, max_side)
    return tile(pixels, cols=min(len(pixels), _COLUMNS))


def tile(pixels: np.ndarray, cols: int) -> np.ndarray:
    """(N, H, W, C) uint8 -> one (rows * H + gaps, cols * W + gaps, C) grid, white gaps.

    Example
    -------
    >>> grid = tile(np.zeros((3, 4, 4, 1), np.uint8), cols=2)
    >>> grid.shape, int(grid[0, 4, 0])
    ((9, 9, 1), 255)
    """
    count, height, width, channels = pixels.shape
    if count == 1:
        return pixels[0]
    rows = math.ceil(count / cols)
    gap = max(1, min(height, width) // 32)
    canvas = np.full(
        (rows * height + (rows - 1) * gap, cols * width + (cols - 1) * gap, channels),
        255,
        np.uint8,
    )
    for i, picture in enumerate(pixels):
        y, x = (i // cols) * (height + gap), (i % cols) * (width + gap)
        canvas[y : y + height, x : x + width] = picture
    return canvas


def write_gif(path: Path, frames: list[np.ndarray], fps: float, hold: float) -> None:
    """One 256-colour palette per frame; the last frame stays ``hold`` seconds."""
    from PIL import Image

    mode = "L" if frames[0].shape[-1] == 1 else "RGB"
    pictures = [Image.fromarray(frame[..., 0] if mode == "L" else frame, mode) for frame in frames]
    step_ms = max(20, round(1000 / fps))
    durations = [step_ms] * len(pictures)
    durations[-1] = max(step_ms, round(1000 * hold))
    buffer = io.BytesIO()
    pictures[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=pictures[1:],
        duration=durations,
        loop=0,
    )
    with atomic_write(path) as handle:
        handle.write(buffer.getvalue())


def write_mp4(path: Path, frames: list[np.ndarray], fps: float, hold: float) -> None:
    """OpenCV's ``mp4v`` codec, sides padded to even numbers with white; the last frame is
    repeated for ``hold`` seconds."""
    height, width = frames[0].shape[:2]
    even = (height + height % 2, width + width % 2)
    with tempfile.TemporaryDirectory() as scratch:
        movie = Path(scratch) / "movie.mp4"
        writer = _mp4_writer(movie, fps, (even[1], even[0]))
        extra = round(hold * fps)
        for picture in [*frames, *[frames[-1]] * extra]:
            padded = np.full((*even, 3), 255, np.uint8)
            padded[:height, :width] = picture[..., ::-1]
            writer.write(padded)
        writer.release()
        with atomic_write(path) as handle:
            handle.write(movie.read_bytes())


def check_mp4(fps: float) -> None:
    """Fail now, not after a long run, when this OpenCV cannot encode MP4."""
    with tempfile.TemporaryDirectory() as scratch:
        _mp4_writer(Path(scratch) / "probe.mp4", fps, (16, 16)).release()


def _shrink(pixels: np.ndarray, max_side: int) -> np.ndarray:
    import cv2

    scale = max_side / max(pixels.shape[1:3])
    size = (max(1, round(pixels.shape[2] * scale)), max(1, round(pixels.shape[1] * scale)))
    return np.stack(
        [
            cv2.resize(p, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], p.shape[-1])
            for p in pixels
        ]
    )


def _mp4_writer(path: Path, fps: float, size: tuple[int, int]) -> Any:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise RuntimeError(
            "Expected an OpenCV build that can write MP4 with the 'mp4v' codec; this one "
            "cannot. Use a path ending in '.gif' instead."
        )
    return writer
