"""Reading a layer's activations on images and crops, and the model above a layer."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np
import tensorflow as tf

from ..engine import input_size_of
from ._arguments import image_array, input_range
from ._images import load_images

__all__ = ["Pictures", "Reader", "head_model", "pictures_of"]


@dataclasses.dataclass(frozen=True, eq=False)
class Pictures:
    """Images ready for the model: the array, the model's input size and input range."""

    array: np.ndarray
    size: tuple[int, int]
    values_range: tuple[float, float]


def pictures_of(
    model: Any, images: Any, values_range: Any = None, model_input_size: Any = None
) -> Pictures:
    """``images`` (an array in the model's range, or a folder read at twice the input size)."""
    size = input_size_of(model, model_input_size)
    low, high = input_range(values_range, model)
    channels = int(model.inputs[0].shape[-1])
    if isinstance(images, (str, os.PathLike)):
        images = load_images(images, (2 * size[0], 2 * size[1]), (low, high), channels)
    return Pictures(image_array(images, channels), size, (low, high))


@dataclasses.dataclass(frozen=True, eq=False)
class Reader:
    """The activations of one layer on crops of the pictures, resized to the model input."""

    features: Any
    pictures: np.ndarray
    size: tuple[int, int]
    batch_size: int

    @classmethod
    def of(cls, model: Any, layer: str, pictures: Pictures, batch_size: int) -> Reader:
        import keras

        features = keras.Model(model.inputs[0], model.get_layer(layer).output)
        return cls(features, pictures.array, pictures.size, batch_size)

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
        return self.maps(whole_boxes(count), np.arange(count))


def whole_boxes(count: int) -> np.ndarray:
    """``count`` boxes covering their whole image."""
    return np.tile([[0.0, 0.0, 1.0, 1.0]], [count, 1]).astype(np.float32)


def head_model(model: Any, layer: str, head_layer: str) -> Any:
    """The part of ``model`` from the output of ``layer`` to the output of ``head_layer``."""
    import keras

    try:
        return keras.Model(model.get_layer(layer).output, model.get_layer(head_layer).output)
    except ValueError as error:
        raise ValueError(
            f"Expected class_layer '{head_layer}' to be computed from layer '{layer}'. "
            f"Received: no path between them ({error})"
        ) from None
