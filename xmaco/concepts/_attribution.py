"""Where each concept lies in a photo: concept attribution maps and their overlays."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from ._activations import Reader, pictures_of
from ._arguments import bounded_count
from ._bank import ConceptBank
from ._decomposition import project

__all__ = ["attribution_maps", "attribution_overlay", "plot_attributions"]


def attribution_maps(
    bank: ConceptBank,
    model: Any,
    images: Any,
    weighted: bool = True,
    batch_size: int = 64,
    values_range: tuple[float, float] | None = None,
    model_input_size: int | tuple[int, int] | None = None,
) -> np.ndarray:
    """Per concept, the contribution of each location of each image.

    Each image is resized to the model input; the activations of ``bank.layer`` at every
    position are projected on the concepts (non-negative least squares, as for the
    importance): how much of each concept each position holds. The (h, w) maps are upsampled
    bilinearly to the image and, when ``weighted``, multiplied by the concept's importance, so
    that the maps of different concepts compare as their contributions to the class.

    Parameters
    ----------
    bank
        From :func:`discover` or :func:`refine`.
    model
        The model the bank was found on.
    images
        (N, H, W, C) in the model's input range, or a folder of image files.
    weighted
        Multiply each concept's map by its importance.
    batch_size
        Images per model call.
    values_range
        The model's input range, to read a folder; None: the range recorded on the model.
    model_input_size
        (height, width), when the model's input size is unknown.

    Returns
    -------
    numpy.ndarray
        float32 (N, k, H, W): image, concept (in the bank's order), location.

    Example
    -------
    >>> import keras, numpy as np
    >>> from xmaco.concepts import discover
    >>> model = keras.Sequential([keras.Input((16, 16, 3)),
    ...     keras.layers.Conv2D(6, 3, activation="relu", name="features"),
    ...     keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
    >>> images = np.random.default_rng(0).random((4, 32, 32, 3))
    >>> bank = discover(model, "features", images, class_index=1, rank=2, crops=8, designs=8)
    >>> attribution_maps(bank, model, images[:2]).shape
    (2, 2, 32, 32)
    """
    if not isinstance(bank, ConceptBank):
        raise TypeError(
            f"Expected bank to be a ConceptBank (from discover). Received: {type(bank).__name__}"
        )
    batch_size = bounded_count(batch_size, "batch_size", 1, None, "")
    pictures = pictures_of(model, images, values_range, model_input_size)
    maps = Reader.of(model, bank.layer, pictures, batch_size).whole()
    if maps.ndim != 4:
        raise ValueError(
            f"Expected layer '{bank.layer}' to have spatial activations (N, h, w, C). "
            f"Received: activations of shape {maps.shape[1:]} per image"
        )
    count, height, width, channels = maps.shape
    amounts = project(maps.reshape(-1, channels), bank.vectors).astype(np.float32)
    amounts = amounts.reshape(count, height, width, len(bank))
    if weighted:
        amounts = amounts * bank.importance.astype(np.float32)
    size = pictures.array.shape[1:3]
    upsampled = tf.image.resize(amounts, size, method="bilinear").numpy()
    return np.transpose(upsampled, (0, 3, 1, 2)).astype(np.float32)


def attribution_overlay(
    image: np.ndarray,
    attribution: np.ndarray,
    values_range: tuple[float, float] = (0.0, 1.0),
    percentile: float = 95.0,
    background: str = "black",
) -> np.ndarray:
    """A photo seen through one concept's attribution map: opaque where the concept lies.

    The alpha is :func:`xmaco.plot.transparency_alpha` of the map's positive part (clipped at
    its ``percentile``), and the photo is blended over ``background`` with
    :func:`xmaco.plot.composite`: the same overlay as the transparency of a visualization.

    Parameters
    ----------
    image
        (H, W, C) in ``values_range``.
    attribution
        (H, W), e.g. ``attribution_maps(...)[i, k]``.
    values_range
        (low, high) of ``image``, e.g. ``bank.values_range``.
    percentile
        In (0, 100]: the top ``100 - percentile`` percent of the map is fully opaque.
    background
        ``"black"``, ``"white"`` or ``"checkerboard"``.

    Returns
    -------
    numpy.ndarray
        float32 (H, W, C) in [0, 1].

    Example
    -------
    >>> import numpy as np
    >>> where = np.zeros((4, 4)); where[:2] = 1.0
    >>> out = attribution_overlay(np.ones((4, 4, 3)), where)
    >>> float(out[0, 0, 0]), float(out[3, 3, 0])
    (1.0, 0.0)
    """
    from ..plot import composite, transparency_alpha

    low, high = (float(v) for v in values_range)
    picture = np.clip((np.asarray(image, np.float32) - low) / (high - low), 0.0, 1.0)
    attribution = np.asarray(attribution, np.float32)
    if attribution.shape != picture.shape[:2]:
        raise ValueError(
            f"Expected attribution of shape {picture.shape[:2]} (the image's height and width). "
            f"Received: attribution.shape={attribution.shape}"
        )
    alpha = transparency_alpha(np.maximum(attribution, 0.0), percentile)
    return composite(picture, alpha, background)


def plot_attributions(
    bank: ConceptBank,
    image: np.ndarray,
    maps: np.ndarray,
    concepts: int | None = None,
    percentile: float = 95.0,
) -> Any:
    """A figure: the photo, then its overlay by each concept's attribution map.

    Parameters
    ----------
    bank
        The bank the maps were computed with.
    image
        (H, W, C) in ``bank.values_range``.
    maps
        (k, H, W) its maps, e.g. ``attribution_maps(bank, model, images)[i]``.
    concepts
        Show the first ``concepts`` only; None: all.
    percentile
        See :func:`attribution_overlay`.

    Returns
    -------
    matplotlib.figure.Figure

    Example
    -------
    >>> import numpy as np
    >>> from xmaco.concepts import ConceptBank
    >>> bank = ConceptBank(np.eye(2), np.array([0.7, 0.3]), np.zeros((1, 2)), np.zeros((1, 4)),
    ...     np.zeros(1, int), np.zeros((2, 1), int), np.zeros((2, 1, 4, 4, 3)), "features",
    ...     0, "class 0", "sobol", 0.0, (0.0, 1.0))
    >>> figure = plot_attributions(bank, np.ones((4, 4, 3)), np.random.rand(2, 4, 4))
    >>> len(figure.axes)
    3
    """
    import matplotlib.pyplot as plt

    maps = np.asarray(maps, np.float32)
    count = len(bank) if concepts is None else bounded_count(concepts, "concepts", 1, len(bank), "")
    if maps.ndim != 3 or len(maps) < count:
        raise ValueError(
            f"Expected maps to be a (k, H, W) array with k >= {count}. Received: shape {maps.shape}"
        )
    low, high = bank.values_range
    figure, axes = plt.subplots(1, count + 1, figsize=(2.2 * (count + 1), 2.4), squeeze=False)
    axes[0, 0].imshow(np.clip((np.asarray(image) - low) / (high - low), 0.0, 1.0).squeeze())
    axes[0, 0].set_title("photo", fontsize=9)
    for k in range(count):
        shown = attribution_overlay(image, maps[k], bank.values_range, percentile)
        axes[0, k + 1].imshow(shown.squeeze())
        axes[0, k + 1].set_title(f"concept {bank.labels[k]} ({bank.importance[k]:.2f})", fontsize=9)
    for ax in axes[0]:
        ax.axis("off")
    figure.tight_layout()
    return figure
