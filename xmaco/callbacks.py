"""Callbacks: small objects with ``on_*`` hooks that watch (and may stop) a run."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

__all__ = ["Callback", "ProgressBar", "RunView"]


class RunView(Protocol):
    """What a callback can see of the live run (``callback.run``)."""

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


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60:d}:{seconds % 60:02d}"


def as_list(callbacks: Callback | Sequence[Callback] | None) -> list[Callback]:
    """Validate the ``callbacks`` argument of the engines."""
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    callbacks = list(callbacks)
    for item in callbacks:
        if not isinstance(item, Callback):
            raise TypeError(
                "Expected callbacks to be a list of xmaco.callbacks.Callback. Received an item "
                f"of type {type(item).__name__}: {item!r}"
            )
    return callbacks
