"""The compiled objective: one multi-output feature model for all the layers it reads."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf

from .._resample import gather_crop

if TYPE_CHECKING:
    from ._objective import Objective


class CompiledObjective:
    """An objective bound to one multi-output feature model (one forward pass for all layers).

    Inversion terms also need the activations of the reference photos: the same regions
    (``boxes``) of each reference are cropped, resized to the images' size and run through a
    second feature model under ``tf.stop_gradient``, once per distinct reference stack. A
    second call rather than one call on the images and references together: the backward
    pass then runs over the images only.

    Example
    -------
    >>> import keras, tensorflow as tf
    >>> model = keras.Sequential(
    ...     [keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="conv")]
    ... )
    >>> from xmaco import Objective
    >>> compiled = Objective.channel(model, "conv", [0, 1]).compile()
    >>> compiled.scores(tf.zeros([4, 8, 8, 3]), tf.constant([0, 0, 1, 1])).shape.as_list()
    [4]
    """

    def __init__(self, objective: Objective) -> None:
        import keras

        model = objective.model
        self.terms = objective.terms
        self.visualizations = objective.visualizations
        self.layers = objective.layers
        outputs = [model.get_layer(name).output for name in self.layers]
        self.feature_model = keras.Model(model.inputs[0], outputs, name=f"{model.name}_features")
        self._position = {name: i for i, name in enumerate(self.layers)}
        # Inversion terms grouped by identical reference stacks: one reference pass per group.
        self._groups: list[tuple[np.ndarray, list[int]]] = []
        for index, term in enumerate(self.terms):
            if not term.needs_reference:
                continue
            for stack, members in self._groups:
                if stack.shape == term.data.shape and np.array_equal(stack, term.data):
                    members.append(index)
                    break
            else:
                self._groups.append((term.data, [index]))
        self.reference_layers = list(
            dict.fromkeys(self.terms[i].layer for _, members in self._groups for i in members)
        )
        self.reference_model = None
        if self.reference_layers:
            self.reference_model = keras.Model(
                model.inputs[0],
                [model.get_layer(name).output for name in self.reference_layers],
                name=f"{model.name}_references",
            )

    def scores(
        self, images: tf.Tensor, visualization: tf.Tensor, boxes: tf.Tensor | None = None
    ) -> tf.Tensor:
        """The weighted objective of every image (B,), image ``b`` scored for
        ``visualization[b]``; ``boxes`` (B, 4), normalised ``(y1, x1, y2, x2)``, are the
        canvas regions the images show (None: the whole canvas)."""
        outputs = self.feature_model(images, training=False)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        references = self._reference_activations(images, visualization, boxes)
        total = 0.0
        for index, term in enumerate(self.terms):
            total += term.weight * term.score(
                outputs[self._position[term.layer]], visualization, boxes, references.get(index)
            )
        return total

    def _reference_activations(
        self, images: tf.Tensor, visualization: tf.Tensor, boxes: tf.Tensor | None
    ) -> dict[int, tf.Tensor]:
        """Activations of the reference regions shown by ``images``, by inversion term index."""
        if not self._groups:
            return {}
        if boxes is None:
            boxes = tf.tile([[0.0, 0.0, 1.0, 1.0]], [tf.shape(images)[0], 1])
        size = (int(images.shape[1]), int(images.shape[2]))
        found = {}
        for stack, members in self._groups:
            rows = visualization if len(stack) > 1 else tf.zeros_like(visualization)
            # the gather formulation of crop_and_resize: XLA compiles it, the kernel it lacks
            crops = gather_crop(tf.constant(stack), tf.cast(boxes, tf.float32), rows, size)
            outputs = self.reference_model(tf.stop_gradient(crops), training=False)
            if not isinstance(outputs, (list, tuple)):
                outputs = [outputs]
            by_layer = dict(zip(self.reference_layers, outputs, strict=True))
            for index in members:
                found[index] = tf.stop_gradient(by_layer[self.terms[index].layer])
        return found
