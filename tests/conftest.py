"""Shared fixtures: tiny Keras models built in a few lines (no network, no weights files)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import keras  # noqa: E402
import pytest  # noqa: E402


def make_cnn(channels: int = 3, size: int | None = 32, classes: int = 5, seed: int = 0):
    """Conv -> conv -> global pool -> dense 'logits'. Layers: conv1, conv2, pool, logits."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, channels))
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="tiny_cnn")


@pytest.fixture(scope="session")
def cnn():
    return make_cnn()


@pytest.fixture(scope="session")
def gray_cnn():
    return make_cnn(channels=1)


@pytest.fixture(scope="session")
def sequential():
    keras.utils.set_random_seed(1)
    return keras.Sequential(
        [
            keras.Input((24, 24, 3)),
            keras.layers.Conv2D(6, 3, activation="relu", name="conv"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(4, name="logits"),
        ],
        name="tiny_sequential",
    )
