"""Callbacks: small objects with ``on_*`` hooks that watch (and may stop) a run."""

from __future__ import annotations

import csv
import io
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np

from .files import atomic_write, ensure_writable_dir

__all__ = ["Animation", "CSVLogger", "Callback", "ProgressBar", "RunView", "Snapshots"]


class RunView(Protocol):
    """What a callback can see of the live run (``callback.run``).

    The engine sets it with ``set_run`` before ``on_run_begin``. ``images()`` and
    ``transparency()`` copy the current state out of the device: call them only when needed.

    Example
    -------
    >>> import numpy as np
    >>> class MeanBrightness(Callback):
    ...     def on_step_end(self, step, logs):
    ...         low, high = self.run.values_range
    ...         self.last = float(((self.run.images() - low) / (high - low)).mean())
    >>> class Run:  # anything with these members can stand in for the engine's view
    ...     steps, names, values_range = 1, ["a"], (-1.0, 1.0)
    ...     def images(self): return np.zeros((1, 4, 4, 3), "float32")
    ...     def transparency(self): return np.zeros((1, 4, 4, 3), "float32")
    >>> callback = MeanBrightness()
    >>> callback.set_run(Run())
    >>> callback.on_step_end(0, {"objective": np.zeros(1, "float32")})
    >>> callback.last
    0.5
    """

    steps: int
    names: list[str]
    values_range: tuple[float, float]

    def images(self) -> np.ndarray:
        """The current images (N, H, W, C) in ``values_range``, as NumPy."""

    def transparency(self) -> np.ndarray:
        """The transparency accumulated so far (N, H, W, C), as NumPy."""


class Callback:
    """Base class: override the hooks you need.

    ``logs`` passed to ``on_step_end`` hold ``objective`` (float32 array (N,), the value of
    each visualization at that step), ``crop_size``, ``noise`` and ``learning_rate`` (floats).
    Set ``self.stop_run = True`` to end the run after the current step; the result is then
    marked ``interrupted``.

    Example
    -------
    >>> class StopAbove(Callback):
    ...     def __init__(self, value):
    ...         super().__init__()
    ...         self.value = value
    ...     def on_step_end(self, step, logs):
    ...         self.stop_run = bool(logs["objective"].min() > self.value)
    >>> StopAbove(3.0).stop_run
    False
    """

    def __init__(self) -> None:
        self.stop_run = False
        self.run: RunView | None = None

    def set_run(self, run: RunView) -> None:
        """Called by the engine before ``on_run_begin``."""
        self.run = run

    def on_run_begin(self, logs: dict[str, Any]) -> None:
        """Called once before the first step; ``logs`` has ``steps`` and ``names``."""

    def on_step_end(self, step: int, logs: dict[str, Any]) -> None:
        """Called after every step (``step`` counts from 0)."""

    def on_run_end(self, result: Any) -> None:
        """Called once with the final (possibly partial) ``Result``."""


class ProgressBar(Callback):
    """A one-line progress bar with steps per second, ETA and the mean objective.

    Parameters
    ----------
    stream
        Where to write (default ``sys.stderr``).
    interval
        Minimum seconds between redraws.

    Example
    -------
    >>> import io
    >>> bar = ProgressBar(stream=io.StringIO(), interval=0.0)
    >>> bar.on_run_begin({"steps": 2, "names": ["a"]})
    >>> bar.on_step_end(0, {"objective": np.array([1.5], "float32")})
    >>> "1/2" in bar.stream.getvalue()
    True
    """

    def __init__(self, stream: Any = None, interval: float = 0.1) -> None:
        super().__init__()
        self.stream = stream if stream is not None else sys.stderr
        self.interval = float(interval)
        self._steps = 0
        self._start = 0.0
        self._last = -1.0

    def on_run_begin(self, logs: dict[str, Any]) -> None:
        self._steps = int(logs["steps"])
        self._start = time.perf_counter()
        self._last = -1.0

    def on_step_end(self, step: int, logs: dict[str, Any]) -> None:
        now = time.perf_counter()
        done = step + 1
        if done < self._steps and now - self._last < self.interval:
            return
        self._last = now
        elapsed = max(now - self._start, 1e-9)
        rate = done / elapsed
        eta = (self._steps - done) / rate if rate > 0 else 0.0
        width = 24
        filled = int(width * done / max(self._steps, 1))
        value = float(np.mean(logs["objective"]))
        self.stream.write(
            f"\r[{'=' * filled}{'.' * (width - filled)}] {done}/{self._steps} "
            f"{rate:5.2f} steps/s ETA {_clock(eta)} objective {value:+.4g}"
        )
        if done >= self._steps:
            self.stream.write("\n")
        self.stream.flush()

    def on_run_end(self, result: Any) -> None:
        if getattr(result, "interrupted", False):
            self.stream.write("\n")
            self.stream.flush()


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
        if not _is_int(every) or every < 1:
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
        self.path = _writable_file(path, (".gif", ".mp4"))
        if not _is_number(fps) or fps <= 0:
            raise ValueError(f"Expected fps to be a positive number. Received: fps={fps!r}")
        if not _is_number(hold) or hold < 0:
            raise ValueError(f"Expected hold to be a number >= 0. Received: hold={hold!r}")
        if index is not None and (not _is_int(index) or index < 0):
            raise ValueError(
                f"Expected index to be a non-negative integer or None. Received: index={index!r}"
            )
        if max_side is not None and (not _is_int(max_side) or max_side < 1):
            raise ValueError(
                "Expected max_side to be a positive integer or None. "
                f"Received: max_side={max_side!r}"
            )
        self.fps = float(fps)
        self.hold = float(hold)
        self.index = index
        self.max_side = max_side
        if self.path.suffix.lower() == ".mp4":
            # Fail now, not after a long run, when OpenCV cannot encode MP4.
            with tempfile.TemporaryDirectory() as scratch:
                _mp4_writer(Path(scratch) / "probe.mp4", self.fps, (16, 16)).release()

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
        if self.path.suffix.lower() == ".gif":
            self._write_gif()
        else:
            self._write_mp4()

    def _convert(self, images: np.ndarray) -> np.ndarray:
        """Images in the run's value range -> one uint8 (H, W, C) frame, C = 1 or 3."""
        low, high = self.run.values_range
        images = np.asarray(images, np.float32)
        if self.index is not None:
            images = images[self.index : self.index + 1]
        pixels = np.rint(np.clip((images - low) / (high - low), 0.0, 1.0) * 255).astype(np.uint8)
        if self.max_side is not None and max(pixels.shape[1:3]) > self.max_side:
            import cv2

            scale = self.max_side / max(pixels.shape[1:3])
            size = (max(1, round(pixels.shape[2] * scale)), max(1, round(pixels.shape[1] * scale)))
            pixels = np.stack(
                [
                    cv2.resize(p, size, interpolation=cv2.INTER_AREA).reshape(
                        size[1], size[0], p.shape[-1]
                    )
                    for p in pixels
                ]
            )
        return _tile(pixels, cols=min(len(pixels), 4))

    def _write_gif(self) -> None:
        from PIL import Image

        frames = [frame for _, frame in self.frames]
        mode = "L" if frames[0].shape[-1] == 1 else "RGB"
        pictures = [
            Image.fromarray(frame[..., 0] if mode == "L" else frame, mode) for frame in frames
        ]
        step_ms = max(20, round(1000 / self.fps))
        durations = [step_ms] * len(pictures)
        durations[-1] = max(step_ms, round(1000 * self.hold))
        buffer = io.BytesIO()
        pictures[0].save(
            buffer,
            format="GIF",
            save_all=True,
            append_images=pictures[1:],
            duration=durations,
            loop=0,
        )
        with atomic_write(self.path) as handle:
            handle.write(buffer.getvalue())

    def _write_mp4(self) -> None:

        frames = [frame for _, frame in self.frames]
        height, width = frames[0].shape[:2]
        even = (height + height % 2, width + width % 2)
        with tempfile.TemporaryDirectory() as scratch:
            movie = Path(scratch) / "movie.mp4"
            writer = _mp4_writer(movie, self.fps, (even[1], even[0]))
            extra = round(self.hold * self.fps)
            for frame in [*frames, *[frames[-1]] * extra]:
                padded = np.full((*even, 3), 255, np.uint8)
                padded[:height, :width] = frame[..., ::-1]
                writer.write(padded)
            writer.release()
            with atomic_write(self.path) as handle:
                handle.write(movie.read_bytes())


class CSVLogger(Callback):
    """Log each step to a CSV file, one row per step, flushed at once.

    Columns: ``step`` (from 0), one ``objective:<name>`` column per visualization, then
    ``crop_size``, ``noise`` and ``learning_rate`` (empty when the engine does not report
    them). Every row is flushed as it is written, so an interrupted run (Ctrl-C, a crash)
    leaves all the steps done readable. The file is replaced at the start of each run.

    Parameters
    ----------
    path
        Destination file (any suffix); its directory must be writable.

    Example
    -------
    >>> import numpy as np, os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "log.csv")
    >>> logger = CSVLogger(target)
    >>> logger.on_run_begin({"steps": 2, "names": ["a", "b"]})
    >>> logger.on_step_end(0, {"objective": np.array([1.0, 2.0], "float32"),
    ...                        "crop_size": 0.5, "noise": 0.1, "learning_rate": 1.0})
    >>> open(target).read().splitlines()[1]
    '0,1.0,2.0,0.5,0.1,1.0'
    """

    _EXTRAS = ("crop_size", "noise", "learning_rate")

    def __init__(self, path: str | os.PathLike) -> None:
        super().__init__()
        self.path = _writable_file(path, None)
        self._handle: IO | None = None
        self._writer: Any = None

    def on_run_begin(self, logs: dict[str, Any]) -> None:
        self._close()
        self._handle = open(self.path, "w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._handle)
        names = [f"objective:{name}" for name in logs["names"]]
        self._writer.writerow(["step", *names, *self._EXTRAS])
        self._handle.flush()

    def on_step_end(self, step: int, logs: dict[str, Any]) -> None:
        values = [float(v) for v in np.ravel(logs["objective"])]
        extras = [logs.get(key, "") for key in self._EXTRAS]
        self._writer.writerow([int(step), *values, *extras])
        self._handle.flush()

    def on_run_end(self, result: Any) -> None:
        self._close()

    def _close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _mp4_writer(path: Path, fps: float, size: tuple[int, int]) -> Any:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise RuntimeError(
            "Expected an OpenCV build that can write MP4 with the 'mp4v' codec; this one "
            "cannot. Use a path ending in '.gif' instead."
        )
    return writer


def _tile(pixels: np.ndarray, cols: int) -> np.ndarray:
    """(N, H, W, C) uint8 -> one (rows * H + gaps, cols * W + gaps, C) grid, white gaps."""
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


def _writable_file(path: Any, suffixes: tuple[str, ...] | None) -> Path:
    if not isinstance(path, str | os.PathLike):
        raise TypeError(
            f"Expected path to be a str or os.PathLike. Received: {type(path).__name__}"
        )
    path = Path(path)
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise ValueError(f"Expected path to end in one of {suffixes}. Received: path='{path}'")
    if path.is_dir():
        raise ValueError(f"Expected path to name a file. Received: path='{path}' (a directory)")
    ensure_writable_dir(path.parent, argument="path")
    return path


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60:d}:{seconds % 60:02d}"


def as_list(callbacks: Callback | Sequence[Callback] | None) -> list[Callback]:
    """Validate the ``callbacks`` argument of the engines."""
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    if isinstance(callbacks, (str, bytes)) or not hasattr(callbacks, "__iter__"):
        raise TypeError(
            "Expected callbacks to be a Callback or a list of them. Received: "
            f"callbacks={callbacks!r}"
        )
    callbacks = list(callbacks)
    for item in callbacks:
        if not isinstance(item, Callback):
            raise TypeError(
                "Expected callbacks to be a list of xmaco.callbacks.Callback. Received an item "
                f"of type {type(item).__name__}: {item!r}"
            )
    return callbacks
