"""Shared fixtures: tiny Keras models built in a few lines (no network, no weights files)."""

from __future__ import annotations

import os
import select
import signal

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

# A shell without job control starts background commands (`make test &`) with SIGINT ignored,
# and an ignored signal stays ignored in every child: the Ctrl-C tests' children would never
# see their interrupt. Give the suite, and so its children, the default disposition back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

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


def _lines_until(stream, wanted: str, seconds: float) -> list[str]:
    """The lines read from ``stream`` up to ``wanted``, its end, or ``seconds`` of silence."""
    said: list[str] = []
    while not said or said[-1] != wanted:
        ready, _, _ = select.select([stream], [], [], seconds)
        line = stream.readline() if ready else b""
        if not line:
            break
        said.append(line.decode(errors="replace").rstrip("\n"))
    return said


@pytest.fixture(scope="session")
def lines_until():
    """``lines_until(stream, wanted, seconds)``: the lines a child process says on an
    unbuffered pipe (``bufsize=0``) until it says ``wanted``: tests wait on a child's word,
    not on the clock."""
    return _lines_until
