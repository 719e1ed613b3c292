"""Each concept's share of the class logit: exactly for a linear head, else by removal.

See :func:`xmaco.concepts.discover` for the two methods.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from ._activations import head_model
from ._decomposition import EPSILON, Factorization, project

__all__ = ["logit_share"]


def logit_share(
    model: Any,
    layer: str,
    head_layer: str,
    index: int,
    image_maps: np.ndarray,
    factors: Factorization,
    seed: int,
) -> tuple[np.ndarray, str]:
    """Each concept's share of the class logit on the whole images, and the method used.

    ``image_maps`` are the activations of ``layer`` on the whole images (N, ..., C); the
    shares are normalised so that their absolute values sum to 1.
    """
    weights = _linear_head(model, layer, head_layer, index, image_maps.shape[1:], seed)
    if weights is not None:
        pooled = image_maps.reshape(len(image_maps), -1, image_maps.shape[-1]).mean(axis=1)
        amounts = project(np.maximum(pooled, 0.0), factors.components)
        contribution = amounts.mean(axis=0) * (factors.components @ weights)
        method = "linear head"
    else:
        contribution = _sensitivity(model, layer, head_layer, index, image_maps, factors)
        method = "sensitivity"
    return contribution / max(float(np.abs(contribution).sum()), EPSILON), method


def _linear_head(model, layer, head_layer, index, shape, seed) -> np.ndarray | None:
    """The class weights ``w`` (C,) when ``logit = w . mean(a) + b``, else None.

    Checked on the gradient: it must be the same at two random points (affine) and at every
    position (a function of the spatial mean only)."""
    head = head_model(model, layer, head_layer)
    rng = np.random.default_rng(seed)
    gradients = []
    for _ in range(2):
        point = tf.constant(rng.random((1, *shape)).astype(np.float32))
        with tf.GradientTape() as tape:
            tape.watch(point)
            logit = tf.reshape(head(point, training=False), [-1])[index]
        gradients.append(tape.gradient(logit, point).numpy()[0].reshape(-1, shape[-1]))
    first, second = gradients
    scale = float(np.abs(first).max()) + EPSILON
    same_everywhere = np.abs(first - first.mean(axis=0)).max() <= 1e-4 * scale
    if np.abs(first - second).max() <= 1e-4 * scale and same_everywhere:
        return first.sum(axis=0).astype(np.float64)
    return None


def _sensitivity(model, layer, head_layer, index, maps, factors) -> np.ndarray:
    """Mean drop of the class logit when each concept is removed from every position."""
    head = head_model(model, layer, head_layer)
    positions = maps.reshape(len(maps), -1, maps.shape[-1])
    vectors = factors.components

    def logits(batch: np.ndarray) -> np.ndarray:
        out = head(tf.constant(batch.reshape(maps.shape).astype(np.float32)), training=False)
        return np.asarray(out).reshape(len(batch), -1)[:, index]

    amounts = project(np.maximum(positions.reshape(-1, maps.shape[-1]), 0.0), vectors)
    amounts = amounts.reshape(len(maps), positions.shape[1], -1)
    base = logits(positions)
    drops = np.zeros(len(vectors))
    for k in range(len(vectors)):
        removed = positions - amounts[:, :, k : k + 1] * vectors[k][None, None, :]
        drops[k] = float(np.mean(base - logits(removed)))
    return drops
