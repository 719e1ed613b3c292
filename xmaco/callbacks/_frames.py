"""Callbacks that keep the images as the run goes: ``Snapshots`` (arrays) and ``Animation``
(a GIF or an MP4 written when the run ends)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .._checks import check_file_path, is_int, is_number
from ..files import ensure_writable_dir
from . import _media
from ._base import Callback

__all__ = ["Animation", "Snapshots"]


class Snapshots(Callback):
    """Keep copies of the images as the optimisation goes.

    A frame is taken before the first step, after every ``every`` steps and after the last
    step done (also when the run is interrupted), so the last frame is ``result.images``.
    Each frame costs ``N * H * W * C * 4`` bytes: choose ``every`` with long runs in mind.

    Parameters
    ----------
    every
        Take a frame every ``every`` steps (a positive integer).

    Attributes
    ----------
    frames
        List of ``(steps_done, images)``: the number of steps done when the frame was taken
        (0 for the initial images), and a float32 copy (N, H, W, C) in the run's value range.

    Example
    -------
    >>> import numpy as np
    >>> class Run:  # what the engine shows callbacks (xmaco.callbacks.RunView)
    ...     steps, names, values_range = 4, ["a"], (0.0, 1.0)
    ...     def images(self): return np.zeros((1, 2, 2, 3), "float32")
    >>> class Final:
    ...     images, history = np.ones((1, 2, 2, 3), "float32"), np.zeros((4, 1))
    >>> shots = Snapshots(every=2)
    >>> shots.set_run(Run())
    >>> shots.on_run_begin({"steps": 4, "names": ["a"]})
    >>> for step in range(4):
    ...     shots.on_step_end(step, {"objective": np.zeros(1, "float32")})
    >>> shots.on_run_end(Final())
    >>> [done for done, _ in shots.frames]
    [0, 2, 4]
    """

    def __init__(self, every: int = 10) -> None:
        super().__init__()
        if not is_int(every) or every < 1:
            raise ValueError(f"Expected every to be a positive integer. Received: every={every!r}")
        self.every = int(every)
        self.frames: list[tuple[int, np.ndarray]] = []

    def on_run_begin(self, logs: dict[str, Any]) -> None:
        self.frames = [(0, self._convert(self.run.images()))]

    def on_step_end(self, step: int, logs: dict[str, Any]) -> None:
        if (step + 1) % self.every == 0:
            self.frames.append((step + 1, self._convert(self.run.images())))

    def on_run_end(self, result: Any) -> None:
        done = int(np.shape(result.history)[0])
        if self.frames[-1][0] != done:
            self.frames.append((done, self._convert(result.images)))

    def _convert(self, images: np.ndarray) -> np.ndarray:
        return np.array(images, dtype=np.float32)


class Animation(Snapshots):
    """Write a GIF or an MP4 of the optimisation: the images emerging from noise.

    Frames are taken like ``Snapshots`` (before the first step, every ``every`` steps, and
    after the last step done), converted to 8 bits at once, and the file is written
    atomically when the run ends, also after an interruption. The last frame is the final
    image. With several visualizations, each frame is a grid (at most 4 columns, white
    between cells) in the order of ``result.names``.

    GIF frames are written with Pillow (a 256-colour palette per frame; identical
    consecutive frames are merged into one whose duration is their sum); MP4 with OpenCV's
    ``mp4v`` codec, frame sizes padded to even numbers with white.

    Parameters
    ----------
    path
        Destination ending in ``.gif`` or ``.mp4``; its directory must be writable.
    every
        Take a frame every ``every`` steps (a positive integer).
    fps
        Frames per second (a positive number).
    hold
        Seconds the last frame stays on screen (GIF: its duration; MP4: repeated frames).
    index
        Show only this visualization; None shows all.
    max_side
        Each visualization is shrunk to at most this many pixels per side (None: canvas size).

    Attributes
    ----------
    frames
        List of ``(steps_done, frame)``, each frame a uint8 array (H', W', C) as written.

    Example
    -------
    >>> import numpy as np, os, tempfile
    >>> from PIL import Image
    >>> class Run:
    ...     steps, names, values_range = 3, ["a"], (0.0, 1.0)
    ...     def images(self): return np.random.rand(1, 8, 8, 3).astype("float32")
    >>> class Final:
    ...     images, history = np.ones((1, 8, 8, 3), "float32"), np.zeros((3, 1))
    >>> target = os.path.join(tempfile.mkdtemp(), "run.gif")
    >>> movie = Animation(target, every=1)
    >>> movie.set_run(Run())
    >>> movie.on_run_begin({"steps": 3, "names": ["a"]})
    >>> for step in range(3):
    ...     movie.on_step_end(step, {"objective": np.zeros(1, "float32")})
    >>> movie.on_run_end(Final())
    >>> Image.open(target).n_frames
    4
    """

    def __init__(
        self,
        path: str | os.PathLike,
        every: int = 4,
        fps: float = 12.0,
        hold: float = 1.0,
        index: int | None = None,
        max_side: int | None = 256,
    ) -> None:
        super().__init__(every)
        self.path = check_file_path(path, (".gif", ".mp4"))
        ensure_writable_dir(self.path.parent, argument="path")
        if not is_number(fps) or fps <= 0:
            raise ValueError(f"Expected fps to be a positive number. Received: fps={fps!r}")
        if not is_number(hold) or hold < 0:
            raise ValueError(f"Expected hold to be a number >= 0. Received: hold={hold!r}")
        if index is not None and (not is_int(index) or index < 0):
            raise ValueError(
                f"Expected index to be a non-negative integer or None. Received: index={index!r}"
            )
        if max_side is not None and (not is_int(max_side) or max_side < 1):
            raise ValueError(
                "Expected max_side to be a positive integer or None. "
                f"Received: max_side={max_side!r}"
            )
        self.fps = float(fps)
        self.hold = float(hold)
        self.index = index
        self.max_side = max_side
        if self.path.suffix.lower() == ".mp4":
            _media.check_mp4(self.fps)

    def on_run_begin(self, logs: dict[str, Any]) -> None:
        count = len(self.run.names)
        if self.index is not None and self.index >= count:
            raise ValueError(
                f"Expected index to be below the number of visualizations ({count}). "
                f"Received: index={self.index}"
            )
        super().on_run_begin(logs)

    def on_run_end(self, result: Any) -> None:
        super().on_run_end(result)
        write = _media.write_gif if self.path.suffix.lower() == ".gif" else _media.write_mp4
        write(self.path, [frame for _, frame in self.frames], self.fps, self.hold)

    def _convert(self, images: np.ndarray) -> np.ndarray:
        return _media.frame(images, self.run.values_range, self.index, self.max_side)
