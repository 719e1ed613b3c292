"""What a run shows its callbacks (``RunView``), the ``Callback`` base class, and
``CallbackList``, which drives several callbacks as one."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

import numpy as np

__all__ = ["Callback", "CallbackList", "RunView"]


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


class CallbackList:
    """Several callbacks driven as one: each hook calls the same hook of every member, in order.

    This is how a run calls its callbacks: ``set_run``, then ``on_run_begin`` once,
    ``on_step_end`` after every step (the run ends after a step where ``stop_run`` is True),
    and ``on_run_end`` once with the final, possibly partial, ``Result``. The progress bar is a
    member like any other: ``CallbackList([ProgressBar(), *callbacks])``.

    Parameters
    ----------
    callbacks
        None (no callback), one ``Callback``, or an iterable of them (a ``CallbackList``
        included).

    Raises
    ------
    TypeError
        When ``callbacks`` is not one of these, or holds something that is not a ``Callback``.

    Example
    -------
    >>> import io
    >>> from xmaco.callbacks import ProgressBar
    >>> class StopAt(Callback):
    ...     def on_step_end(self, step, logs):
    ...         self.stop_run = step >= 1
    >>> callbacks = CallbackList([StopAt(), ProgressBar(stream=io.StringIO())])
    >>> len(callbacks), [type(c).__name__ for c in callbacks]
    (2, ['StopAt', 'ProgressBar'])
    >>> callbacks.on_run_begin({"steps": 4, "names": ["a"]})
    >>> for step in range(4):
    ...     callbacks.on_step_end(step, {"objective": np.zeros(1, "float32")})
    ...     if callbacks.stop_run:
    ...         break
    >>> step
    1
    >>> CallbackList([3])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: Expected callbacks to be a list of xmaco.callbacks.Callback. Received an item ...
    """

    def __init__(self, callbacks: Callback | Iterable[Callback] | None = None) -> None:
        if callbacks is None:
            callbacks = []
        elif isinstance(callbacks, Callback):
            callbacks = [callbacks]
        elif isinstance(callbacks, str | bytes) or not isinstance(callbacks, Iterable):
            raise TypeError(
                "Expected callbacks to be a Callback or a list of them. Received: "
                f"callbacks={callbacks!r}"
            )
        self._callbacks: list[Callback] = []
        for callback in callbacks:
            self.append(callback)
        self.run: RunView | None = None

    def append(self, callback: Callback) -> None:
        """Add ``callback`` at the end: its hooks run after those already held."""
        if not isinstance(callback, Callback):
            raise TypeError(
                "Expected callbacks to be a list of xmaco.callbacks.Callback. Received an item "
                f"of type {type(callback).__name__}: {callback!r}"
            )
        self._callbacks.append(callback)

    def __iter__(self) -> Iterator[Callback]:
        return iter(self._callbacks)

    def __len__(self) -> int:
        return len(self._callbacks)

    @property
    def stop_run(self) -> bool:
        """True when any member asked to end the run."""
        return any(callback.stop_run for callback in self._callbacks)

    def set_run(self, run: RunView) -> None:
        """Show every member the live run (``callback.run``)."""
        self.run = run
        for callback in self._callbacks:
            callback.set_run(run)

    def on_run_begin(self, logs: dict[str, Any]) -> None:
        """Once, before the first step; ``logs`` has ``steps`` and ``names``."""
        for callback in self._callbacks:
            callback.on_run_begin(logs)

    def on_step_end(self, step: int, logs: dict[str, Any]) -> None:
        """After every step (``step`` counts from 0)."""
        for callback in self._callbacks:
            callback.on_step_end(step, logs)

    def on_run_end(self, result: Any) -> None:
        """Once, with the final (possibly partial) ``Result``."""
        for callback in self._callbacks:
            callback.on_run_end(result)
