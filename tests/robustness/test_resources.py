"""Long runs stay flat in memory and never retrace; running out of memory loses nothing.

The long soak (2000 steps, in a fresh process) is ``bench/soak.py``; this is its fast version.
Out of memory is simulated by a layer that raises ``MemoryError`` inside the compiled step,
which TensorFlow turns into ``tf.errors.ResourceExhaustedError`` as for a real device.
"""

from __future__ import annotations

import sys
import warnings

import keras
import numpy as np
import pytest

import xmaco
from xmaco import Objective, Result, cli
from xmaco.callbacks import Callback

# a constant crop size and learning rate: a run stopped at step k equals a clean run of k steps
SETTINGS = dict(crops=2, image_size=32, seed=0, verbose=False, crop_size=0.5, learning_rate=1.0)


class MemorySampler(Callback):
    """Resident memory after chosen steps, in MB."""

    def __init__(self, read, steps):
        super().__init__()
        self.read, self.steps, self.samples = read, set(steps), {}

    def on_step_end(self, step, logs):
        if step in self.steps:
            self.samples[step] = self.read()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_300_steps_trace_once_and_keep_memory_flat(faults):
    sampler = MemorySampler(faults.resident_mb, steps=[49, 299])
    result = xmaco.maco(
        Objective.channel(faults.conv_model(), "conv", 0),
        steps=300,
        crops=1,
        image_size=24,
        seed=0,
        verbose=False,
        callbacks=[sampler],
    )  # the default crop-size schedule: a new size at every step, as a tensor
    assert result.stats["steps_done"] == 300 and result.stats["traces"] == 1
    growth = sampler.samples[299] - sampler.samples[49]
    assert growth < 50.0, f"resident memory grew by {growth:.1f} MB from step 50 to 300"
    assert np.isfinite(result.images).all()


@pytest.fixture(scope="module")
def out_of_memory_at_step_3(faults):
    """A run that runs out of memory at step 3, and a clean run of the first 3 steps."""
    exhaust = faults.ExhaustAfter(after=3, name="exhaust")
    objective = Objective.channel(faults.conv_model(exhaust), "conv", 0)
    with pytest.raises(xmaco.OutOfMemoryError) as caught:
        xmaco.maco(objective, steps=50, **SETTINGS)
    exhaust.calls = 0
    clean = xmaco.maco(objective, steps=3, **SETTINGS)
    return caught.value, clean


def test_out_of_memory_names_the_settings_to_change(out_of_memory_at_step_3):
    error, _ = out_of_memory_at_step_3
    assert isinstance(error, MemoryError)
    message = str(error)
    for fragment in ("at step 3", "batch_size", "crops", "image_size", "2 crops of 16x16"):
        assert fragment in message, message
    assert "canvas 32x32" in message and "error.result" in message


def test_out_of_memory_keeps_the_images_of_the_steps_done(out_of_memory_at_step_3):
    error, clean = out_of_memory_at_step_3
    partial = error.result
    assert isinstance(partial, Result) and partial.interrupted
    assert partial.history.shape == (3, 1) and partial.stats["steps_done"] == 3
    np.testing.assert_array_equal(partial.images, clean.images)
    np.testing.assert_array_equal(partial.transparency, clean.transparency)


def test_out_of_memory_with_the_smallest_batch_gives_advice_that_can_help(faults):
    exhaust = faults.ExhaustAfter(after=1, name="exhaust")
    with pytest.raises(xmaco.OutOfMemoryError) as caught:
        xmaco.maco(
            Objective.channel(faults.conv_model(exhaust), "conv", 0),
            steps=5,
            batch_size=1,
            **SETTINGS,
        )
    assert "e.g. batch_size=1" not in str(caught.value)


@keras.saving.register_keras_serializable(package="xmaco_robustness")
class SavedExhaust(keras.layers.Layer):
    """A savable ExhaustAfter: the command line loads models from files."""

    def __init__(self, after: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.after, self.calls = after, 0

    def call(self, inputs):
        import tensorflow as tf

        def check():
            self.calls += 1
            if self.calls > self.after:
                raise MemoryError("OOM when allocating tensor")
            return np.float32(0.0)

        flag = tf.py_function(check, [], tf.float32)
        flag.set_shape([])
        return inputs + flag

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "after": self.after}


def test_the_command_line_saves_the_partial_result_when_memory_runs_out(tmp_path, capsys):
    inputs = keras.Input((16, 16, 3))
    hidden = SavedExhaust(after=2, name="exhaust")(inputs)
    model = keras.Model(inputs, keras.layers.Conv2D(4, 3, name="conv")(hidden))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model.save(tmp_path / "hungry.keras")
    argv = ["visualize", "--model", str(tmp_path / "hungry.keras"), "--layer", "conv"]
    argv += ["--channel", "1", "--steps", "20", "--crops", "2", "--image-size", "32"]
    code = cli.main([*argv, "--seed", "0", "--out", str(tmp_path / "out"), "--quiet"])
    lines = capsys.readouterr().err.splitlines()
    assert code == 1
    assert lines[0].startswith("xmaco: error: Out of device memory at step 2")
    assert lines[1].startswith("xmaco: the partial result is saved in")
    assert len(lines) == 2 and "Traceback" not in "\n".join(lines)
    partial = Result.load(tmp_path / "out" / "xmaco")
    assert partial.interrupted and partial.history.shape == (2, 1)
