"""Terms: one weighted reading of one layer, and how it scores an image."""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

_COSINE_FLOOR = 0.1


@dataclasses.dataclass(frozen=True, eq=False)
class _Term:
    """One weighted reading of one layer; ``data`` has one row per visualization (or one).

    A label ``None`` marks a visualization the term does not score (see
    :meth:`Objective.concatenate`); ``tokens`` selects the tokens of a (B, T, D) layer."""

    layer: str
    kind: str
    data: np.ndarray
    labels: tuple[str | None, ...]
    weight: float = 1.0
    cossim_pow: float = 0.0
    tokens: str | int = "all"

    @property
    def size(self) -> int:
        return len(self.labels)

    def scaled(self, factor: float) -> _Term:
        return dataclasses.replace(self, weight=self.weight * factor)

    def score(
        self,
        activations: tf.Tensor,
        visualization: tf.Tensor,
        boxes: tf.Tensor | None = None,
        reference: tf.Tensor | None = None,
    ) -> tf.Tensor:
        """Per-image scores (B,) for images belonging to ``visualization`` (B,) indices.

        ``boxes`` (B, 4) are the canvas regions the images show (None: the whole canvas);
        ``reference`` (inversion terms) holds the activations of the same regions of the
        reference images."""
        acts = _pick_tokens(tf.cast(activations, tf.float32), self.tokens)
        rows = visualization if self.size > 1 else tf.zeros_like(visualization)
        batch = tf.shape(acts)[0]
        if self.kind == "layer":
            score = tf.reduce_mean(tf.reshape(tf.square(acts), [batch, -1]), axis=1)
        elif self.kind == "channel":
            index = tf.gather(tf.constant(self.data, tf.int32), rows)
            picked = tf.gather(acts, index, axis=-1, batch_dims=1)
            score = tf.reduce_mean(tf.reshape(picked, [batch, -1]), axis=1)
        elif self.kind == "neuron":
            index = tf.gather(tf.constant(self.data, tf.int32), rows)
            score = tf.gather(tf.reshape(acts, [batch, -1]), index, axis=1, batch_dims=1)
        elif self.kind == "direction":
            vectors = tf.gather(tf.constant(self.data, tf.float32), rows)  # (B, C)
            flat = tf.reshape(acts, [batch, -1, acts.shape[-1]])  # (B, P, C)
            dot = tf.einsum("bpc,bc->bp", flat, vectors)
            norms = tf.norm(flat, axis=-1) * tf.norm(vectors, axis=-1)[:, None]
            score = tf.reduce_mean(_cossim_weighted(dot, norms, self.cossim_pow), axis=1)
        elif self.kind == "inversion":
            flat = tf.reshape(acts, [batch, -1])
            target = tf.reshape(tf.cast(reference, tf.float32), [batch, -1])
            dot = tf.reduce_mean(flat * target, axis=1)
            # mean(a * r) / (rms(a) rms(r)) is the cosine of the flattened activations
            norms = tf.sqrt(
                tf.reduce_mean(tf.square(flat), 1) * tf.reduce_mean(tf.square(target), 1)
            )
            score = _cossim_weighted(dot, norms, self.cossim_pow)
        else:
            raise AssertionError(f"unknown term kind {self.kind}")
        if None in self.labels:
            active = tf.constant([label is not None for label in self.labels], tf.float32)
            score = score * tf.gather(active, rows)
        return score

    @property
    def needs_reference(self) -> bool:
        """Whether the term compares the images with reference images (needs ``reference``)."""
        return self.kind == "inversion"


def _cossim_weighted(dot: tf.Tensor, norms: tf.Tensor, cossim_pow: float) -> tf.Tensor:
    """``dot * max(cos, 0.1) ** cossim_pow`` with ``cos = dot / norms``."""
    if not cossim_pow:
        return dot
    cosine = tf.maximum(dot / (norms + 1e-8), _COSINE_FLOOR)
    return dot * cosine**cossim_pow


def _pick_tokens(activations: tf.Tensor, tokens: str | int) -> tf.Tensor:
    """The tokens (axis 1) of a (B, T, D) activation that a term reads."""
    if tokens == "all":
        return activations
    if tokens == "class":
        return activations[:, :1]
    if tokens == "patches":
        return activations[:, 1:]
    return activations[:, tokens : tokens + 1]
