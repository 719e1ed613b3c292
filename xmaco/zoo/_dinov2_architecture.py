"""DINOv2 ViT-S/14's sizes and the layers it needs that Keras lacks: a class token, a position
embedding resized bicubically to the input's grid, one layer per attention head, layer scale and
token selection. :mod:`xmaco.zoo.dinov2` assembles them into the model.

Example
-------
>>> bicubic_matrix(SOURCE_GRID, 16).shape
(16, 37)
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np

from xmaco._checks import check_count

PATCH = 14
WIDTH = 384
DEPTH = 12
HEADS = 6
MLP_WIDTH = 4 * WIDTH
SOURCE_GRID = 37  # the grid the position embedding was learned on: 518 / 14
_CUBIC_A = -0.75  # PyTorch's (and ONNX's default) bicubic coefficient


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
    source = check_count(source, "source", minimum=1)
    target = check_count(target, "target", minimum=1)
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
