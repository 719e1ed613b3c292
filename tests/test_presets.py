import inspect

import numpy as np
import pytest

import xmaco
from xmaco import presets, schedules


def test_fast_needs_at_most_half_the_model_evaluations_of_the_reference():
    fast, reference = presets.get("fast"), presets.get("reference")
    assert 2 * fast.model_evaluations <= reference.model_evaluations
    assert (reference.steps, reference.crops, reference.crop_side) == (256, 32, (0.5, 0.05))


def test_unknown_presets_name_the_parameter_and_the_close_match():
    with pytest.raises(
        ValueError, match=r"Expected preset to be one of 'reference', 'fast'"
    ) as info:
        presets.get("fats")
    assert "Received: preset='fats'. Did you mean 'fast'?" in str(info.value)
    with pytest.raises(ValueError, match="preset=None"):
        presets.get(None)


def test_every_front_door_takes_the_run_keywords_and_names_a_misspelt_one(cnn):
    from xmaco.settings import KEYWORDS, RunSettings

    for front_door in (xmaco.maco, xmaco.fourier, xmaco.pixel, xmaco.visualize):
        parameters = inspect.signature(front_door).parameters
        assert parameters[list(parameters)[-1]].kind is inspect.Parameter.VAR_KEYWORD
    assert {"steps", "crops", "crop_size", "transforms", "preset", "seed"} <= set(KEYWORDS)
    # what the caller leaves out comes from the preset, presets.DEFAULT ("fast") by default
    assert (RunSettings.create().steps, RunSettings.create().crops) == (256, 16)
    assert RunSettings.create(preset="reference").steps == 256
    assert RunSettings.create(preset="fast", crops=None).crops is None
    objective = xmaco.Objective.neuron(cnn, "logits", 1)
    with pytest.raises(TypeError, match=r"Received: crop_szie. Did you mean 'crop_size'\?"):
        xmaco.fourier(objective, crop_szie=0.3)


def test_a_preset_fills_in_what_the_caller_left_out(cnn):
    objective = xmaco.Objective.neuron(cnn, "logits", 1)
    run = dict(steps=3, image_size=32, seed=0)
    fast = xmaco.maco(objective, preset="fast", **run)
    spelled_out = xmaco.maco(
        objective,
        preset="reference",
        crops=16,
        crop_size=schedules.linear(0.5, 0.2, 3),
        learning_rate=schedules.cosine(1.0, 0.1, 3),
        phase="standardised",
        **run,
    )
    np.testing.assert_array_equal(fast.images, spelled_out.images)
    assert fast.config["preset"] == "fast" and spelled_out.config["preset"] == "reference"
    for key in ("crop_size", "learning_rate"):
        assert fast.config[key] == spelled_out.config[key]
    assert fast.config["crop_size"]["end"] == 0.2 and fast.config["crops"] == 16
    assert fast.config["learning_rate"] == {
        "schedule": "cosine",
        "start": 1.0,
        "end": 0.1,
        "steps": 3,
    }
    constant = xmaco.maco(
        objective, preset="reference", crops=16, crop_size=schedules.linear(0.5, 0.2, 3), **run
    )
    assert not np.array_equal(fast.images, constant.images)  # the decay changes the pictures

    explicit = xmaco.maco(
        objective, preset="fast", crops=2, crop_size=0.4, learning_rate=0.5, **run
    )
    assert explicit.config["crops"] == 2
    assert explicit.config["crop_size"] == {"schedule": "constant", "value": 0.4}
    whole = xmaco.maco(objective, preset="fast", crops=None, **run)
    assert whole.config["crops"] is None and whole.config["crop_size"] is None  # no crops
    assert explicit.config["learning_rate"] == {"schedule": "constant", "value": 0.5}


def test_the_reference_preset_standardises_the_phase_and_an_explicit_phase_wins(cnn):
    objective = xmaco.Objective.neuron(cnn, "logits", 1)
    run = dict(steps=2, crops=2, image_size=32, seed=0)
    default = xmaco.maco(objective, preset="reference", **run)
    reference = xmaco.maco(objective, preset="reference", phase="standardised", **run)
    uniform = xmaco.maco(objective, preset="reference", phase="uniform", **run)
    assert default.config["phase"] == "standardised"
    np.testing.assert_array_equal(default.images, reference.images)
    assert uniform.config["phase"] == "uniform"
    assert not np.array_equal(default.images, uniform.images)
    fast = xmaco.maco(objective, preset="fast", **run)
    assert fast.config["phase"] == "standardised"
    assert presets.get("reference").describe()["phase"] == "standardised"
    assert presets.get("fast").describe()["phase"] == "standardised"


def test_the_learning_rate_decay_spans_the_steps_of_the_run():
    fast = presets.get("fast")
    rate = fast.rate(10, None)
    assert rate.describe() == schedules.cosine(1.0, 0.1, 10).describe()
    assert fast.rate(10, 0.3) == 0.3  # the caller's rate wins
    assert presets.get("reference").rate(10, None) is None  # the parameterization's constant
    assert fast.describe()["learning_rate"] == [1.0, 0.1]
    assert presets.get("reference").describe()["learning_rate"] is None


def test_a_preset_decay_is_ignored_with_a_keras_optimizer_as_documented(cnn):
    import keras

    objective = xmaco.Objective.neuron(cnn, "logits", 1)
    optimizer = keras.optimizers.Nadam(learning_rate=0.25)
    result = xmaco.maco(
        objective, preset="fast", optimizer=optimizer, steps=2, crops=2, image_size=32, seed=0
    )
    assert result.config["learning_rate"] is None
    assert float(optimizer.learning_rate.numpy()) == 0.25


def test_the_fast_preset_is_the_default_of_every_front_door(cnn):
    # the best transfer per model evaluation measured (docs/benchmarks.md, section 6)
    objective = xmaco.Objective.neuron(cnn, "logits", 1)
    for method in (xmaco.maco, xmaco.fourier, xmaco.pixel):
        result = method(objective, steps=2, image_size=32, seed=0)
        assert result.config["preset"] == presets.DEFAULT == "fast"
        assert result.config["crops"] == 16
        assert result.config["crop_size"] == schedules.linear(0.5, 0.2, 2).describe()
        assert result.config["learning_rate"]["schedule"] == "cosine"
    from xmaco.gallery.runner import Settings

    assert Settings().preset == "fast" and (Settings().steps, Settings().crops) == (256, 16)


def test_a_bad_preset_fails_before_any_work(cnn):
    with pytest.raises(ValueError, match="Expected preset"):
        xmaco.maco(xmaco.Objective.neuron(cnn, "logits", 1), preset="quick")
