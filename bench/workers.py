"""Measurements that run in a child process, one setting per process.

A fresh process per setting gives each its own peak resident memory (``ru_maxrss``; TensorFlow
allocates outside ``tracemalloc``'s sight) and keeps one setting's caches and compiled
functions from helping the next. ``python bench/run.py worker '<json task>'`` runs
:func:`run_task` and prints its JSON answer on the last line of stdout.

Every timed step is followed by a *yardstick*: the bare forward and backward pass of the model
over 32 inputs, as 8 calls on 4 inputs. The ratio of a step to the yardstick next to it
cancels most of the noise of a shared machine (other processes slow both alike), so settings
measured minutes apart stay comparable.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

#: The models the suite runs on: builder, layer read by the objective, input side.
MODELS = {
    "efficientnet_lite0": ("efficientnet_lite0", "logits", 224),
    "resnet50v2": ("resnet50v2", "predictions", 224),
    "tiny": ("tiny", "logits", 32),
}

YARDSTICK_CHUNK, YARDSTICK_CHUNKS = 4, 8


def build_model(name: str):
    """The Keras model ``name`` of :data:`MODELS` (``tiny``: a 3-layer CNN for smoke runs)."""
    import keras

    if name == "tiny":
        keras.utils.set_random_seed(0)
        inputs = keras.Input((32, 32, 3))
        x = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(inputs)
        x = keras.layers.GlobalAveragePooling2D()(x)
        model = keras.Model(inputs, keras.layers.Dense(10, name="logits")(x), name="tiny")
        model.xmaco_values_range = (-1.0, 1.0)
        return model
    from xmaco import zoo

    if name == "efficientnet_lite0":
        return zoo.efficientnet_lite0()
    return zoo.load(name, weights=None)


def use_devices_politely() -> None:
    """Let TensorFlow take GPU memory as needed (not all of it at once), so that the device's
    peak memory can be read at the end."""
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)


def device_peak_mb() -> float | None:
    """Peak memory TensorFlow allocated on the first GPU, in MiB; None without a GPU."""
    import tensorflow as tf

    if not tf.config.list_logical_devices("GPU"):
        return None
    return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20


def peak_rss_mb() -> float:
    """Peak resident memory of this process, in MiB (Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def gradient_pass(model, layer: str, unit: int = 1):
    """A compiled ``inputs -> d(mean of unit of layer)/d(inputs)``: the bare model work."""
    import keras
    import tensorflow as tf

    features = keras.Model(model.inputs, model.get_layer(layer).output)

    @tf.function
    def gradient(inputs):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = tf.cast(features(inputs, training=False), tf.float32)
            loss = tf.reduce_mean(tf.reshape(outputs, [tf.shape(inputs)[0], -1])[:, unit])
        return tape.gradient(loss, inputs)

    return gradient


def gradient_loop(model, layer: str, chunk: int, in_flight: int, unit: int = 1):
    """A compiled ``inputs -> input gradients`` that runs the bare pass on micro-batches of
    ``chunk`` inputs, ``in_flight`` of them at a time: the model work of an xmaco step as the
    engine runs it (a ``tf.while_loop`` with ``parallel_iterations=in_flight``)."""
    import tensorflow as tf

    gradient = gradient_pass(model, layer, unit)

    @tf.function
    def loop(inputs):
        count = int(inputs.shape[0]) // chunk
        grads = tf.TensorArray(inputs.dtype, size=count, element_shape=[chunk, *inputs.shape[1:]])

        def body(i, grads):
            part = tf.slice(inputs, [i * chunk, 0, 0, 0], [chunk, -1, -1, -1])
            return i + 1, grads.write(i, gradient(part))

        _, grads = tf.while_loop(
            lambda i, _: i < count, body, [tf.constant(0), grads], parallel_iterations=in_flight
        )
        return grads.concat()

    return loop


class Yardstick:
    """Times the bare pass over 32 inputs as 8 calls on 4, one after the other: a fixed amount
    of model work next to every step, to cancel the machine's noise (not the floor)."""

    def __init__(self, model, layer: str, side: int):
        import tensorflow as tf

        self.gradient = gradient_pass(model, layer)
        self.inputs = tf.random.stateless_uniform(
            [YARDSTICK_CHUNK, side, side, 3], [0, 1], -1.0, 1.0
        )
        self.gradient(self.inputs)

    def __call__(self) -> float:
        start = time.perf_counter()
        for _ in range(YARDSTICK_CHUNKS):
            self.gradient(self.inputs).numpy()
        return time.perf_counter() - start


class Ticker:
    """Called once per step: records the time since its last call returned (one step), then
    runs the yardstick and records it too."""

    def __init__(self, yardstick: Yardstick | None):
        self.yardstick = yardstick
        self.steps: list[float] = []
        self.yards: list[float] = []
        self._last: float | None = None

    def __call__(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.steps.append(now - self._last)
            self.yards.append(self.yardstick() if self.yardstick else float("nan"))
        self._last = time.perf_counter()


# ---------------------------------------------------------------------------- step timing
def time_steps(task: dict[str, Any]) -> dict[str, Any]:
    """Per-step seconds of one contender, each followed by a yardstick.

    task keys: ``model``, ``contender`` (``xmaco``, ``xplique``, ``bare``), ``warm`` (steps
    dropped: the traced first step), ``timed``, ``settings`` (for xmaco: keywords of
    :func:`xmaco.maco`, plus ``n``, visualizations per run; for bare: ``batch`` and ``chunk``).
    """
    import tensorflow as tf

    use_devices_politely()
    name, layer, side = MODELS[task["model"]]
    model = build_model(name)
    yardstick = Yardstick(model, layer, side) if task.get("yardstick", True) else None
    baseline = peak_rss_mb()
    ticker = Ticker(yardstick)
    settings = dict(task.get("settings", {}))
    warm, timed = int(task.get("warm", 1)), int(task["timed"])
    contender = task["contender"]
    started = time.perf_counter()
    if contender == "xmaco":
        import xmaco
        from xmaco.callbacks import Callback

        class Clock(Callback):
            def on_run_begin(self, logs):
                ticker()

            def on_step_end(self, step, logs):
                ticker()

        n = int(settings.pop("n", 1))
        if "in_flight" in settings:  # how many micro-batches run at a time on CPU
            import xmaco.engine

            xmaco.devices.CPU_IN_FLIGHT = int(settings.pop("in_flight"))
        units = int(model.get_layer(layer).output.shape[-1])
        objective = xmaco.Objective.neuron(model, layer, [(1 + 37 * i) % units for i in range(n)])
        result = xmaco.maco(
            objective, steps=warm + timed, seed=0, callbacks=[Clock()], verbose=False, **settings
        )
        extra = {"traces": result.stats["traces"], "config_batch_size": result.config["batch_size"]}
    elif contender == "xplique":
        tf.random.set_seed(0)
        steps_module, maco = _xplique()
        original = steps_module.maco_optimisation_step

        def timed_step(*args, **kwargs):
            ticker()
            return original(*args, **kwargs)

        steps_module.maco_optimisation_step = timed_step
        try:
            from xplique.features_visualizations import Objective as XObjective

            maco(
                XObjective.neuron(model, layer, 1),
                nb_steps=warm + timed + 1,  # the last step is not followed by a tick
                nb_crops=settings.get("crops", 32),
                custom_shape=(settings.get("image_size", 512),) * 2,
            )
        finally:
            steps_module.maco_optimisation_step = original
        extra = {}
    elif contender == "bare":
        batch, chunk = int(settings.get("batch", 32)), int(settings.get("chunk", 32))
        in_flight = int(settings.get("in_flight", 1))
        if chunk == batch:
            gradient = gradient_pass(model, layer)
        else:
            gradient = gradient_loop(model, layer, chunk, in_flight)
        inputs = tf.random.stateless_uniform([batch, side, side, 3], [0, 2], -1.0, 1.0)
        gradient(inputs)
        ticker()
        for _ in range(warm + timed):
            gradient(inputs).numpy()
            ticker()
        extra = {}
    else:
        raise ValueError(f"unknown contender {contender!r}")
    return {
        "step_seconds": ticker.steps[warm:],
        "yardstick_seconds": ticker.yards[warm:],
        "warm_seconds": ticker.steps[:warm],
        "wall_seconds": time.perf_counter() - started,
        "peak_rss_mb": peak_rss_mb(),
        "baseline_rss_mb": baseline,
        "device_peak_mb": device_peak_mb(),
        **extra,
    }


def _xplique():
    """Xplique's ``maco`` module (where its compiled step lives) and its ``maco`` function."""
    import xplique.features_visualizations  # noqa: F401

    module = sys.modules["xplique.features_visualizations.maco"]
    return module, module.maco


# ---------------------------------------------------------------------------- the pieces
def time_pieces(task: dict[str, Any]) -> dict[str, Any]:
    """Each piece of an xmaco step alone, next to the bare pass over the same 32 crops.

    Returns, per piece, its median time divided by the bare pass (one call on 32 inputs) timed
    just before it, over ``rounds`` rounds.
    """
    import keras
    import tensorflow as tf

    from xmaco.devices import CPU_IN_FLIGHT, CPU_MICRO_BATCH
    from xmaco.parameterizations import Maco
    from xmaco.transforms import crop, noise_field, sample_boxes

    name, layer, side = MODELS[task["model"]]
    model = build_model(name)
    crops, canvas = int(task.get("crops", 32)), int(task.get("image_size", 512))
    bare = gradient_pass(model, layer)
    batch = tf.random.stateless_uniform([crops, side, side, 3], [0, 3], -1.0, 1.0)
    chunk = batch[:YARDSTICK_CHUNK]
    seeds, step = tf.constant([0], tf.int64), tf.constant(3, tf.int64)
    parameterization = Maco()
    state = parameterization.build([0], canvas, canvas, 3)
    (phase,) = state.variables
    boxes = sample_boxes(seeds, step, crops, 0.3, (canvas, canvas))
    image = parameterization.images(state)
    d_crops = tf.random.stateless_normal([crops, side, side, 3], [0, 4])
    d_phase = tf.random.stateless_normal(phase.shape, [0, 5])
    d_image = tf.random.stateless_normal(image.shape, [0, 6])
    optimizer = keras.optimizers.Nadam(1.0)
    optimizer.build([phase])
    transparency = tf.Variable(tf.zeros_like(image))

    @tf.function
    def image_formation():
        with tf.GradientTape() as tape:
            formed = parameterization.images(state)
        return tape.gradient(formed, phase, output_gradients=d_image)

    @tf.function
    def crops_and_resize():
        with tf.GradientTape() as tape:
            tape.watch(image)
            cropped = crop(image, boxes, crops, (side, side))
        return tape.gradient(cropped, image, output_gradients=d_crops)

    @tf.function
    def noise():
        return noise_field(seeds, step, [crops, side, side, 3], 0.08)

    @tf.function
    def noise_two_draws():
        # the formulation before the level table: one normal and one uniform draw per value
        shape = [crops, side, side, 3]
        gauss = tf.random.stateless_normal(shape, seed=[0, 7], alg="philox")
        uniform = tf.random.stateless_uniform(shape, [0, 8], -0.5, 0.5, alg="philox")
        return 0.08 * (gauss + uniform)

    @tf.function
    def boxes_draw():
        return sample_boxes(seeds, step, crops, 0.3, (canvas, canvas))

    @tf.function
    def optimizer_update():
        optimizer.apply_gradients([(-d_phase, phase)])
        return phase.value()

    @tf.function
    def transparency_sum():
        mass = tf.abs(d_image)
        transparency.assign_add(tf.where(tf.math.is_finite(mass), mass, 0.0))
        return tf.reduce_sum(mass, axis=[1, 2, 3])

    model_micro_batches = gradient_loop(model, layer, CPU_MICRO_BATCH, CPU_IN_FLIGHT)

    pieces = {
        "model, micro-batches of 4, two at a time": lambda: model_micro_batches(batch),
        "image formation (forward + backward)": image_formation,
        "crops (crop_and_resize forward + backward)": crops_and_resize,
        "noise": noise,
        "noise, as a normal + a uniform draw (before)": noise_two_draws,
        "crop boxes": boxes_draw,
        "optimizer (Nadam)": optimizer_update,
        "transparency": transparency_sum,
    }
    for piece in pieces.values():
        _finish(piece())
    _finish(bare(chunk))

    def clock(function) -> float:
        start = time.perf_counter()
        _finish(function())
        return time.perf_counter() - start

    fractions: dict[str, list[float]] = {key: [] for key in pieces}
    bare_seconds = []
    for _ in range(int(task.get("rounds", 5))):
        reference = clock(lambda: bare(batch))
        bare_seconds.append(reference)
        for key, piece in pieces.items():
            fractions[key].append(float(np.median([clock(piece) for _ in range(3)])) / reference)
    return {
        "fractions": fractions,
        "bare_seconds": bare_seconds,
        "peak_rss_mb": peak_rss_mb(),
    }


def _finish(outputs) -> None:
    import tensorflow as tf

    for value in tf.nest.flatten(outputs):
        if value is not None and hasattr(value, "numpy"):
            value.numpy()


def ablation(task: dict[str, Any]) -> dict[str, Any]:
    """One run and seed of the ablation section (``bench/ablation.py``)."""
    import ablation as section

    return section.worker(task, build_model)


TASKS = {"steps": time_steps, "pieces": time_pieces, "ablation": ablation}


def run_task(task: dict[str, Any]) -> dict[str, Any]:
    """Run one task (``task["kind"]`` in :data:`TASKS`)."""
    return TASKS[task["kind"]](task)
