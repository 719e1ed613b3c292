"""Same seed, same settings, same images: bit for bit, across processes, on CPU.

tests/test_engine.py checks that two runs inside one process agree; here two fresh processes
(with different hash seeds, started together so they compete for the cores) and this test
process, which has run other things before, must write identical arrays.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import xmaco
from xmaco import Objective, Result

SETTINGS = dict(steps=3, crops=2, image_size=40, seed=1234)

CHILD = textwrap.dedent(
    """
    import sys

    import keras

    import xmaco

    model = keras.saving.load_model(sys.argv[1])
    objective = xmaco.Objective.channel(model, "conv2", [5, 13])
    settings = {settings!r}
    xmaco.maco(objective, verbose=False, **settings).save(sys.argv[2])
    """
).format(settings=SETTINGS)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory, cnn):
    path = tmp_path_factory.mktemp("determinism") / "cnn.keras"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        cnn.save(path)
    return path


def test_two_processes_and_this_one_write_identical_arrays(tmp_path, saved_model, faults, cnn):
    children = []
    for i, hash_seed in enumerate(("1", "2")):
        environment = {**faults.child_environment(), "PYTHONHASHSEED": hash_seed}
        children.append(
            subprocess.Popen(
                [sys.executable, "-c", CHILD, str(saved_model), str(tmp_path / f"run{i}")],
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    errors = [child.communicate(timeout=240)[1] for child in children]
    assert [child.returncode for child in children] == [0, 0], errors
    first, second = (Result.load(tmp_path / f"run{i}") for i in range(2))
    here = xmaco.maco(Objective.channel(cnn, "conv2", [5, 13]), verbose=False, **SETTINGS)
    for other, where in ((second, "the second process"), (here, "this process")):
        for field in ("images", "transparency", "history"):
            expected, found = getattr(first, field), getattr(other, field)
            assert found.dtype == expected.dtype and found.shape == expected.shape
            if found.tobytes() != expected.tobytes():
                gap = np.max(np.abs(found.astype(np.float64) - expected))
                raise AssertionError(f"{field} differ in {where}, by up to {gap:.3g}")
    assert first.seed == second.seed == 1234 and first.config == second.config
    assert not np.array_equal(first.images[0], first.images[1])  # the seeds did differ


def test_micro_batched_runs_of_the_embedded_model_repeat_bit_for_bit():
    """Two visualizations, 16 crops each, in micro-batches: the canvas gradient sums 16 crop
    gradients per canvas. Summed as a chain of additions, graph optimisation regrouped them
    differently from one trace to the next (differences of 1e-9 after one step, 0.1 in the
    images after three); the sum must keep one order."""
    from xmaco.zoo import efficientnet_lite0

    objective = Objective.neuron(efficientnet_lite0(), "logits", [1, 1])
    settings = dict(steps=1, crops=16, seed=0, batch_size=4, verbose=False)
    first, *others = (xmaco.maco(objective, **settings) for _ in range(3))
    for other in others:
        for field in ("images", "transparency"):
            assert getattr(other, field).tobytes() == getattr(first, field).tobytes(), field
