"""The speed settings change how fast a run is, never what it computes."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import xmaco
from xmaco import Objective, devices, engine
from xmaco.engine import CPU_MICRO_BATCH, default_batch_size, micro_batches_in_flight
from xmaco.transforms import noise_field, noise_levels

SMALL = dict(steps=3, crops=6, image_size=48)


def test_the_default_micro_batches_on_cpu_give_the_one_call_result(cnn):
    objective = Objective.neuron(cnn, "logits", [0, 2])
    default = xmaco.maco(objective, seed=3, **SMALL)
    one_call = xmaco.maco(objective, seed=3, batch_size=12, **SMALL)
    expected = None if tf.config.list_logical_devices("GPU") else CPU_MICRO_BATCH
    assert default_batch_size() == expected == default.config["batch_size"]
    assert micro_batches_in_flight() == (1 if expected is None else engine.CPU_IN_FLIGHT)
    np.testing.assert_allclose(default.images, one_call.images, atol=1e-4)
    np.testing.assert_allclose(default.history, one_call.history, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("in_flight", [1, 3])
def test_micro_batches_in_flight_change_nothing(cnn, monkeypatch, in_flight):
    objective = Objective.neuron(cnn, "logits", [0, 2])
    settings = dict(seed=5, batch_size=2, **SMALL)  # 6 micro-batches per step
    default = xmaco.maco(objective, **settings)
    monkeypatch.setattr(devices, "CPU_IN_FLIGHT", in_flight)
    other = xmaco.maco(objective, **settings)
    for field in ("images", "transparency", "history"):
        assert getattr(other, field).tobytes() == getattr(default, field).tobytes(), field


def test_uneven_micro_batches_are_balanced_and_exact(cnn):
    objective = Objective.neuron(cnn, "logits", 1)
    whole = xmaco.maco(objective, seed=0, steps=2, crops=7, image_size=40, batch_size=7)
    uneven = xmaco.maco(objective, seed=0, steps=2, crops=7, image_size=40, batch_size=5)
    np.testing.assert_allclose(uneven.images, whole.images, atol=1e-4)
    np.testing.assert_allclose(uneven.transparency, whole.transparency, rtol=1e-3, atol=1e-6)


def test_mixed_precision_runs_the_model_in_bfloat16_and_stays_close(cnn):
    objective = Objective.neuron(cnn, "logits", [0, 2])
    exact = xmaco.maco(objective, seed=0, **SMALL)
    mixed = xmaco.maco(objective, seed=0, mixed_precision=True, **SMALL)
    assert mixed.config["mixed_precision"] and not exact.config["mixed_precision"]
    assert mixed.images.dtype == np.float32 and mixed.stats["traces"] == 1
    np.testing.assert_allclose(mixed.history, exact.history, rtol=0.05, atol=0.02)
    assert np.abs(mixed.images - exact.images).max() < 0.2
    assert cnn.get_layer("conv1").compute_dtype == "float32"  # the user's model is untouched


def test_mixed_precision_must_be_a_bool(cnn):
    with pytest.raises(TypeError, match="mixed_precision='yes'"):
        xmaco.maco(Objective.neuron(cnn, "logits", 0), mixed_precision="yes", **SMALL)


def test_the_noise_levels_are_the_quantiles_of_the_documented_distribution():
    levels = noise_levels().astype(np.float64)
    assert levels.shape == (2**16,) and np.all(np.diff(levels) > 0)
    np.testing.assert_allclose(levels, -levels[::-1])
    assert levels.var() == pytest.approx(1 + 1 / 12, rel=1e-6)
    sample = np.random.default_rng(0)
    sample = sample.standard_normal(400_000) + sample.uniform(-0.5, 0.5, 400_000)
    quantiles = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99]
    np.testing.assert_allclose(
        np.quantile(levels, quantiles), np.quantile(sample, quantiles), atol=0.02
    )


def test_noise_is_scaled_and_keyed_by_seed_and_step():
    seeds, step = tf.constant([4, 9], tf.int64), tf.constant(2, tf.int64)
    unit = noise_field(seeds, step, [2, 8, 8, 3]).numpy()
    scaled = noise_field(seeds, step, [2, 8, 8, 3], scale=0.5).numpy()
    np.testing.assert_allclose(scaled, 0.5 * unit, rtol=1e-6)
    alone = noise_field(seeds[1:], step, [2, 8, 8, 3]).numpy()
    np.testing.assert_array_equal(alone, unit[2:])
    later = noise_field(seeds, step + 1, [2, 8, 8, 3]).numpy()
    assert not np.allclose(later, unit)
