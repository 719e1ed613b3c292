"""Numerical faults during a run: NaN and Inf that appear after some steps, dead gradients.

tests/test_engine.py covers a loss that is NaN from step 0 and a dead unit alone; here the
fault appears at a known later step (the faulty layer counts the images it has seen), in the
default path and with micro-batches, and the partial result is compared with a clean run that
stops just before the fault.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest

import xmaco
from xmaco import Objective
from xmaco.callbacks import Callback

# A constant crop size: the default schedule depends on `steps`, and the clean run that the
# partial result is compared with has fewer steps.
# a constant crop size and learning rate: a run stopped at step k equals a clean run of k steps
SETTINGS = dict(crops=2, image_size=32, seed=0, verbose=False, crop_size=0.5, learning_rate=1.0)


class LastResult(Callback):
    def on_run_end(self, result):
        self.result = result


@pytest.fixture(scope="module")
def nan_at_step_3(faults):
    """A run whose objective turns NaN at step 3, and a clean run of the first 3 steps."""
    poison = faults.PoisonAfter(after=3 * SETTINGS["crops"], value=float("nan"), name="poison")
    model = faults.conv_model(poison)
    objective = Objective.channel(model, "conv", 0)
    with pytest.raises(xmaco.NonFiniteError) as caught:
        xmaco.maco(objective, steps=50, **SETTINGS)
    poison.seen.assign(0.0)
    clean = xmaco.maco(objective, steps=3, **SETTINGS)
    return caught.value, clean


def test_nan_after_three_steps_stops_there_and_keeps_the_last_finite_images(nan_at_step_3):
    error, clean = nan_at_step_3
    assert isinstance(error, FloatingPointError)
    assert "non-finite (nan) at step 3" in str(error)
    partial = error.result
    assert partial.interrupted and partial.stats["steps_done"] == 3
    assert partial.history.shape == (3, 1) and np.isfinite(partial.history).all()
    np.testing.assert_array_equal(partial.images, clean.images)
    np.testing.assert_array_equal(partial.history, clean.history)
    assert np.isfinite(partial.transparency).all()


def test_the_transparency_of_the_failed_step_is_not_kept(nan_at_step_3):
    error, clean = nan_at_step_3
    np.testing.assert_array_equal(error.result.transparency, clean.transparency)


def test_inf_in_micro_batches_names_the_step_and_the_visualization(faults):
    images_per_step = 2 * SETTINGS["crops"]  # two visualizations
    poison = faults.PoisonAfter(
        after=2 * images_per_step, value=float("inf"), channels=[1], name="poison"
    )
    inputs = keras.Input((16, 16, 3))
    model = keras.Model(inputs, poison(keras.layers.Conv2D(4, 3, name="conv")(inputs)))
    last = LastResult()
    with pytest.raises(xmaco.NonFiniteError) as caught:
        xmaco.maco(
            Objective.channel(model, "poison", [0, 1]),
            steps=50,
            batch_size=1,
            callbacks=[last],
            **SETTINGS,
        )
    message = str(caught.value)
    for fragment in (
        "(inf) at step 2",
        "visualization(s) [1]",
        "(poison:channel 1)",
        "error.result",
    ):
        assert fragment in message
    partial = caught.value.result
    assert last.result is partial  # the callbacks saw the partial result too
    assert partial.history.shape == (2, 2)
    assert np.isfinite(partial.images).all() and np.isfinite(partial.transparency).all()


def _units_model() -> keras.Model:
    """Pool -> Dense(2, relu) 'units': unit 0 fires on any image, unit 1 never does."""
    inputs = keras.Input((16, 16, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    units = keras.layers.Dense(
        2,
        activation="relu",
        kernel_initializer=keras.initializers.Constant(np.array([[1.0, 0.0]] * 3)),
        bias_initializer=keras.initializers.Constant(np.array([0.0, -1.0])),
        name="units",
    )
    return keras.Model(inputs, units(pooled))


@pytest.fixture(scope="module")
def dead_unit_warnings() -> list[warnings.WarningMessage]:
    """The RuntimeWarnings of one run of a batch of a live unit and a dead one."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        xmaco.maco(Objective.neuron(_units_model(), "units", [0, 1]), steps=4, **SETTINGS)
    return [w for w in caught if issubclass(w.category, RuntimeWarning)]


def test_only_the_dead_unit_of_a_batch_is_reported_with_its_likely_cause(dead_unit_warnings):
    # after the first three steps, and at the end of the run (it never woke)
    messages = [str(w.message) for w in dead_unit_warnings]
    assert len(messages) == 2, messages
    assert "in the first 3 steps" in messages[0] and "every one of the 4 steps" in messages[1]
    for message in messages:
        for fragment in ("1 visualization(s) (units[1])", "dead", "ReLU", "['units']"):
            assert fragment in message
        assert "units[0]" not in message


def test_the_dead_unit_warning_points_at_the_callers_line(dead_unit_warnings):
    assert {w.filename for w in dead_unit_warnings} == {__file__}


def test_a_layer_that_ignores_the_image_is_reported_even_in_a_one_step_run():
    inputs = keras.Input((16, 16, 3))
    constant = keras.layers.Lambda(lambda t: t * 0.0 + 1.0, name="constant")(inputs)
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3, name="conv")(constant))
    with pytest.warns(RuntimeWarning, match="may not depend on the input"):
        xmaco.maco(Objective.channel(model, "conv", 1), steps=1, **SETTINGS)


def test_mixed_precision_holds_activations_beyond_the_float16_range():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    loud = keras.layers.Rescaling(1e6, name="loud")(inputs)  # float16 stops at 65504
    features = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(loud)
    objective = Objective.channel(keras.Model(inputs, features), "conv", 0)
    settings = dict(steps=3, crops=2, image_size=32, seed=0, verbose=False)
    exact = xmaco.maco(objective, **settings)
    mixed = xmaco.maco(objective, mixed_precision=True, **settings)
    assert np.abs(exact.history).max() > 65504
    assert np.isfinite(mixed.history).all() and np.isfinite(mixed.images).all()
    assert np.isfinite(mixed.transparency).all() and mixed.transparency.sum() > 0
    np.testing.assert_allclose(mixed.history, exact.history, rtol=0.05)
