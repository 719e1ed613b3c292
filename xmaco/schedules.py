"""Schedules: values that change over a run, as plain callables of the step.

A schedule is any callable ``f(step) -> float`` that also works when ``step`` is a scalar
``tf.Tensor`` inside a ``tf.function`` (the step is passed as a tensor, so the compiled step is
traced once). The named constructors below return small immutable objects that describe
themselves (``describe()``) so a run's configuration can be saved and reproduced.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["Schedule", "constant", "linear", "cosine", "as_schedule", "describe"]

Schedule = Callable[[Any], Any]


@dataclasses.dataclass(frozen=True)
class constant:  # noqa: N801 - named like a function, as the other constructors
    """A value that does not change.

    Example
    -------
    >>> constant(0.08)(10)
    0.08
    """

    value: float

    def __post_init__(self) -> None:
        _check_number(self.value, "value")

    def __call__(self, step: Any) -> Any:
        return self.value

    def describe(self) -> dict[str, Any]:
        return {"schedule": "constant", "value": self.value}


@dataclasses.dataclass(frozen=True)
class _Ramp:
    """From ``start`` at step 0 to ``end`` at step ``steps - 1``, then flat; each subclass is
    one shape of the way between them and describes itself under its own name."""

    start: float
    end: float
    steps: int

    def __post_init__(self) -> None:
        _check_number(self.start, "start")
        _check_number(self.end, "end")
        _check_steps(self.steps)

    def describe(self) -> dict[str, Any]:
        return {"schedule": type(self).__name__, **dataclasses.asdict(self)}


@dataclasses.dataclass(frozen=True)
class linear(_Ramp):  # noqa: N801
    """Linear interpolation from ``start`` (step 0) to ``end`` (step ``steps - 1``), then flat.

    Example
    -------
    >>> s = linear(0.5, 0.05, steps=10)
    >>> round(float(s(0)), 3), round(float(s(9)), 3), round(float(s(100)), 3)
    (0.5, 0.05, 0.05)
    """

    def __call__(self, step: Any) -> Any:
        t = _progress(step, self.steps)
        return self.start + (self.end - self.start) * t


@dataclasses.dataclass(frozen=True)
class cosine(_Ramp):  # noqa: N801
    """Half-cosine from ``start`` to ``end`` over ``steps``, then flat.

    Example
    -------
    >>> s = cosine(1.0, 0.0, steps=3)
    >>> [round(float(s(i)), 3) for i in range(3)]
    [1.0, 0.5, 0.0]
    """

    def __call__(self, step: Any) -> Any:
        t = _progress(step, self.steps)
        tf = _tensorflow_of(t)
        weight = 0.5 * (1.0 + (math.cos(math.pi * t) if tf is None else tf.cos(math.pi * t)))
        return self.end + (self.start - self.end) * weight


def as_schedule(
    value: Any,
    argument: str,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = False,
) -> Schedule:
    """Turn ``value`` (a number or a callable of the step) into a schedule, checking its range.

    Numbers are checked against ``(low, high]`` (or ``[low, high]`` with ``low_inclusive``);
    a schedule is checked at its first and last step when it has a ``steps`` attribute, else
    at step 0.

    Example
    -------
    >>> as_schedule(0.5, "crop_size", 0.0, 1.0)(3)
    0.5
    """
    if isinstance(value, bool) or not (isinstance(value, numbers.Real) or callable(value)):
        raise TypeError(
            f"Expected {argument} to be a number or a schedule (a callable of the step). "
            f"Received: {argument}={value!r} of type {type(value).__name__}"
        )
    if isinstance(value, numbers.Real):
        # checked here, so that the message names the argument rather than constant's value
        _check_range(float(value), argument, low, high, low_inclusive, 0)
        return constant(float(value))
    schedule = value
    probes = [0]
    if isinstance(getattr(schedule, "steps", None), int):
        probes.append(schedule.steps - 1)
    for step in probes:
        try:
            sample = float(schedule(step))
        except Exception as error:  # a user callable: report what it did
            raise ValueError(
                f"Expected {argument} to be callable as {argument}(step) -> float. Calling it "
                f"with step={step} raised {type(error).__name__}: {error}"
            ) from None
        _check_range(sample, argument, low, high, low_inclusive, step)
    return schedule


def describe(schedule: Schedule) -> Any:
    """A JSON-friendly description of a schedule (for ``Result.config``).

    Example
    -------
    >>> describe(linear(1.0, 0.0, 10))
    {'schedule': 'linear', 'start': 1.0, 'end': 0.0, 'steps': 10}
    """
    if hasattr(schedule, "describe"):
        return schedule.describe()
    return {"schedule": "callable", "repr": repr(schedule)}


def _check_range(
    sample: float,
    argument: str,
    low: float | None,
    high: float | None,
    low_inclusive: bool,
    step: int,
) -> None:
    bad = not math.isfinite(sample)
    if low is not None:
        bad |= sample < low if low_inclusive else sample <= low
    if high is not None:
        bad |= sample > high
    if bad:
        left = "[" if low_inclusive else "("
        interval = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}]"
        raise ValueError(
            f"Expected {argument} to be in {interval}. Received: {argument}={sample!r}"
            + ("" if step == 0 else f" at step {step}")
        )


def _check_number(value: Any, argument: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(
            f"Expected {argument} to be a finite number. Received: {argument}={value!r}"
        )


def _check_steps(steps: Any) -> None:
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ValueError(f"Expected steps to be a positive integer. Received: steps={steps!r}")


def _progress(step: Any, steps: int) -> Any:
    denominator = max(steps - 1, 1)
    tf = _tensorflow_of(step)
    if tf is not None:
        t = tf.cast(step, tf.float32) / float(denominator)
        return tf.clip_by_value(t, 0.0, 1.0)
    return min(max(float(step) / denominator, 0.0), 1.0)


def _tensorflow_of(value: Any) -> Any:
    """TensorFlow when ``value`` is one of its tensors, else None.

    A tensor exists only once TensorFlow is imported, so this module does not import it: the
    presets hold schedules, and the command line reads them to answer ``--help`` at once.
    """
    tf = sys.modules.get("tensorflow")
    return tf if tf is not None and tf.is_tensor(value) else None
