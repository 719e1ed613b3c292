"""Callbacks: small objects with ``on_*`` hooks that watch (and may stop) a run.

A run calls its callbacks through one ``CallbackList``: ``set_run`` and ``on_run_begin``
before the first step, ``on_step_end`` after every step, ``on_run_end`` with the final
``Result``. Write your own by subclassing ``Callback``; the ones here show a progress bar
(``ProgressBar``), keep frames (``Snapshots``), write a film (``Animation``) or a log
(``CSVLogger``).
"""

from __future__ import annotations

from ._base import Callback, CallbackList, RunView
from ._frames import Animation, Snapshots
from ._logger import CSVLogger
from ._progress import ProgressBar

# In reading order (the API page follows it): the protocol, then the callbacks provided.
__all__ = [
    "Callback",
    "CallbackList",
    "RunView",
    "ProgressBar",
    "Snapshots",
    "Animation",
    "CSVLogger",
]
