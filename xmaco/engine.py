"""The engine: one compiled step and the loop around it.

``objective + parameterization -> compiled step -> Result``. The compiled step does the whole
work of one iteration in a single ``tf.function`` (traced once per run): image formation, crops,
noise, the model, the loss, the gradients, the optimizer update and the transparency
accumulation. The Python loop outside only reads the objective values, runs the callbacks and
watches for Ctrl-C and non-finite values.
"""

from __future__ import annotations

import contextlib
import logging
import math
import numbers
import os
import sys
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from . import presets, schedules
from .callbacks import Callback, ProgressBar, as_list
from .errors import NonFiniteError, OutOfMemoryError
from .objectives import CompiledObjective, Objective
from .parameterizations import Fourier, Maco, Parameterization, Pixel
from .presets import FROM_PRESET
from .result import Result
from .transforms import MIN_CROP, crop, noise_field, sample_boxes

__all__ = [
    "maco",
    "fourier",
    "pixel",
    "visualize",
    "values_range_of",
    "default_batch_size",
    "micro_batches_in_flight",
]

_ZERO_GRADIENT_STEPS = 3


def maco(
    objective: Objective,
    steps: int | None = None,
    crops: int | None = FROM_PRESET,
    image_size: int | tuple[int, int] = 512,
    crop_size: Any = None,
    noise: Any = 0.08,
    optimizer: Any = None,
    values_range: tuple[float, float] | None = None,
    spectrum: Any = None,
    seed: int | None = None,
    batch_size: int | None = None,
    jit_compile: bool = False,
    model_input_size: int | tuple[int, int] | None = None,
    callbacks: Callback | Sequence[Callback] | None = None,
    learning_rate: Any = None,
    verbose: bool | None = None,
    mixed_precision: bool = False,
    strategy: Any = None,
    preset: str = "reference",
    phase: str | None = None,
    crop_padding: bool = False,
) -> Result:
    """Visualize ``objective`` with MACO: optimise only the phase of a fixed-magnitude spectrum.

    Parameters
    ----------
    objective
        What to maximise (:class:`xmaco.Objective`); a batch objective gives a batch of
        visualizations optimised together.
    steps
        Number of optimisation steps (>= 1). None: the preset's (256 for ``"reference"``).
    crops
        Random crops of the canvas per step and visualization, resized to the model input;
        ``None`` feeds the whole canvas once per step (no crops). Default: the preset's (32).
    image_size
        Canvas size, an int or (height, width).
    crop_size
        Crop side as a fraction of the canvas' shorter side, in (0, 1]: a number or a schedule
        (a callable of the step). ``None``: the preset's, shrinking linearly over the run
        (``schedules.linear(0.5, 0.05, steps)`` for ``"reference"``). Each crop is jittered by
        N(0, 0.05) and kept inside the canvas.
    noise
        Scale ``s`` of the noise ``N(0, s) + U(-s/2, s/2)`` added to every crop, in units of
        the half-width of ``values_range`` (so 0.08 means 0.08 for a (-1, 1) model); a number
        or a schedule.
    optimizer
        None (Nadam), a name (``"nadam"``, ``"adam"``, ``"sgd"``) or a Keras optimizer.
    values_range
        (low, high) of the model's input. None: the range recorded on the model (models from
        :mod:`xmaco.zoo` carry ``xmaco_values_range``), else (0, 1).
    spectrum
        The fixed magnitude: None (natural default), a (C, H, W//2+1) array or a ``.npy`` path.
    seed
        Base seed; visualization ``i`` uses ``seed + i``, so it gets the same images alone
        (``seed=seed + i``) as inside the batch. None draws one (recorded in the result).
    batch_size
        Images per model call: the ``N * crops`` images of a step are processed in
        micro-batches of at most this size and their gradients accumulated (bounded memory,
        same result). None: chosen for the device by :func:`default_batch_size` (on CPU,
        micro-batches of 4, two at a time: faster than one call, with a fraction of its
        memory; on GPU, one call).
    jit_compile
        Compile the step with XLA.
    model_input_size
        (height, width) the crops are resized to; required when the model's spatial input size
        is unknown.
    callbacks
        :class:`xmaco.callbacks.Callback` objects.
    learning_rate
        A number or a schedule; None: the preset's (constant 1.0 for ``"reference"``, the
        MACO setting; a cosine decay from 1.0 to 0.1 over the run for ``"fast"``). Ignored
        when ``optimizer`` is a Keras optimizer instance.
    verbose
        Show a progress bar; None shows it when stderr is a terminal.
    mixed_precision
        Run the model in bfloat16 (a copy of it under Keras' ``"mixed_bfloat16"`` policy,
        float32 weights; the layers the objective reads stay float32); the phase, the image,
        the crops, the optimizer and the transparency stay float32. For accelerators with fast
        bfloat16: on this project's 2-core CPU, steps take about twice as long
        (docs/benchmarks.md).
    strategy
        A ``tf.distribute.Strategy`` to spread each step over several devices, e.g.
        ``tf.distribute.MirroredStrategy()`` for the GPUs of one host: the crops of every
        step are split evenly across its replicas, each replica runs the model (a copy with
        mirrored weights) on its share, and the replicas' gradients come back to the canvas'
        device, where one backward pass through the image formation sums them into the phase
        gradient. Same images as one device, up to rounding. None: the current device.
    preset
        Named defaults of ``steps``, ``crops``, ``crop_size``, ``learning_rate`` and ``phase``
        (:mod:`xmaco.presets`): ``"reference"``, the MACO authors' method, or ``"fast"``, half
        of its model evaluations (docs/benchmarks.md). Keywords given explicitly win;
        ``Result.config["preset"]`` records the name.
    phase
        ``"standardised"``: the phase is drawn from N(0, 1) and standardised at every step, as
        the MACO authors' implementations do; ``"uniform"``: drawn uniform on the circle and
        used as it is (see :class:`xmaco.parameterizations.Maco`). None: the preset's
        (``"standardised"`` in both presets).
    crop_padding
        False (default): every crop lies inside the canvas. True: a crop's centre lies in the
        canvas but the crop may reach outside it, where it reads zeros (the middle of a
        symmetric value range), as in Xplique's ``maco()``.

    Returns
    -------
    Result
        Images (N, H, W, C) in ``values_range``, transparency maps, history, names, config.

    Example
    -------
    >>> import keras, xmaco
    >>> inputs = keras.Input((32, 32, 3))
    >>> x = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(inputs)
    >>> model = keras.Model(inputs, x)
    >>> result = xmaco.maco(xmaco.Objective.channel(model, "conv", 1), steps=4, crops=2,
    ...                     image_size=64, seed=0)
    >>> result.images.shape, result.history.shape
    ((1, 64, 64, 3), (4, 1))
    """
    chosen = presets.get(preset)
    steps, crops, crop_size = chosen.apply(steps, crops, crop_size)
    learning_rate = chosen.rate(steps, learning_rate)
    phase = chosen.phase if phase is None else phase
    keywords = _keywords(locals(), exclude=("spectrum", "preset", "chosen", "phase"))
    result = visualize(objective, Maco(spectrum, phase), **keywords)
    result.config["preset"] = chosen.name
    return result


def fourier(
    objective: Objective,
    steps: int = 256,
    crops: int | None = 32,
    image_size: int | tuple[int, int] = 512,
    crop_size: Any = None,
    noise: Any = 0.08,
    optimizer: Any = None,
    values_range: tuple[float, float] | None = None,
    seed: int | None = None,
    batch_size: int | None = None,
    jit_compile: bool = False,
    model_input_size: int | tuple[int, int] | None = None,
    callbacks: Callback | Sequence[Callback] | None = None,
    learning_rate: Any = None,
    verbose: bool | None = None,
    decay: float = 1.0,
    mixed_precision: bool = False,
    strategy: Any = None,
    crop_padding: bool = False,
) -> Result:
    """Visualize ``objective`` with the Fourier baseline (Olah et al. 2017).

    The whole complex spectrum is optimised, scaled by ``1 / f**decay``, in the decorrelated
    colour space. Same keywords as :func:`maco` (no ``spectrum``, ``phase`` or ``preset``),
    plus ``decay``; the default
    optimizer is Adam with learning rate 0.05.

    Example
    -------
    >>> import keras, xmaco
    >>> model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3)])
    >>> xmaco.fourier(xmaco.Objective.layer(model, 0), steps=2, crops=1, image_size=32,
    ...               seed=0).config["method"]
    'fourier'
    """
    return visualize(objective, Fourier(decay), **_keywords(locals(), exclude=("decay",)))


def pixel(
    objective: Objective,
    steps: int = 256,
    crops: int | None = 32,
    image_size: int | tuple[int, int] = 512,
    crop_size: Any = None,
    noise: Any = 0.08,
    optimizer: Any = None,
    values_range: tuple[float, float] | None = None,
    seed: int | None = None,
    batch_size: int | None = None,
    jit_compile: bool = False,
    model_input_size: int | tuple[int, int] | None = None,
    callbacks: Callback | Sequence[Callback] | None = None,
    learning_rate: Any = None,
    verbose: bool | None = None,
    mixed_precision: bool = False,
    strategy: Any = None,
    crop_padding: bool = False,
) -> Result:
    """Visualize ``objective`` by optimising the pixels directly (through a sigmoid).

    Same keywords as :func:`maco` (no ``spectrum``, ``phase`` or ``preset``); the default
    optimizer is Adam with
    learning rate 0.05.

    Example
    -------
    >>> import keras, xmaco
    >>> model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3)])
    >>> xmaco.pixel(xmaco.Objective.layer(model, 0), steps=2, crops=None, image_size=16,
    ...             seed=0).images.shape
    (1, 16, 16, 3)
    """
    return visualize(objective, Pixel(), **_keywords(locals()))


def _keywords(arguments: dict[str, Any], exclude: Sequence[str] = ()) -> dict[str, Any]:
    return {k: v for k, v in arguments.items() if k != "objective" and k not in exclude}


#: Micro-batch size used on CPU when ``batch_size`` is None. Measured on EfficientNet-Lite0, 32
#: crops of 224 (docs/benchmarks.md): with :data:`CPU_IN_FLIGHT` micro-batches running at once,
#: a whole step takes 0.97x the time of the bare model pass in one call on the 32 crops, with
#: 1.2 GiB peak memory instead of 1.8; 8 or 16 were within 5% of it, with more memory.
CPU_MICRO_BATCH = 4

#: Micro-batches that run at the same time on CPU. One call of EfficientNet-Lite0 (small
#: depthwise convolutions) leaves part of 2 cores idle (a run used 1.3 of them, one micro-batch
#: at a time); two independent micro-batches side by side fill them: the bare pass took 0.82x
#: the time of one call on 32 (docs/benchmarks.md). An accelerator runs one at a time.
CPU_IN_FLIGHT = 2


def default_batch_size() -> int | None:
    """The micro-batch size used when ``batch_size`` is None: :data:`CPU_MICRO_BATCH` when no
    accelerator is visible to TensorFlow, else None (one model call per step).

    Example
    -------
    >>> import tensorflow as tf
    >>> default_batch_size() == (None if tf.config.list_logical_devices("GPU") else 4)
    True
    """
    return None if _accelerators() else CPU_MICRO_BATCH


def micro_batches_in_flight() -> int:
    """How many micro-batches of a step run at the same time: :data:`CPU_IN_FLIGHT` when no
    accelerator is visible to TensorFlow, else 1. The images are the same either way; the
    model's peak memory grows with the number in flight.

    Example
    -------
    >>> import tensorflow as tf
    >>> micro_batches_in_flight() == (1 if tf.config.list_logical_devices("GPU") else 2)
    True
    """
    return 1 if _accelerators() else CPU_IN_FLIGHT


def _accelerators() -> list[Any]:
    return tf.config.list_logical_devices("GPU") + tf.config.list_logical_devices("TPU")


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


def visualize(
    objective: Objective,
    parameterization: Parameterization,
    steps: int = 256,
    crops: int | None = 32,
    image_size: int | tuple[int, int] = 512,
    crop_size: Any = None,
    noise: Any = 0.08,
    optimizer: Any = None,
    values_range: tuple[float, float] | None = None,
    seed: int | None = None,
    batch_size: int | None = None,
    jit_compile: bool = False,
    model_input_size: int | tuple[int, int] | None = None,
    callbacks: Callback | Sequence[Callback] | None = None,
    learning_rate: Any = None,
    verbose: bool | None = None,
    mixed_precision: bool = False,
    strategy: Any = None,
    crop_padding: bool = False,
) -> Result:
    """The one engine behind :func:`maco`, :func:`fourier` and :func:`pixel`.

    ``parameterization`` is any :class:`xmaco.parameterizations.Parameterization`; the other
    keywords are those of :func:`maco`.

    Example
    -------
    >>> import keras, xmaco
    >>> from xmaco.parameterizations import Maco
    >>> model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3)])
    >>> visualize(xmaco.Objective.layer(model, 0), Maco(), steps=1, crops=1, image_size=32,
    ...           seed=3).seed
    3
    """
    if not isinstance(objective, Objective):
        raise TypeError(
            "Expected objective to be an xmaco.Objective (e.g. Objective.neuron(model, "
            f"'logits', 2)). Received: objective of type {type(objective).__name__}"
        )
    if not isinstance(parameterization, Parameterization):
        raise TypeError(
            "Expected parameterization to be an xmaco.parameterizations.Parameterization. "
            f"Received: {type(parameterization).__name__}"
        )
    model = objective.model
    steps = _positive_int(steps, "steps")
    crops = None if crops is None else _positive_int(crops, "crops")
    height, width = _size(image_size, "image_size", minimum=8)
    input_size = _input_size(model, model_input_size)
    low, high = _values_range(values_range, model)
    crop_schedule = schedules.as_schedule(
        schedules.linear(0.5, MIN_CROP, steps) if crop_size is None else crop_size,
        "crop_size",
        0.0,
        1.0,
    )
    noise_schedule = schedules.as_schedule(noise, "noise", 0.0, None, low_inclusive=True)
    rate = parameterization.default_learning_rate if learning_rate is None else learning_rate
    lr_schedule = schedules.as_schedule(rate, "learning_rate", 0.0, None)
    optimizer, owns_rate = _optimizer(optimizer, parameterization, float(lr_schedule(0)))
    seed = _seed(seed)
    batch_size = (
        default_batch_size() if batch_size is None else _positive_int(batch_size, "batch_size")
    )
    if not isinstance(jit_compile, (bool, np.bool_)):
        raise TypeError(
            f"Expected jit_compile to be True or False. Received: jit_compile={jit_compile!r}"
        )
    if not isinstance(mixed_precision, (bool, np.bool_)):
        raise TypeError(
            "Expected mixed_precision to be True or False. Received: "
            f"mixed_precision={mixed_precision!r}"
        )
    if strategy is not None and not isinstance(strategy, tf.distribute.Strategy):
        raise TypeError(
            "Expected strategy to be a tf.distribute.Strategy (e.g. "
            "tf.distribute.MirroredStrategy()) or None. Received: strategy of type "
            f"{type(strategy).__name__}"
        )
    if not isinstance(crop_padding, (bool, np.bool_)):
        raise TypeError(
            f"Expected crop_padding to be True or False. Received: crop_padding={crop_padding!r}"
        )
    if strategy is not None and jit_compile:
        raise ValueError(
            "Expected jit_compile=False with a strategy: XLA compiles the step of one device. "
            f"Received: jit_compile=True, strategy={type(strategy).__name__}"
        )
    callbacks = as_list(callbacks)
    if verbose or (verbose is None and sys.stderr.isatty()):
        callbacks = [ProgressBar(), *callbacks]

    n = objective.batch_size
    per_visualization = crops or 1
    channels = int(model.inputs[0].shape[-1])
    seeds = [seed + i for i in range(n)]
    variables = parameterization.build(seeds, height, width, channels)
    compiled = _prepared(objective, bool(mixed_precision), strategy).compile()
    optimizer.build(variables)
    transparency = tf.Variable(tf.zeros([n, height, width, channels]), name="transparency")
    backup = [tf.Variable(v, name="backup") for v in variables]

    step_fn = _make_step(
        compiled,
        parameterization,
        variables,
        optimizer,
        transparency,
        backup,
        seeds=tf.constant(seeds, tf.int64),
        crops=crops,
        crop_padding=bool(crop_padding),
        canvas=(height, width),
        input_size=input_size,
        values_range=(low, high),
        crop_schedule=crop_schedule,
        noise_schedule=noise_schedule,
        lr_schedule=lr_schedule if owns_rate else None,
        batch_size=batch_size,
        in_flight=micro_batches_in_flight(),
        jit_compile=bool(jit_compile),
        strategy=strategy,
    )

    names = objective.names
    config = {
        **parameterization.describe(),
        "model": model.name,
        "layers": objective.layers,
        "objective": names,
        "steps": steps,
        "crops": crops,
        "image_size": [height, width],
        "model_input_size": list(input_size),
        "crop_size": schedules.describe(crop_schedule),
        "crop_padding": bool(crop_padding),
        "noise": schedules.describe(noise_schedule),
        "learning_rate": schedules.describe(lr_schedule) if owns_rate else None,
        "optimizer": type(optimizer).__name__,
        "values_range": [low, high],
        "seed": seed,
        "batch_size": batch_size,
        "jit_compile": bool(jit_compile),
        "mixed_precision": bool(mixed_precision),
        "replicas": 1 if strategy is None else int(strategy.num_replicas_in_sync),
    }
    live = _LiveRun(parameterization, variables, transparency, steps, names, (low, high))
    for callback in callbacks:
        callback.set_run(live)
        callback.on_run_begin({"steps": steps, "names": names})

    history: list[np.ndarray] = []
    zero_gradient = np.ones(n, dtype=bool)
    interrupted, failure = False, None
    start = time.perf_counter()
    try:
        for step in range(steps):
            try:
                with _quiet_tracing(first=step == 0):
                    outputs = step_fn(tf.constant(step, tf.int64))
            except tf.errors.ResourceExhaustedError:
                failure = OutOfMemoryError(
                    _oom_message(
                        step, n, per_visualization, input_size, (height, width), batch_size
                    )
                )
                break
            values, gradient_mass, size_now, noise_now, lr_now = (o.numpy() for o in outputs)
            if not np.all(np.isfinite(values)):
                for saved, variable in zip(backup, variables, strict=True):
                    variable.assign(saved)
                bad = np.flatnonzero(~np.isfinite(values)).tolist()
                failure = NonFiniteError(
                    f"The objective became non-finite ({values[bad[0]]}) at step {step} for "
                    f"visualization(s) {bad} ({', '.join(names[i] for i in bad[:3])}). The run "
                    f"stopped; error.result holds the images of the last finite step ({step}). "
                    "Lower the learning rate, check the model for overflow, or use float32."
                )
                break
            history.append(values.astype(np.float32))
            if step < _ZERO_GRADIENT_STEPS:
                zero_gradient &= gradient_mass == 0.0
                if step == _ZERO_GRADIENT_STEPS - 1 or step == steps - 1:
                    _warn_zero_gradient(zero_gradient, names, objective.layers)
            logs = {
                "objective": values,
                "crop_size": float(size_now),
                "noise": float(noise_now),
                "learning_rate": float(lr_now),
            }
            for callback in callbacks:
                callback.on_step_end(step, logs)
            if any(callback.stop_run for callback in callbacks):
                interrupted = True
                break
    except KeyboardInterrupt:
        interrupted = True
    seconds = time.perf_counter() - start
    done = len(history)
    result = Result(
        images=live.images(),
        transparency=transparency.numpy(),
        history=np.asarray(history, np.float32).reshape(done, n),
        names=names,
        config=config,
        seed=seed,
        interrupted=interrupted or failure is not None,
        stats={
            "steps_done": done,
            "seconds": seconds,
            "steps_per_second": done / seconds if seconds > 0 else 0.0,
            "traces": int(step_fn.experimental_get_tracing_count()),
        },
    )
    for callback in callbacks:
        callback.on_run_end(result)
    if failure is not None:
        failure.result = result
        raise failure
    return result


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


class _LiveRun:
    """The view of the running optimisation given to callbacks."""

    def __init__(self, parameterization, variables, transparency, steps, names, values_range):
        self._parameterization = parameterization
        self._variables = variables
        self._transparency = transparency
        self.steps = steps
        self.names = names
        self.values_range = values_range

    def images(self) -> np.ndarray:
        low, high = self.values_range
        images = self._parameterization.images(self._variables)
        return (low + (high - low) * images).numpy().astype(np.float32)

    def transparency(self) -> np.ndarray:
        return self._transparency.numpy()


def _make_step(
    compiled: CompiledObjective,
    parameterization: Parameterization,
    variables: list[tf.Variable],
    optimizer: Any,
    transparency: tf.Variable,
    backup: list[tf.Variable],
    *,
    seeds: tf.Tensor,
    crops: int | None,
    crop_padding: bool,
    canvas: tuple[int, int],
    input_size: tuple[int, int],
    values_range: tuple[float, float],
    crop_schedule: Any,
    noise_schedule: Any,
    lr_schedule: Any,
    batch_size: int | None,
    in_flight: int,
    jit_compile: bool,
    strategy: Any,
):
    low, high = values_range
    n = int(seeds.shape[0])
    channels = int(transparency.shape[-1])
    per_visualization = crops or 1
    visualization = tf.repeat(tf.range(n, dtype=tf.int32), per_visualization)

    total = n * per_visualization

    def local_gradients(inputs, owners, boxes, weights):
        """d(sum of weights * scores) / per_visualization / d(inputs), and the scores, in
        micro-batches of at most ``batch_size`` images, ``in_flight`` of them at a time (each
        micro-batch is independent of the others: the order does not change the result).

        ``owners`` says which visualization each input belongs to; ``boxes`` (B, 4) which
        region of the canvas it shows (objectives that compare with a reference image crop the
        same region of it); ``weights`` is 1 for real inputs and 0 for padding."""
        count = int(inputs.shape[0])
        if batch_size is None or batch_size >= count:
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                scores = compiled.scores(inputs, owners, boxes)
                loss = tf.reduce_sum(scores * weights) / per_visualization
            return tape.gradient(loss, inputs), scores
        # the fewest chunks of at most batch_size images, balanced so that padding stays small
        chunks = math.ceil(count / batch_size)
        size = math.ceil(count / chunks)
        inputs, owners, boxes, weights = _pad([inputs, owners, boxes, weights], chunks * size)
        grads = tf.TensorArray(inputs.dtype, size=chunks, element_shape=[size, *inputs.shape[1:]])
        scores = tf.TensorArray(tf.float32, size=chunks, element_shape=[size])

        def body(i, grads, scores):
            start = i * size
            chunk = tf.slice(inputs, [start, 0, 0, 0], [size, -1, -1, -1])
            with tf.GradientTape() as tape:
                tape.watch(chunk)
                chunk_scores = compiled.scores(
                    chunk, tf.slice(owners, [start], [size]), tf.slice(boxes, [start, 0], [size, 4])
                )
                kept = chunk_scores * tf.slice(weights, [start], [size])
                loss = tf.reduce_sum(kept) / per_visualization
            grads = grads.write(i, tape.gradient(loss, chunk))
            return i + 1, grads, scores.write(i, chunk_scores)

        _, grads, scores = tf.while_loop(
            lambda i, *_: i < chunks,
            body,
            [tf.constant(0), grads, scores],
            parallel_iterations=in_flight,
        )
        flat = tf.reshape(grads.stack(), [-1, *inputs.shape[1:]])
        return flat[:count], tf.reshape(scores.stack(), [-1])[:count]

    def model_gradients(inputs: tf.Tensor, boxes: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """The input gradients and scores of the step's crops, on one device or split evenly
        across the replicas of ``strategy``."""
        weights = tf.ones([total])
        if strategy is None:
            return local_gradients(inputs, visualization, boxes, weights)
        replicas = int(strategy.num_replicas_in_sync)
        share = math.ceil(total / replicas)
        padded = _pad([inputs, visualization, boxes, weights], replicas * share)

        def shares(context):
            start = context.replica_id_in_sync_group * share
            return tuple(tensor[start : start + share] for tensor in padded)

        values = strategy.experimental_distribute_values_from_function(shares)
        outputs = strategy.run(lambda value: local_gradients(*value), args=(values,))
        grads, scores = (
            tf.concat(strategy.experimental_local_results(output), axis=0)[:total]
            for output in outputs
        )
        return grads, scores

    def update(boxes, noise, rate):
        """Everything but the random draws (XLA draws differ from the default kernels, so
        they stay outside the compiled cluster: a jit run sees the same crops and noise)."""
        if lr_schedule is not None:
            optimizer.learning_rate.assign(rate)
        with tf.GradientTape() as tape:
            image = low + (high - low) * parameterization.images(variables)
            cropped = crop(image, boxes, per_visualization, input_size, xla=jit_compile)
        regions = boxes if boxes is not None else tf.tile([[0.0, 0.0, 1.0, 1.0]], [n, 1])
        d_inputs, scores = model_gradients(cropped + noise, regions)
        *grads, d_image = tape.gradient(cropped, [*variables, image], output_gradients=d_inputs)
        optimizer.apply_gradients([(-g, v) for g, v in zip(grads, variables, strict=True)])
        mass = tf.abs(d_image)
        values = tf.reduce_mean(tf.reshape(scores, [n, per_visualization]), axis=1)
        # a step whose objective is not finite ends the run: its gradients are not kept
        finite = tf.logical_and(tf.reduce_all(tf.math.is_finite(values)), tf.math.is_finite(mass))
        transparency.assign_add(tf.where(finite, mass, 0.0))
        return values, tf.reduce_sum(mass, axis=[1, 2, 3])

    compiled_update = tf.function(update, jit_compile=True) if jit_compile else update

    def step(step_index: tf.Tensor):
        for saved, variable in zip(backup, variables, strict=True):
            saved.assign(variable)
        size = tf.cast(crop_schedule(step_index), tf.float32)
        scale = tf.cast(noise_schedule(step_index), tf.float32)
        if lr_schedule is not None:
            rate = tf.cast(lr_schedule(step_index), tf.float32)
        else:
            rate = tf.cast(optimizer.learning_rate, tf.float32)
        boxes = None
        if crops is not None:
            boxes = sample_boxes(seeds, step_index, crops, size, canvas, padding=crop_padding)
        shape = [per_visualization, *input_size, channels]
        noise = noise_field(seeds, step_index, shape, scale * (high - low) / 2.0)
        values, mass = compiled_update(boxes, noise, rate)
        return values, mass, size, scale, rate

    return tf.function(step)


def _pad(tensors: list[tf.Tensor], length: int) -> list[tf.Tensor]:
    """Each tensor zero-padded along its first axis to ``length``."""
    padded = []
    for tensor in tensors:
        extra = length - int(tensor.shape[0])
        if extra:
            tensor = tf.pad(tensor, [[0, extra]] + [[0, 0]] * (tensor.shape.rank - 1))
        padded.append(tensor)
    return padded


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


def _warn_zero_gradient(zero: np.ndarray, names: list[str], layers: list[str]) -> None:
    if zero.any():
        which = [names[i] for i in np.flatnonzero(zero)[:3]]
        warnings.warn(
            f"The gradient of the objective is zero everywhere for {int(zero.sum())} "
            f"visualization(s) ({', '.join(which)}) in the first steps: the unit may be dead "
            f"(e.g. a ReLU that never fires), or layer(s) {layers} may not depend on the input. "
            "The images will not change.",
            RuntimeWarning,
            stacklevel=_caller_stacklevel(),
        )


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside xmaco."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def _oom_message(step, n, crops, input_size, canvas, batch_size) -> str:
    if batch_size == 1:
        advice = "batch_size is already 1: lower crops or image_size"
    else:
        smaller = max(1, (batch_size or n * crops) // 2)
        advice = f"Set a smaller batch_size (micro-batches, e.g. batch_size={smaller}), or lower "
        advice += "crops or image_size"
    return (
        f"Out of device memory at step {step}: {n} visualization(s) x {crops} crops of "
        f"{input_size[0]}x{input_size[1]} per step, canvas {canvas[0]}x{canvas[1]}, batch_size="
        f"{batch_size}. {advice}. error.result holds the images so far."
    )


def _positive_int(value: Any, argument: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(
            f"Expected {argument} to be a positive integer. Received: {argument}={value!r}"
        )
    return int(value)


def _size(value: Any, argument: str, minimum: int = 1) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, numbers.Integral) else value
    try:
        height, width = pair
    except (TypeError, ValueError):
        raise ValueError(
            f"Expected {argument} to be an int or a (height, width) pair. Received: "
            f"{argument}={value!r}"
        ) from None
    for side in (height, width):
        if isinstance(side, bool) or not isinstance(side, numbers.Integral) or side < minimum:
            raise ValueError(
                f"Expected {argument} to be an int >= {minimum} or a (height, width) pair of "
                f"them. Received: {argument}={value!r}"
            )
    return int(height), int(width)


def _input_size(model: Any, model_input_size: Any) -> tuple[int, int]:
    if model_input_size is not None:
        return _size(model_input_size, "model_input_size")
    shape = tuple(model.inputs[0].shape)
    if shape[1] is None or shape[2] is None:
        raise ValueError(
            f"Expected model_input_size=(height, width) for model '{model.name}', whose input "
            f"size is unknown. Received: model_input_size=None (input shape {shape})"
        )
    return int(shape[1]), int(shape[2])


def _values_range(values_range: Any, model: Any) -> tuple[float, float]:
    if values_range is None:
        values_range = values_range_of(model) or (0.0, 1.0)
    try:
        low, high = (float(v) for v in values_range)
    except (TypeError, ValueError):
        raise ValueError(
            f"Expected values_range to be a (low, high) pair of numbers. Received: "
            f"values_range={values_range!r}"
        ) from None
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise ValueError(
            f"Expected values_range to be finite with low < high. Received: "
            f"values_range={values_range!r}"
        )
    return low, high


def _seed(seed: Any) -> int:
    if seed is None:
        return int(np.random.SeedSequence().entropy % (2**31 - 1))
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**62:
        raise ValueError(
            f"Expected seed to be a non-negative integer below 2**62. Received: seed={seed!r}"
        )
    return int(seed)


_OPTIMIZERS = {"nadam": "Nadam", "adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}


def _optimizer(optimizer: Any, parameterization: Parameterization, rate: float):
    """Return (optimizer, whether the engine drives its learning rate)."""
    import keras

    if optimizer is None:
        optimizer = parameterization.default_optimizer
    if isinstance(optimizer, str):
        key = optimizer.lower()
        if key not in _OPTIMIZERS:
            raise ValueError(
                f"Expected optimizer to be one of {sorted(_OPTIMIZERS)} or a keras optimizer. "
                f"Received: optimizer={optimizer!r}"
            )
        return getattr(keras.optimizers, _OPTIMIZERS[key])(learning_rate=rate), True
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise TypeError(
            "Expected optimizer to be None, a name or a keras.optimizers.Optimizer. Received: "
            f"{type(optimizer).__name__}"
        )
    if optimizer.built:
        raise ValueError(
            "Expected optimizer to be a fresh (unbuilt) keras optimizer: its state would leak "
            f"from a previous run. Received: a built {type(optimizer).__name__}"
        )
    return optimizer, False
