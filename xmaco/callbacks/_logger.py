"""``CSVLogger``: one row per step, flushed at once, so an interrupted run leaves its log."""

from __future__ import annotations

import csv
import os
from typing import IO, Any

import numpy as np

from .._checks import check_file_path
from ..files import ensure_writable_dir
from ._base import Callback

__all__ = ["CSVLogger"]


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
        self.path = check_file_path(path, None)
        ensure_writable_dir(self.path.parent, argument="path")
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
