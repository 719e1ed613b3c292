"""One run of the engine: its parts resolved against the model, its compiled step, the loop.

:class:`Run` is built by :func:`xmaco.engine.visualize` from an objective, a parameterization
and :class:`xmaco.settings.RunSettings`; it is also the live view of the run that callbacks
read (``callback.run``: ``images()``, ``transparency()``, ``steps``, ``names``,
``values_range``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import warnings
from typing import Any

import numpy as np
import tensorflow as tf

from ._step import make_step
from .callbacks import CallbackList, ProgressBar
from .devices import default_batch_size, micro_batches_in_flight
from .errors import NonFiniteError, OutOfMemoryError
from .objectives import Objective
from .parameterizations import Parameterization, State
from .result import Result
from .settings import OPTIMIZERS, RunSettings, _size

__all__ = ["Run", "input_size_of", "values_range_of"]

_ZERO_GRADIENT_STEPS = 3


class Run:
    """One run: its resolved parts, its compiled step, and the loop; also the live view of the
    run that callbacks see (``callback.run``)."""

    def __init__(self, objective, parameterization, settings, callbacks) -> None:
        model = objective.model
        self.objective, self.parameterization, self.settings = objective, parameterization, settings
        self.steps, self.names = settings.steps, objective.names
        self.input_size = input_size_of(model, settings.model_input_size)
        self.values_range = settings.values_range or values_range_of(model) or (0.0, 1.0)
        self.batch_size = settings.batch_size or default_batch_size()
        self.n = objective.visualizations
        channels = int(model.inputs[0].shape[-1])
        height, width = settings.image_size
        seeds = [settings.seed + i for i in range(self.n)]
        self.parameterization, self.state = _built(parameterization, seeds, height, width, channels)
        self.optimizer = _optimizer(settings)
        self.optimizer.build(list(self.state.variables))
        self._transparency = tf.Variable(tf.zeros([self.n, height, width, channels]))
        self.backup = [tf.Variable(v, name="backup") for v in self.state.variables]
        self.step_fn = make_step(
            _prepared(objective, settings.mixed_precision, settings.strategy).compile(),
            self.parameterization,
            self.state,
            self.optimizer,
            self._transparency,
            self.backup,
            transforms=settings.transforms,
            seeds=tf.constant(seeds, tf.int64),
            input_size=self.input_size,
            values_range=self.values_range,
            learning_rate=self._owned_rate(),
            batch_size=self.batch_size,
            in_flight=micro_batches_in_flight(),
            jit_compile=settings.jit_compile,
            strategy=settings.strategy,
        )
        verbose = settings.verbose
        if verbose or (verbose is None and sys.stderr.isatty()):
            callbacks = CallbackList([ProgressBar(), *callbacks])
        self.callbacks = callbacks

    # the view of the run given to callbacks (xmaco.callbacks.RunView)
    def images(self) -> np.ndarray:
        low, high = self.values_range
        images = self.parameterization.images(self.state)
        return (low + (high - low) * images).numpy().astype(np.float32)

    def transparency(self) -> np.ndarray:
        return self._transparency.numpy()

    def _owned_rate(self) -> Any:
        """The learning-rate schedule the step drives; None when the optimizer keeps its own."""
        return self.settings.learning_rate if isinstance(self.settings.optimizer, str) else None

    def config(self) -> dict[str, Any]:
        settings, model = self.settings, self.objective.model
        described = settings.describe()
        if self._owned_rate() is None:
            described["learning_rate"] = None
        return {
            **self.parameterization.describe(),
            "model": model.name,
            "layers": self.objective.layers,
            "objective": self.names,
            **described,
            "model_input_size": list(self.input_size),
            "optimizer": type(self.optimizer).__name__,
            "values_range": list(self.values_range),
            "batch_size": self.batch_size,
            "replicas": 1 if settings.strategy is None else settings.strategy.num_replicas_in_sync,
        }

    def loop(self) -> Result:
        """Run every step (or until a callback, Ctrl-C or a failure stops it)."""
        self.callbacks.set_run(self)
        self.callbacks.on_run_begin({"steps": self.steps, "names": self.names})
        history: list[np.ndarray] = []
        self.zero_gradient = np.ones(self.n, dtype=bool)
        interrupted, failure = False, None
        start = time.perf_counter()
        try:
            for step in range(self.steps):
                values, failure = self._one_step(step)
                if failure is not None:
                    break
                history.append(values.astype(np.float32))
                self.callbacks.on_step_end(step, self._logs(step, values))
                if self.callbacks.stop_run:
                    interrupted = True
                    break
        except KeyboardInterrupt:
            interrupted = True
        result = self._result(history, time.perf_counter() - start, interrupted or bool(failure))
        self.callbacks.on_run_end(result)
        if failure is not None:
            failure.result = result
            raise failure
        return result

    def _one_step(self, step: int) -> tuple[np.ndarray, Exception | None]:
        """One step: its objective values, and the failure that ends the run if any."""
        try:
            with _quiet_tracing(first=step == 0):
                values, mass = (o.numpy() for o in self.step_fn(tf.constant(step, tf.int64)))
        except tf.errors.ResourceExhaustedError:
            return np.empty(0), OutOfMemoryError(self._oom_message(step))
        if not np.all(np.isfinite(values)):
            for saved, variable in zip(self.backup, self.state.variables, strict=True):
                variable.assign(saved)
            bad = np.flatnonzero(~np.isfinite(values)).tolist()
            return values, NonFiniteError(
                f"The objective became non-finite ({values[bad[0]]}) at step {step} for "
                f"visualization(s) {bad} ({', '.join(self.names[i] for i in bad[:3])}). The "
                f"run stopped; error.result holds the images of the last finite step ({step}). "
                "Lower the learning rate, check the model for overflow, or use float32."
            )
        # a unit silent on the first crops may wake on later ones: warn early, and at the end
        # about the visualizations it never reached
        self.zero_gradient &= mass == 0.0
        if step == self.steps - 1 or step == _ZERO_GRADIENT_STEPS - 1:
            _warn_zero_gradient(
                self.zero_gradient,
                self.names,
                self.objective.layers,
                step + 1,
                step == self.steps - 1,
            )
        return values, None

    def _logs(self, step: int, values: np.ndarray) -> dict[str, Any]:
        logs: dict[str, Any] = {"objective": values}
        for transform in self.settings.transforms:
            if hasattr(transform, "logs"):
                logs.update(transform.logs(step))
        logs["learning_rate"] = float(self.optimizer.learning_rate.numpy())
        return logs

    def _result(self, history: list[np.ndarray], seconds: float, interrupted: bool) -> Result:
        done = len(history)
        return Result(
            images=self.images(),
            transparency=self.transparency(),
            history=np.asarray(history, np.float32).reshape(done, self.n),
            names=self.names,
            config=self.config(),
            seed=self.settings.seed,
            interrupted=interrupted,
            stats={
                "steps_done": done,
                "seconds": seconds,
                "steps_per_second": done / seconds if seconds > 0 else 0.0,
                "traces": int(self.step_fn.experimental_get_tracing_count()),
            },
        )

    def _oom_message(self, step: int) -> str:
        batch_size, crops = self.batch_size, self.settings.crops or 1
        if batch_size == 1:
            advice = "batch_size is already 1: lower crops or image_size"
        else:
            smaller = max(1, (batch_size or self.n * crops) // 2)
            advice = f"Set a smaller batch_size (micro-batches, e.g. batch_size={smaller}), "
            advice += "or lower crops or image_size"
        (height, width), (h, w) = self.settings.image_size, self.input_size
        return (
            f"Out of device memory at step {step}: {self.n} visualization(s) x {crops} crops of "
            f"{h}x{w} per step, canvas {height}x{width}, batch_size={batch_size}. {advice}. "
            "error.result holds the images so far."
        )


def _built(
    parameterization: Parameterization, seeds: list[int], height: int, width: int, channels: int
) -> tuple[Parameterization, State]:
    """The parameterization's state for the run (and the parameterization that forms it)."""
    state = parameterization.build(seeds, height, width, channels)
    if isinstance(state, State):
        return parameterization, state
    if isinstance(state, (list, tuple)) and all(isinstance(v, tf.Variable) for v in state):
        warnings.warn(
            f"{type(parameterization).__name__}.build returned a list of variables and its "
            "images() takes them: return an xmaco.parameterizations.State and take it in "
            "images(state) instead (this older form will stop working in a later release).",
            DeprecationWarning,
            stacklevel=_caller_stacklevel(),
        )
        return _Listed(parameterization), State(tuple(state))
    raise TypeError(
        f"Expected {type(parameterization).__name__}.build to return an "
        "xmaco.parameterizations.State (its variables and constants). Received: "
        f"{type(state).__name__}"
    )


class _Listed(Parameterization):
    """A parameterization of the older form (``build`` -> variables, ``images(variables)``)."""

    def __init__(self, inner: Parameterization) -> None:
        self.inner = inner
        self.name = inner.name
        self.default_optimizer = inner.default_optimizer
        self.default_learning_rate = inner.default_learning_rate

    def build(self, seeds, height, width, channels):
        return State(tuple(self.inner.build(seeds, height, width, channels)))

    def images(self, state):
        return self.inner.images(list(state.variables))

    def describe(self):
        return self.inner.describe()


def _optimizer(settings: RunSettings) -> Any:
    """A fresh optimizer: the named one at the schedule's first rate, or the user's instance."""
    if not isinstance(settings.optimizer, str):
        return settings.optimizer
    import keras

    rate = float(settings.learning_rate(0))
    return getattr(keras.optimizers, OPTIMIZERS[settings.optimizer])(learning_rate=rate)


def input_size_of(model: Any, model_input_size: Any = None) -> tuple[int, int]:
    """The (height, width) the model's input takes: ``model_input_size`` if given (an int or a
    pair), else the model's own, with an error naming ``model_input_size`` when it is unknown.

    Example
    -------
    >>> import keras
    >>> model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(2, 3)])
    >>> input_size_of(model, 64)
    (64, 64)
    >>> input_size_of(model)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Expected model_input_size=(height, width) for model '...', whose input size ...
    """
    if model_input_size is not None:
        return _size(model_input_size, "model_input_size")
    shape = tuple(model.inputs[0].shape)
    if shape[1] is None or shape[2] is None:
        raise ValueError(
            f"Expected model_input_size=(height, width) for model '{model.name}', whose input "
            f"size is unknown. Received: model_input_size=None (input shape {shape})"
        )
    return int(shape[1]), int(shape[2])


def _prepared(objective: Objective, bfloat16: bool, strategy: Any) -> Objective:
    """The objective on a copy of its model when the run needs one: a copy that computes in
    bfloat16 (weights stay float32; the layers the objective reads stay float32 for exact
    scores), and/or whose weights are mirrored on the replicas of ``strategy``."""
    if not bfloat16 and strategy is None:
        return objective
    import keras

    model = objective.model
    kept = set(objective.layers)

    def clone(layer):
        config = layer.get_config()
        if bfloat16:
            config["dtype"] = "float32" if layer.name in kept else "mixed_bfloat16"
        return layer.__class__.from_config(config)

    reason = "mixed_precision=True" if bfloat16 else "a strategy"
    try:
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            copy = keras.models.clone_model(model, clone_function=clone)
            copy.set_weights(model.get_weights())
    except Exception as error:
        raise ValueError(
            f"Expected a model that keras.models.clone_model can rebuild (for {reason}). "
            f"Received: model '{model.name}', which failed with: {error}"
        ) from error
    return Objective(copy, objective.terms)


@contextlib.contextmanager
def _quiet_tracing(first: bool):
    """Silence TensorFlow's "retracing" notice while a run traces its own new step function:
    every run builds one (new variables), which is expected, not a retrace."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    if first:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _warn_zero_gradient(
    zero: np.ndarray, names: list[str], layers: list[str], steps: int, final: bool
) -> None:
    """Warn about the visualizations whose gradient was zero everywhere at each of the first
    ``steps`` steps: those of the whole run when ``final``."""
    if not zero.any():
        return
    named = ", ".join(names[i] for i in np.flatnonzero(zero)[:3])
    which = f"{int(zero.sum())} visualization(s) ({named})"
    cause = (
        "the unit may be dead (e.g. a ReLU that never fires), or layer(s) "
        f"{layers} may not depend on the input"
    )
    if final:
        text = (
            f"The gradient of the objective was zero everywhere for {which} at every one of the "
            f"{steps} steps: {cause}. Their images did not change."
        )
    else:
        text = (
            f"The gradient of the objective is zero everywhere for {which} in the first {steps} "
            f"steps: {cause}. Their images change only once a step's crops excite it; a "
            "warning at the end of a run that completes says if none did."
        )
    warnings.warn(text, RuntimeWarning, stacklevel=_caller_stacklevel())


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside xmaco."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def values_range_of(model: Any) -> tuple[float, float] | None:
    """The value range recorded on ``model`` (``model.xmaco_values_range``), if any.

    Example
    -------
    >>> import keras
    >>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 3)])
    >>> values_range_of(model) is None
    True
    >>> model.xmaco_values_range = (-1, 1)
    >>> values_range_of(model)
    (-1.0, 1.0)
    """
    recorded = getattr(model, "xmaco_values_range", None)
    return None if recorded is None else (float(recorded[0]), float(recorded[1]))
