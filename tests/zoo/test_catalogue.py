"""The catalogue: names, Keras applications offline, saved files, and their input records."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import keras
import numpy as np
import pytest
from keras.src.utils import file_utils

from xmaco import zoo
from xmaco.zoo.catalogue import _OWN_BUILDERS, CATALOGUE, CaffePreprocessing, WeightsDownloadError


@pytest.fixture(scope="module")
def resnet50() -> keras.Model:
    return zoo.load("ResNet-50", weights=None)


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No cached Keras weights and no network, whatever the machine running the tests."""

    def no_network(url, *args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(file_utils.config, "keras_home", lambda: str(tmp_path / "keras"))
    monkeypatch.setattr(file_utils, "urlretrieve", no_network)


def test_available_lists_the_catalogue():
    names = zoo.available()
    assert names[0] == "efficientnet_lite0"
    expected = {"resnet50v2", "resnet50", "efficientnetb0", "convnext_tiny", "vgg16"}
    assert expected | {"mobilenetv2", "inceptionv3"} <= set(names)
    names.append("mutated")
    assert "mutated" not in zoo.available()


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_entry_is_buildable_and_described(name):
    entry = CATALOGUE[name]
    if entry.constructor not in _OWN_BUILDERS:
        assert callable(getattr(keras.applications, entry.constructor))
    low, high = entry.values_range
    assert low < high and entry.preprocessing
    # Keras preprocesses [0, 255] inputs itself exactly for these; the others expect [-1, 1].
    pixels = entry.caffe or name in ("efficientnetb0", "convnext_tiny")
    expected = (0.0, 255.0) if pixels else (-1.0, 1.0)
    if name == "vgg19":  # its weights file maps RGB in [0, 1] with its own first convolution
        expected = (0.0, 1.0)
    if name == "dinov2_vits14":  # its first layer applies the ImageNet mean and std to [0, 1]
        expected = (0.0, 1.0)
    assert entry.values_range == expected


def test_embedded_model_by_either_spelling():
    model = zoo.load("efficientnet-lite0", weights=None)
    assert model.name == "efficientnet_lite0"
    assert model.xmaco_values_range == (-1.0, 1.0)
    assert model.xmaco_preprocessing == "(pixel - 127) / 128"


def test_caffe_models_take_rgb_and_keep_their_layer_names(resnet50):
    assert resnet50.input_shape == (None, 224, 224, 3)
    assert [layer.name for layer in resnet50.layers[:3]] == [
        "image",
        "caffe_preprocessing",
        "conv1_pad",
    ]
    assert resnet50.get_layer("conv5_block3_out").output.shape == (None, 7, 7, 2048)
    assert resnet50.xmaco_values_range == (0.0, 255.0)
    assert "BGR" in resnet50.xmaco_preprocessing


def test_caffe_preprocessing_equals_keras(resnet50):
    rgb = np.random.default_rng(0).uniform(0, 255, (2, 224, 224, 3)).astype(np.float32)
    inside = keras.Model(resnet50.input, resnet50.get_layer("caffe_preprocessing").output)
    expected = keras.applications.imagenet_utils.preprocess_input(rgb.copy(), mode="caffe")
    np.testing.assert_allclose(np.asarray(inside(rgb)), expected, rtol=1e-6, atol=1e-4)


def test_judges_are_in_the_catalogue():
    assert {"efficientnet_lite1", "efficientnet_lite2", "mobilenet_v1_025"} <= set(zoo.available())
    model = zoo.load("MobileNet-v1-025", weights=None)
    assert model.input_shape == (None, 224, 224, 3) and model.xmaco_values_range == (-1.0, 1.0)
    lite2 = zoo.load("efficientnet-lite2", weights=None)
    assert lite2.input_shape == (None, 260, 260, 3) and lite2.name == "efficientnet_lite2"


def ends_in_softmax(model: keras.Model) -> bool:
    return getattr(model.layers[-1], "activation", None) is keras.activations.softmax


KERAS_APPLICATIONS = sorted(
    name for name, entry in CATALOGUE.items() if entry.constructor not in _OWN_BUILDERS
)


@pytest.mark.parametrize("name", KERAS_APPLICATIONS)
def test_keras_applications_are_asked_for_logits(name, monkeypatch):
    # A class objective on probabilities has vanishing gradients: the catalogue gives logits.
    # The constructor is replaced by a recorder so that no large network is built.
    received = {}

    def recorder(**kwargs):
        received.update(kwargs)
        image = kwargs.get("input_tensor")
        if image is None:
            image = keras.Input((8, 8, 3))
        inputs = keras.utils.get_source_inputs(image)
        pooled = keras.layers.GlobalAveragePooling2D()(image)
        return keras.Model(inputs, keras.layers.Dense(3, name="predictions")(pooled))

    monkeypatch.setattr(keras.applications, CATALOGUE[name].constructor, recorder)
    zoo.load(name, weights=None)
    assert received["classifier_activation"] is None
    zoo.load(name, weights=None, classifier_activation="softmax")
    assert received["classifier_activation"] == "softmax"


def test_logits_by_default():
    logits = zoo.load("mobilenetv2", weights=None, alpha=0.35)
    x = np.random.default_rng(0).uniform(-1, 1, (1, 224, 224, 3)).astype("float32")
    assert not ends_in_softmax(logits) and np.asarray(logits(x)).min() < 0
    for name in ("efficientnet_lite1", "mobilenet_v1_025"):
        assert not ends_in_softmax(zoo.load(name, weights=None))


def test_models_taking_signed_inputs_are_unwrapped():
    model = zoo.load("mobilenet_v2", weights=None, alpha=0.35)
    assert model.xmaco_values_range == (-1.0, 1.0)
    assert model.layers[1].name == "Conv1"  # straight after the input, nothing prepended
    assert model.output_shape == (None, 1000)


def test_offline_imagenet_weights_point_to_the_embedded_model(offline):
    with pytest.raises(WeightsDownloadError) as caught:
        zoo.load("mobilenetv2", alpha=0.35)
    message = str(caught.value)
    assert isinstance(caught.value, ConnectionError)
    assert "offline" in message and "efficientnet_lite0" in message and "weights=None" in message


def test_other_construction_errors_pass_through(offline):
    with pytest.raises(ValueError, match="alpha"):
        zoo.load("mobilenetv2", alpha=0.11)


def test_unknown_names_list_the_catalogue_and_close_matches():
    with pytest.raises(ValueError, match="Received: model='resnet51'") as caught:
        zoo.load("resnet51")
    message = str(caught.value)
    assert all(repr(name) in message for name in CATALOGUE)
    assert message.split("Close matches: ")[1].startswith("'resnet50'")
    with pytest.raises(TypeError, match="Received: model=3 of type int"):
        zoo.load(3)


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> tuple[Path, keras.Model]:
    inputs = keras.Input((8, 8, 3))
    x = CaffePreprocessing(name="caffe_preprocessing")(inputs)
    outputs = keras.layers.Dense(2, name="logits")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    path = tmp_path_factory.mktemp("saved") / "tiny.keras"
    model.save(path)
    return path, model


def test_saved_files_load_with_their_custom_layers(saved):
    path, original = saved
    x = np.random.default_rng(1).uniform(0, 255, (2, 8, 8, 3)).astype(np.float32)
    for model_argument in (path, str(path)):
        loaded = zoo.load(model_argument, values_range=(0, 255), preprocessing="RGB pixels")
        np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(original(x)), rtol=1e-6)
        assert loaded.xmaco_values_range == (0.0, 255.0)
        assert loaded.xmaco_preprocessing == "RGB pixels"
    assert not hasattr(zoo.load(path), "xmaco_values_range")


def test_bad_files_are_value_errors_naming_model_and_path(tmp_path, saved):
    missing = tmp_path / "missing.keras"
    with pytest.raises(ValueError, match=f"model='{missing}' \\(no such file\\)"):
        zoo.load(missing)
    for name in ("broken.keras", "broken.h5"):
        broken = tmp_path / name
        broken.write_bytes(b"definitely not a model")
        with pytest.raises(ValueError, match=f"model='{broken}', which Keras cannot read"):
            zoo.load(str(broken))
    with pytest.raises(ValueError, match="unsupported file type"):
        zoo.load(tmp_path / "weights.txt")
    with pytest.raises(ValueError, match="values_range"):
        zoo.load(saved[0], values_range=(1, 0))
    with pytest.raises(ValueError, match="values_range"):
        zoo.load(saved[0], preprocessing="scaled")
