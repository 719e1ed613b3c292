"""Fixtures of the robustness tests: tiny models that fail on purpose, and process helpers.

Everything here is deterministic: the faulty layers count what they have seen and fail once a
threshold is passed, so a failure happens at a known step, not at a random one. The tests
reach the helpers through the ``faults`` fixture (test modules are imported with
``--import-mode=importlib`` and cannot import this file).
"""

from __future__ import annotations

import os
import types
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

ROOT = Path(__file__).resolve().parents[2]

# The smallest settings that still run the whole engine (crops, noise, the optimizer).
TINY_RUN = dict(crops=2, image_size=32, seed=0, verbose=False)


class PoisonAfter(keras.layers.Layer):
    """Adds ``value`` (NaN or Inf) to the chosen channels once more than ``after`` images have
    passed through it.

    The count lives in a non-trainable variable updated inside the compiled step, so the
    poison appears at a fixed step whatever the micro-batching; ``seen.assign(0)`` re-arms it.
    Adding a constant keeps the gradient with respect to the input finite before the threshold
    (a ``where`` between ``x`` and ``x * nan`` would leak NaN into the gradient at once).
    """

    def __init__(self, after: int, value: float, channels: list[int] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.after = after
        self.value = value
        self.channels = channels
        self.seen = self.add_weight(shape=(), initializer="zeros", trainable=False, name="seen")

    def call(self, inputs):
        self.seen.assign_add(tf.cast(tf.shape(inputs)[0], tf.float32))
        poison = tf.where(self.seen > self.after, self.value, 0.0)
        if self.channels is not None:
            mask = np.zeros(inputs.shape[-1], np.float32)
            mask[self.channels] = 1.0
            # 0 * inf is NaN: select instead of multiplying, so that other channels stay finite
            poison = tf.where(tf.constant(mask) > 0, poison, 0.0)
        return inputs + poison


class ExhaustAfter(keras.layers.Layer):
    """Raises ``MemoryError`` inside the step after ``after`` calls, which TensorFlow reports as
    ``tf.errors.ResourceExhaustedError``, exactly as a real out-of-memory on a device.

    ``calls = 0`` re-arms it.
    """

    def __init__(self, after: int, **kwargs):
        super().__init__(**kwargs)
        self.after = after
        self.calls = 0

    def call(self, inputs):
        def check():
            self.calls += 1
            if self.calls > self.after:
                raise MemoryError("OOM when allocating tensor of shape [32,512,512,3]")
            return np.float32(0.0)

        flag = tf.py_function(check, [], tf.float32)
        flag.set_shape([])
        return inputs + flag

    def compute_output_shape(self, input_shape):
        return input_shape


def conv_model(middle: keras.layers.Layer | None = None, channels: int = 4, name: str = "conv"):
    """Input 16x16x3 -> [middle] -> Conv2D(channels, 3) named ``name``: small and fast."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = inputs if middle is None else middle(inputs)
    outputs = keras.layers.Conv2D(channels, 3, name=name)(x)
    return keras.Model(inputs, outputs, name="robust_conv")


def child_environment() -> dict[str, str]:
    """The environment of a child Python process that imports this checkout quietly."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "TF_CPP_MIN_LOG_LEVEL": "3"}


def resident_mb() -> float:
    """Resident memory of this process in MB (Linux /proc; NaN elsewhere)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


@pytest.fixture(scope="session")
def faults() -> types.SimpleNamespace:
    """The helpers above, for the test modules."""
    return types.SimpleNamespace(
        PoisonAfter=PoisonAfter,
        ExhaustAfter=ExhaustAfter,
        conv_model=conv_model,
        child_environment=child_environment,
        resident_mb=resident_mb,
        root=ROOT,
        tiny_run=dict(TINY_RUN),
    )
