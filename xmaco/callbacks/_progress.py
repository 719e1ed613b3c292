"""``ProgressBar``: one line with the steps done, their rate, the time left and the objective."""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from ._base import Callback

__all__ = ["ProgressBar"]


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
