"""Finding the concepts of a class: crops, their activations, NMF, importance, ranking."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np
import tensorflow as tf

from ..engine import _input_size
from ..objectives import _resolve_layer
from ._arguments import (
    bounded_count,
    class_layer_name,
    class_of,
    crop_range,
    image_array,
    input_range,
)
from ._bank import ConceptBank
from ._decomposition import Factorization, nmf
from ._images import load_images
from ._importance import importance

__all__ = ["discover"]


def discover(
    model: Any,
    layer: str | int,
    images: Any,
    class_index: int | str,
    rank: int = 10,
    crops: int = 32,
    crop_size: float | tuple[float, float] = (0.25, 0.5),
    top: int = 6,
    class_layer: str | int | None = None,
    seed: int = 0,
    batch_size: int = 64,
    iterations: int = 500,
    values_range: tuple[float, float] | None = None,
    model_input_size: int | tuple[int, int] | None = None,
) -> ConceptBank:
    """Find the concepts a class relies on at ``layer`` and rank them by importance.

    1. ``crops`` random square crops per image, of side ``crop_size`` (a fraction of the
       image's shorter side, or a (low, high) range drawn uniformly), each resized to the model
       input; the activations of ``layer`` for each crop are averaged over its positions (or
       tokens): one row of C channels per crop. The layer must be non-negative (e.g. after a
       ReLU).
    2. :func:`nmf` of the (crops x C) matrix at ``rank``: the concept directions.
    3. The importance of each concept for the class, measured on the whole images:

       - **linear head**: when the class logit is an affine function of the spatial mean of
         the layer (global average pooling then a Dense layer, the usual classifier head;
         checked numerically), ``logit = w . mean(a) + b`` and ``mean(a) ~= sum_k U_k v_k``,
         so concept k contributes ``U_k (v_k . w)``. Its importance is the mean of that
         contribution over the images, divided by the sum of the absolute contributions.
       - **sensitivity** otherwise: each concept is removed from the activations of every
         position (``a - U_k(position) v_k``, with ``U`` the non-negative projection of the
         position on the concepts) and the drop of the class logit, averaged over the images,
         is normalised in the same way.

    Parameters
    ----------
    model
        A Keras model with one image input.
    layer
        The layer to factorise (name or index), e.g. ``"head_activation"`` (7x7x1280) of
        :func:`xmaco.zoo.efficientnet_lite0`.
    images
        Images of the class: an array (N, H, W, C) in the model's input range, or a folder of
        image files (read by :func:`load_images` at twice the model's input size).
    class_index
        The class: an index into the class layer, or an ImageNet class name (see
        :func:`xmaco.zoo.class_index`).
    rank
        The number of concepts.
    crops
        Crops per image.
    crop_size
        Crop side, a fraction in (0, 1] of the image's shorter side, or a (low, high) range.
    top
        The number of top crops kept per concept.
    class_layer
        The layer holding the class scores; None: the model's last layer.
    seed
        Seed of the crops and of the factorisation.
    batch_size
        Crops per model call.
    iterations
        Maximum NMF iterations.
    values_range
        The model's input range, to read a folder; None: the range recorded on the model,
        else (0, 1).
    model_input_size
        (height, width), when the model's input size is unknown.

    Returns
    -------
    ConceptBank
        The concepts ranked by decreasing importance.

    Example
    -------
    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((16, 16, 3)),
    ...     keras.layers.Conv2D(6, 3, activation="relu", name="features"),
    ...     keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
    >>> images = np.random.default_rng(0).random((4, 32, 32, 3))
    >>> bank = discover(model, "features", images, class_index=0, rank=3, crops=8)
    >>> len(bank), round(float(np.abs(bank.importance).sum()), 6)
    (3, 1.0)
    """
    name, _ = _resolve_layer(model, layer)
    size = _input_size(model, model_input_size)
    low, high = input_range(values_range, model)
    channels = int(model.inputs[0].shape[-1])
    if isinstance(images, (str, os.PathLike)):
        images = load_images(images, (2 * size[0], 2 * size[1]), (low, high), channels)
    pictures = image_array(images, channels)
    crops = bounded_count(crops, "crops", 1, None, "")
    top = bounded_count(top, "top", 1, None, "")
    batch_size = bounded_count(batch_size, "batch_size", 1, None, "")
    sides = crop_range(crop_size)
    head_layer = class_layer_name(model, class_layer)
    classes = int(np.prod(model.get_layer(head_layer).output.shape[1:]))
    index, class_name = class_of(class_index, classes)

    reader = _Reader(_features(model, name), pictures, size, batch_size)
    rng = np.random.default_rng(seed)
    boxes, owners = _sample_boxes(rng, pictures.shape[1:3], len(pictures), crops, sides)
    activations = _pooled(reader.maps(boxes, owners), name)
    smaller = min(activations.shape)
    rank = bounded_count(rank, "rank", 1, smaller, f"min(crops, channels) = {smaller}")
    factors = nmf(activations, rank, iterations=iterations, seed=seed)
    shares, method = importance(model, name, head_layer, index, reader.whole(), factors, seed)
    return _ranked(
        factors,
        shares,
        boxes,
        owners,
        top,
        reader,
        layer=name,
        class_index=index,
        class_name=class_name,
        importance_method=method,
        values_range=(low, high),
    )


@dataclasses.dataclass(frozen=True, eq=False)
class _Reader:
    """The layer's activations on crops of the pictures, resized to the model input."""

    features: Any
    pictures: np.ndarray
    size: tuple[int, int]
    batch_size: int

    def crops(self, boxes: np.ndarray, owners: np.ndarray) -> tf.Tensor:
        return tf.image.crop_and_resize(
            tf.constant(self.pictures), tf.constant(boxes), tf.constant(owners, tf.int32), self.size
        )

    def maps(self, boxes: np.ndarray, owners: np.ndarray) -> np.ndarray:
        """The layer's activations for every crop, batch by batch."""
        parts = []
        for start in range(0, len(boxes), self.batch_size):
            rows = slice(start, start + self.batch_size)
            batch = self.crops(boxes[rows], owners[rows])
            parts.append(np.asarray(self.features(batch, training=False), np.float32))
        return np.concatenate(parts)

    def whole(self) -> np.ndarray:
        """The layer's activations for every whole picture."""
        count = len(self.pictures)
        boxes = np.tile([[0.0, 0.0, 1.0, 1.0]], [count, 1]).astype(np.float32)
        return self.maps(boxes, np.arange(count))


def _features(model: Any, layer: str) -> Any:
    import keras

    return keras.Model(model.inputs[0], model.get_layer(layer).output)


def _sample_boxes(
    rng: np.random.Generator,
    shape: tuple[int, int],
    images: int,
    crops: int,
    sides: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Square crops (in pixels) inside each image: normalised boxes and the owning image."""
    height, width = shape
    shorter = min(height, width)
    side = rng.uniform(*sides, size=images * crops) * shorter
    top = rng.uniform(0.0, 1.0, size=side.shape) * (height - side)
    left = rng.uniform(0.0, 1.0, size=side.shape) * (width - side)
    boxes = np.stack(
        [top / height, left / width, (top + side) / height, (left + side) / width], axis=1
    )
    return boxes.astype(np.float32), np.repeat(np.arange(images), crops)


def _pooled(maps: np.ndarray, layer: str) -> np.ndarray:
    """Each crop's activations averaged over its positions (or tokens): (crops, channels)."""
    activations = maps.reshape(len(maps), -1, maps.shape[-1]).mean(axis=1)
    if activations.min() < -1e-6:
        raise ValueError(
            f"Expected layer '{layer}' to have non-negative activations (NMF factorises "
            "non-negative data: choose a layer after a ReLU). Received: minimum activation "
            f"{activations.min():.3g}"
        )
    return np.maximum(activations, 0.0)


def _ranked(
    factors: Factorization,
    shares: np.ndarray,
    boxes: np.ndarray,
    owners: np.ndarray,
    top: int,
    reader: _Reader,
    **identity: Any,
) -> ConceptBank:
    """The bank, concepts by decreasing importance, with the crops that express each most."""
    order = np.argsort(-shares, kind="stable")
    coefficients = factors.coefficients[:, order]
    best = np.argsort(-coefficients, axis=0, kind="stable")[: min(top, len(boxes))].T
    picked = best.reshape(-1)
    top_crops = reader.crops(boxes[picked], owners[picked]).numpy()
    return ConceptBank(
        vectors=factors.components[order].astype(np.float32),
        importance=shares[order].astype(np.float64),
        coefficients=coefficients.astype(np.float32),
        boxes=boxes,
        owners=owners,
        top=best,
        top_crops=top_crops.reshape(*best.shape, *top_crops.shape[1:]),
        error=factors.error,
        **identity,
    )
