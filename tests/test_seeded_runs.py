"""Seeded runs give the pictures they gave before: the engine's refactors change no image.

``data/seeded_runs.npz`` holds the images, histories and transparency totals of five seeded
runs on the tiny CNN, made with the engine as it was before run settings, transforms and
parameterization states got their own objects (commit 465a64d), when ``reference`` was the
default preset (hence ``preset="reference"`` below). On the machine that made
them the new engine gives the same bytes; the tolerance below only absorbs the rounding of
another CPU's kernels, and is far below what a changed crop, noise draw or update moves.
The three MACO runs were pinned again when the default magnitude's zero frequency, scales
and roll-off were calibrated (pixels moved by up to 0.17); the Fourier and pixel runs, which
do not use it, kept their pins.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import xmaco
from xmaco import Objective

PINNED = np.load(Path(__file__).parent / "data" / "seeded_runs.npz")


def _runs(cnn):
    pair = Objective.neuron(cnn, "logits", [0, 3])
    channel = Objective.channel(cnn, "conv2", 2)
    return {
        "maco": lambda: xmaco.maco(
            pair, preset="reference", steps=3, crops=4, image_size=40, seed=1
        ),
        "maco_uniform_whole": lambda: xmaco.maco(
            channel, preset="reference", steps=3, crops=None, image_size=36, seed=2, phase="uniform"
        ),
        "maco_fast_padding": lambda: xmaco.maco(
            pair,
            preset="fast",
            steps=4,
            crops=3,
            image_size=40,
            seed=3,
            crop_padding=True,
            batch_size=2,
        ),
        "fourier": lambda: xmaco.fourier(
            pair, preset="reference", steps=3, crops=2, image_size=32, seed=4, noise=0.0
        ),
        "pixel": lambda: xmaco.pixel(
            pair, preset="reference", steps=3, crops=2, image_size=32, seed=5, learning_rate=0.1
        ),
    }


@pytest.mark.parametrize(
    "name", ["maco", "maco_uniform_whole", "maco_fast_padding", "fourier", "pixel"]
)
def test_a_seeded_run_gives_its_pinned_pictures(cnn, name):
    result = _runs(cnn)[name]()
    np.testing.assert_allclose(result.images, PINNED[name], rtol=0, atol=2e-5)
    np.testing.assert_allclose(result.history, PINNED[f"{name}_history"], rtol=1e-5, atol=1e-6)
    totals = result.transparency.sum(axis=(1, 2, 3))
    np.testing.assert_allclose(totals, PINNED[f"{name}_transparency"], rtol=1e-4)
