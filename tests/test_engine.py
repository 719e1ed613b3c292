import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import xmaco
from xmaco import Objective
from xmaco.callbacks import Callback
from xmaco.color import recorrelate_matrix

SMALL = dict(steps=3, crops=2, image_size=48)


def test_objective_rises_with_every_method(cnn):
    objective = Objective.neuron(cnn, "logits", 2)
    for method in (xmaco.maco, xmaco.fourier, xmaco.pixel):
        result = method(objective, steps=24, crops=2, image_size=48, seed=0)
        start, end = result.history[:3, 0].mean(), result.history[-3:, 0].mean()
        assert end > start + 0.05, (method.__name__, start, end)
        assert result.config["method"] == method.__name__


def test_only_the_phase_moves_the_magnitude_stays_fixed(cnn):
    result = xmaco.maco(
        Objective.neuron(cnn, "logits", 1),
        steps=8,
        crops=2,
        image_size=40,
        seed=1,
        values_range=(-1.0, 1.0),
    )
    # invert the image formation: scale -> sigmoid -> colour recorrelation
    unit = (result.images[0].astype(np.float64) + 1.0) / 2.0
    pre_sigmoid = np.log(unit / (1.0 - unit))
    decorrelated = pre_sigmoid @ np.linalg.inv(recorrelate_matrix().astype(np.float64))
    magnitude = np.abs(np.fft.rfft2(np.moveaxis(decorrelated, -1, 0)))
    fixed = xmaco.spectrum.resolve(None, 40, 40, 3).astype(np.float64)
    # the standardisation rescales every frequency alike; DC is removed by it, and the
    # first/Nyquist columns are made Hermitian by irfft2d: compare the inner columns
    ratio = magnitude[:, :, 1:-1] / fixed[:, :, 1:-1]
    assert np.std(ratio) / np.mean(ratio) < 1e-3
    assert not np.allclose(result.history[0], result.history[-1])


def test_transparency_falls_where_the_unit_looks():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Cropping2D(((0, 16), (0, 16)))(inputs)  # the top-left quarter only
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, name="logits")(x))
    result = xmaco.maco(
        Objective.neuron(model, "logits", 0), steps=4, crops=None, image_size=64, seed=0
    )
    mass = result.transparency[0].sum(axis=-1)
    assert result.transparency.shape == (1, 64, 64, 3)
    assert mass[:32, :32].sum() / mass.sum() >= 0.8


def test_a_batch_equals_separate_runs_with_the_same_seeds(cnn):
    batch = xmaco.maco(Objective.neuron(cnn, "logits", [0, 3, 4]), seed=10, **SMALL)
    for i, unit in enumerate((0, 3, 4)):
        alone = xmaco.maco(Objective.neuron(cnn, "logits", unit), seed=10 + i, **SMALL)
        np.testing.assert_allclose(batch.images[i], alone.images[0], atol=1e-4)
        np.testing.assert_allclose(batch.history[:, i], alone.history[:, 0], rtol=1e-4, atol=1e-5)
    assert batch.names == ["logits[0]", "logits[3]", "logits[4]"]


def test_micro_batches_give_the_same_result(cnn):
    objective = Objective.neuron(cnn, "logits", [0, 1]) + 0.5 * Objective.channel(cnn, "conv2", 3)
    whole = xmaco.maco(objective, seed=4, steps=3, crops=3, image_size=48)
    micro = xmaco.maco(objective, seed=4, steps=3, crops=3, image_size=48, batch_size=4)
    np.testing.assert_allclose(micro.images, whole.images, atol=1e-4)
    np.testing.assert_allclose(micro.transparency, whole.transparency, rtol=1e-3, atol=1e-6)


def test_the_step_is_traced_once(cnn):
    result = xmaco.maco(
        Objective.neuron(cnn, "logits", 0),
        steps=6,
        crops=2,
        image_size=48,
        seed=0,
        learning_rate=xmaco.schedules.linear(1.0, 0.1, 6),
    )
    assert result.stats["traces"] == 1
    assert result.stats["steps_done"] == 6


def test_same_seed_same_images_other_seed_other_images(cnn):
    objective = Objective.channel(cnn, "conv2", 1)
    first = xmaco.maco(objective, seed=7, **SMALL)
    second = xmaco.maco(objective, seed=7, **SMALL)
    other = xmaco.maco(objective, seed=8, **SMALL)
    assert np.array_equal(first.images, second.images)
    assert np.array_equal(first.transparency, second.transparency)
    assert not np.allclose(first.images, other.images)
    assert first.seed == 7 and first.config["seed"] == 7


def test_xla_gives_the_same_images(cnn):
    objective = Objective.neuron(cnn, "logits", 0)
    plain = xmaco.maco(objective, seed=2, steps=1, crops=2, image_size=40)
    jit = xmaco.maco(objective, seed=2, steps=1, crops=2, image_size=40, jit_compile=True)
    np.testing.assert_allclose(jit.images, plain.images, atol=1e-4)


def test_values_range_recorded_on_the_model_is_used(cnn):
    recorded = keras.models.clone_model(cnn)
    recorded.xmaco_values_range = (-1.0, 1.0)
    result = xmaco.maco(Objective.neuron(recorded, "logits", 0), seed=0, **SMALL)
    assert result.config["values_range"] == [-1.0, 1.0]
    assert result.images.min() < 0.0 <= result.images.max() <= 1.0
    explicit = xmaco.maco(
        Objective.neuron(cnn, "logits", 0), seed=0, values_range=(0, 255), **SMALL
    )
    assert explicit.images.max() > 1.0


def test_grayscale_and_unknown_input_size(gray_cnn):
    result = xmaco.maco(Objective.channel(gray_cnn, "conv1", 0), seed=0, **SMALL)
    assert result.images.shape == (1, 48, 48, 1)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    model = keras.Model(inputs, x)
    with pytest.raises(ValueError, match="model_input_size"):
        xmaco.maco(Objective.channel(model, "conv", 0), **SMALL)
    result = xmaco.maco(Objective.channel(model, "conv", 0), model_input_size=20, seed=0, **SMALL)
    assert result.config["model_input_size"] == [20, 20]


def test_callbacks_see_the_logs_and_can_stop_the_run(cnn):
    class Recorder(Callback):
        def __init__(self):
            super().__init__()
            self.logs = []

        def on_step_end(self, step, logs):
            self.logs.append(logs)
            self.frame = self.run.images()
            self.stop_run = step == 2

    recorder = Recorder()
    result = xmaco.maco(
        Objective.neuron(cnn, "logits", 0),
        steps=10,
        crops=2,
        image_size=48,
        seed=0,
        noise=xmaco.schedules.linear(0.1, 0.0, 10),
        callbacks=[recorder],
    )
    assert result.interrupted and len(result.history) == 3
    assert [round(log["noise"], 4) for log in recorder.logs] == [0.1, 0.0889, 0.0778]
    assert recorder.logs[0]["crop_size"] == pytest.approx(0.5)
    assert recorder.logs[0]["learning_rate"] == pytest.approx(1.0)
    np.testing.assert_allclose(recorder.frame, result.images, atol=1e-6)


def test_non_finite_loss_stops_with_the_step_and_keeps_finite_images():
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Lambda(lambda t: tf.math.log(t - 0.5), name="log")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(1, name="out")(x))
    with pytest.raises(xmaco.NonFiniteError, match="at step 0") as info:
        xmaco.maco(Objective.neuron(model, "out", 0), steps=5, crops=2, image_size=32, seed=0)
    partial = info.value.result
    assert partial.interrupted and np.isfinite(partial.images).all()
    assert partial.history.shape == (0, 1)


def test_a_dead_unit_is_reported():
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    dead = keras.layers.Dense(
        2,
        activation="relu",
        kernel_initializer="zeros",
        bias_initializer=keras.initializers.Constant(-1.0),
        name="dead",
    )
    model = keras.Model(inputs, dead(x))
    objective = Objective.neuron(model, "dead", [0, 1])
    with pytest.warns(RuntimeWarning) as caught:
        result = xmaco.maco(objective, steps=5, crops=2, image_size=32, seed=0)
    texts = [str(w.message) for w in caught if "gradient of the objective" in str(w.message)]
    # early, while later crops may still wake the unit; then at the end, since none did
    assert len(texts) == 2
    assert "zero everywhere for 2 visualization(s) (dead[0], dead[1])" in texts[0]
    assert "in the first 3 steps" in texts[0] and "a warning at the end" in texts[0]
    assert "at every one of the 5 steps" in texts[1] and "did not change" in texts[1]
    # a run shorter than the early check warns once, at its end
    with pytest.warns(RuntimeWarning, match="at every one of the 2 steps") as caught:
        shorter = xmaco.maco(objective, steps=2, crops=2, image_size=32, seed=0)
    assert sum("gradient of the objective" in str(w.message) for w in caught) == 1
    # and it is true: without a gradient, 5 steps leave the images where 2 did
    np.testing.assert_array_equal(result.images, shorter.images)


@pytest.mark.parametrize(
    "keywords, error, fragment",
    [
        (dict(steps=0), ValueError, "steps=0"),
        (dict(steps=2.5), ValueError, "steps=2.5"),
        (dict(crops=0), ValueError, "crops=0"),
        (dict(crop_size=1.5), ValueError, "crop_size=1.5"),
        (dict(crop_size=0.0), ValueError, "crop_size=0.0"),
        (dict(crop_size="big"), TypeError, "crop_size='big'"),
        (dict(crop_size=lambda step: 2.0), ValueError, "crop_size=2.0"),
        (dict(noise=-0.1), ValueError, "noise=-0.1"),
        (dict(values_range=(1, 0)), ValueError, "values_range=(1, 0)"),
        (dict(values_range="unit"), ValueError, "values_range='unit'"),
        (dict(image_size=4), ValueError, "image_size=4"),
        (dict(image_size=(32,)), ValueError, "image_size=(32,)"),
        (dict(seed=-1), ValueError, "seed=-1"),
        (dict(optimizer="lbfgs"), ValueError, "optimizer='lbfgs'"),
        (dict(optimizer=3), TypeError, "int"),
        (dict(batch_size=0), ValueError, "batch_size=0"),
        (dict(learning_rate=0), ValueError, "learning_rate=0"),
        (dict(spectrum=np.ones((3, 4, 4))), ValueError, "spectrum"),
        (dict(spectrum=-np.ones((3, 48, 25))), ValueError, "spectrum"),
        (dict(callbacks=[print]), TypeError, "callbacks"),
        (dict(phase="normal"), ValueError, "phase='normal'"),
        (dict(crop_padding="yes"), TypeError, "crop_padding='yes'"),
    ],
)
def test_bad_run_settings_name_the_argument(cnn, keywords, error, fragment):
    settings = {**SMALL, **keywords}
    with pytest.raises(error) as info:
        xmaco.maco(Objective.neuron(cnn, "logits", 0), **settings)
    assert fragment in str(info.value)


def test_the_authors_formulation_is_two_keywords_recorded_in_the_config(cnn):
    objective = Objective.neuron(cnn, "logits", 2)
    default = xmaco.maco(objective, **SMALL, seed=0, phase="uniform")
    authors = xmaco.maco(objective, **SMALL, seed=0, phase="standardised", crop_padding=True)
    assert (default.config["phase"], default.config["crop_padding"]) == ("uniform", False)
    assert (authors.config["phase"], authors.config["crop_padding"]) == ("standardised", True)
    assert not np.allclose(default.images, authors.images)
    again = xmaco.maco(objective, **SMALL, seed=0, phase="standardised", crop_padding=True)
    np.testing.assert_array_equal(again.images, authors.images)
    fourier = xmaco.fourier(objective, **SMALL, seed=0, crop_padding=True)
    assert fourier.config["crop_padding"] is True


def test_objective_must_be_an_objective():
    with pytest.raises(TypeError, match="objective of type str"):
        xmaco.maco("logits")


_MIRRORED = """
import sys
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
sys.path.insert(0, sys.argv[1])
import numpy as np
import xmaco
from conftest import make_cnn

cnn = make_cnn()
objective = xmaco.Objective.neuron(cnn, "logits", [0, 2]) + 0.5 * xmaco.Objective.channel(
    cnn, "conv2", 3
)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
settings = dict(seed=3, steps=3, crops=5, image_size=48, verbose=False)
one = xmaco.maco(objective, **settings)
for batch_size in (None, 2):
    two = xmaco.maco(objective, strategy=strategy, batch_size=batch_size, **settings)
    assert two.config["replicas"] == 2 and one.config["replicas"] == 1
    assert two.stats["traces"] == 1
    np.testing.assert_allclose(two.images, one.images, atol=1e-4)
    np.testing.assert_allclose(two.history, one.history, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(two.transparency, one.transparency, rtol=1e-3, atol=1e-6)
# the replicas ran a copy: the user's model keeps its plain variables
assert not isinstance(cnn.get_layer("conv1").kernel.value, tf.distribute.DistributedValues)
print("mirrored ok")
"""


def test_a_mirrored_strategy_over_two_devices_gives_the_one_device_images(tmp_path):
    # logical devices must be declared before TensorFlow starts: a fresh process
    script = tmp_path / "mirrored.py"
    script.write_text(_MIRRORED)
    completed = subprocess.run(
        [sys.executable, str(script), str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "mirrored ok" in completed.stdout


def test_a_strategy_must_be_a_tf_distribute_strategy_without_xla(cnn):
    objective = Objective.neuron(cnn, "logits", 0)
    with pytest.raises(TypeError, match="strategy.*MirroredStrategy.*Received: strategy of type"):
        xmaco.maco(objective, strategy="mirrored", **SMALL)
    with pytest.raises(ValueError, match="jit_compile=False with a strategy"):
        xmaco.maco(objective, strategy=tf.distribute.get_strategy(), jit_compile=True, **SMALL)
