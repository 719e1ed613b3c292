"""The compiled step of a run: image, transforms, model, gradients, update, transparency.

One ``tf.function`` per run (traced once) does a whole iteration: the parameterization forms
the canvases, the transforms make the views the model sees, the model's input gradients are
computed (in micro-batches, or split over the replicas of a strategy), the phase is updated and
the absolute canvas gradients are added to the transparency maps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from .objectives import CompiledObjective
from .parameterizations import Parameterization, State
from .transforms import StepContext, Transform, Views, crop

__all__ = ["make_step"]

#: The region of a whole canvas, as a box.
_WHOLE = [[0.0, 0.0, 1.0, 1.0]]


def make_step(
    compiled: CompiledObjective,
    parameterization: Parameterization,
    state: State,
    optimizer: Any,
    transparency: tf.Variable,
    backup: list[tf.Variable],
    *,
    transforms: Sequence[Transform],
    seeds: tf.Tensor,
    input_size: tuple[int, int],
    values_range: tuple[float, float],
    learning_rate: Callable[[Any], Any] | None,
    batch_size: int | None,
    in_flight: int,
    jit_compile: bool,
    strategy: Any,
) -> Any:
    """The step ``step(index) -> (objective values (N,), gradient mass (N,))``, compiled."""
    low, high = values_range
    n = int(seeds.shape[0])
    gradients = _model_gradients(compiled, batch_size, in_flight, strategy)
    if jit_compile:
        gradients = tf.function(gradients, jit_compile=True)

    def views_of(image: tf.Tensor, step_index: tf.Tensor) -> Views:
        views = Views(image, tf.range(n, dtype=tf.int32), tf.tile(_WHOLE, [n, 1]))
        context = StepContext(step_index, seeds, input_size, (low, high))
        for transform in transforms:
            views = transform(views, context)
        return _checked(views, n, input_size)

    def step(step_index: tf.Tensor):
        for saved, variable in zip(backup, state.variables, strict=True):
            saved.assign(variable)
        if learning_rate is not None:
            optimizer.learning_rate.assign(tf.cast(learning_rate(step_index), tf.float32))
        with tf.GradientTape() as tape:
            image = low + (high - low) * parameterization.images(state)
            views = views_of(image, step_index)
        per_visualization = int(views.images.shape[0]) // n
        d_inputs, scores = gradients(views.images, views.owners, views.boxes, per_visualization)
        *grads, d_image = tape.gradient(
            views.images, [*state.variables, image], output_gradients=d_inputs
        )
        optimizer.apply_gradients([(-g, v) for g, v in zip(grads, state.variables, strict=True)])
        mass = tf.abs(d_image)
        values = tf.reduce_mean(tf.reshape(scores, [n, per_visualization]), axis=1)
        # a step whose objective is not finite ends the run: its gradients are not kept
        finite = tf.logical_and(tf.reduce_all(tf.math.is_finite(values)), tf.math.is_finite(mass))
        transparency.assign_add(tf.where(finite, mass, 0.0))
        return values, tf.reduce_sum(mass, axis=[1, 2, 3])

    return tf.function(step)


def _checked(views: Views, n: int, input_size: tuple[int, int]) -> Views:
    count, size = int(views.images.shape[0]), tuple(int(s) for s in views.images.shape[1:3])
    if count % n:
        raise ValueError(
            f"Expected the transforms to give the same number of views for each of the {n} "
            f"visualization(s). Received: {count} views"
        )
    if size != tuple(input_size):
        views = views._replace(images=crop(views.images, None, 1, input_size))
    return views


def _model_gradients(
    compiled: CompiledObjective, batch_size: int | None, in_flight: int, strategy: Any
) -> Callable[..., tuple[tf.Tensor, tf.Tensor]]:
    """``gradients(inputs, owners, boxes, per_visualization) -> (d inputs, scores)``: the input
    gradients and scores of a step's views, on one device or split evenly across the replicas
    of ``strategy``.

    ``owners`` says which visualization each input belongs to; ``boxes`` (B, 4) which region of
    the canvas it shows (objectives that compare with a reference image crop the same region
    of it). The loss is the scores' sum over a visualization's views, divided by their number.
    """

    def local(inputs, owners, boxes, weights, per_visualization):
        count = int(inputs.shape[0])
        if batch_size is None or batch_size >= count:
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                scores = compiled.scores(inputs, owners, boxes)
                loss = tf.reduce_sum(scores * weights) / per_visualization
            return tape.gradient(loss, inputs), scores
        return _micro_batched(
            compiled, (inputs, owners, boxes, weights), per_visualization, batch_size, in_flight
        )

    def gradients(inputs, owners, boxes, per_visualization):
        total = int(inputs.shape[0])
        weights = tf.ones([total])
        if strategy is None:
            return local(inputs, owners, boxes, weights, per_visualization)
        replicas = int(strategy.num_replicas_in_sync)
        share = math.ceil(total / replicas)
        padded = _pad([inputs, owners, boxes, weights], replicas * share)

        def shares(context):
            start = context.replica_id_in_sync_group * share
            return tuple(tensor[start : start + share] for tensor in padded)

        values = strategy.experimental_distribute_values_from_function(shares)
        outputs = strategy.run(lambda value: local(*value, per_visualization), args=(values,))
        return tuple(
            tf.concat(strategy.experimental_local_results(output), axis=0)[:total]
            for output in outputs
        )

    return gradients


def _micro_batched(
    compiled: CompiledObjective,
    tensors: tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor],
    per_visualization: int,
    batch_size: int,
    in_flight: int,
) -> tuple[tf.Tensor, tf.Tensor]:
    """The input gradients and scores of ``tensors`` (inputs, owners, boxes, weights) in
    micro-batches of at most ``batch_size`` images, ``in_flight`` of them at a time (each
    independent of the others: the order does not change the result); ``weights`` is 1 for
    real inputs and 0 for padding."""
    count = int(tensors[0].shape[0])
    # the fewest chunks of at most batch_size images, balanced so that padding stays small
    chunks = math.ceil(count / batch_size)
    size = math.ceil(count / chunks)
    inputs, owners, boxes, weights = _pad(list(tensors), chunks * size)
    grads = tf.TensorArray(inputs.dtype, size=chunks, element_shape=[size, *inputs.shape[1:]])
    scores = tf.TensorArray(tf.float32, size=chunks, element_shape=[size])

    def body(i, grads, scores):
        start = i * size
        chunk = tf.slice(inputs, [start, 0, 0, 0], [size, -1, -1, -1])
        with tf.GradientTape() as tape:
            tape.watch(chunk)
            chunk_scores = compiled.scores(
                chunk, tf.slice(owners, [start], [size]), tf.slice(boxes, [start, 0], [size, 4])
            )
            kept = chunk_scores * tf.slice(weights, [start], [size])
            loss = tf.reduce_sum(kept) / per_visualization
        grads = grads.write(i, tape.gradient(loss, chunk))
        return i + 1, grads, scores.write(i, chunk_scores)

    _, grads, scores = tf.while_loop(
        lambda i, *_: i < chunks,
        body,
        [tf.constant(0), grads, scores],
        parallel_iterations=in_flight,
    )
    flat = tf.reshape(grads.stack(), [-1, *inputs.shape[1:]])
    return flat[:count], tf.reshape(scores.stack(), [-1])[:count]


def _pad(tensors: list[tf.Tensor], length: int) -> list[tf.Tensor]:
    """Each tensor zero-padded along its first axis to ``length``."""
    padded = []
    for tensor in tensors:
        extra = length - int(tensor.shape[0])
        if extra:
            tensor = tf.pad(tensor, [[0, extra]] + [[0, 0]] * (tensor.shape.rank - 1))
        padded.append(tensor)
    return padded
