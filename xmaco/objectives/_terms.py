"""Terms: one weighted reading of one layer, each carrying the scoring function of its kind.

A term is a layer, a *score* (a small frozen object, one class per kind, called on the
layer's activations), the per-visualization ``data`` the score reads (channel or unit indices,
direction vectors, reference photos) and a weight. The engine only ever calls
``term.score(...)``: a new kind of objective is a new score class, not a new branch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

import numpy as np
import tensorflow as tf

_COSINE_FLOOR = 0.1


class Score(Protocol):
    """The scoring function of one kind of term.

    Called with the activations ``acts`` (B, ...) of the term's layer (float32, tokens already
    picked), the term's ``data`` (one row per visualization, or one row), ``rows`` (B,), the
    row of ``data`` that each image reads, and ``reference``, the activations of the
    reference regions (kinds with ``needs_reference`` only, else None); returns (B,)."""

    kind: ClassVar[str]
    needs_reference: ClassVar[bool]

    def __call__(
        self, acts: tf.Tensor, data: np.ndarray, rows: tf.Tensor, reference: Any
    ) -> tf.Tensor: ...


@dataclasses.dataclass(frozen=True)
class LayerScore:
    """The mean of the squared activations (a layer's energy)."""

    kind: ClassVar[str] = "layer"
    needs_reference: ClassVar[bool] = False

    def __call__(self, acts: tf.Tensor, data: np.ndarray, rows: tf.Tensor, reference: Any):
        return tf.reduce_mean(_per_image(tf.square(acts)), axis=1)


@dataclasses.dataclass(frozen=True)
class ChannelScore:
    """The mean of channel ``data[row]`` (last axis) over the positions or tokens."""

    kind: ClassVar[str] = "channel"
    needs_reference: ClassVar[bool] = False

    def __call__(self, acts: tf.Tensor, data: np.ndarray, rows: tf.Tensor, reference: Any):
        picked = tf.gather(acts, _rows(data, rows, tf.int32), axis=-1, batch_dims=1)
        return tf.reduce_mean(_per_image(picked), axis=1)


@dataclasses.dataclass(frozen=True)
class NeuronScore:
    """The unit of flat index ``data[row]``."""

    kind: ClassVar[str] = "neuron"
    needs_reference: ClassVar[bool] = False

    def __call__(self, acts: tf.Tensor, data: np.ndarray, rows: tf.Tensor, reference: Any):
        return tf.gather(_per_image(acts), _rows(data, rows, tf.int32), axis=1, batch_dims=1)


@dataclasses.dataclass(frozen=True)
class DirectionScore:
    """``dot(a, v) * max(cos(a, v), 0.1) ** cossim_pow`` along the channels, averaged over
    positions, with ``v = data[row]``."""

    cossim_pow: float
    kind: ClassVar[str] = "direction"
    needs_reference: ClassVar[bool] = False

    def __call__(self, acts: tf.Tensor, data: np.ndarray, rows: tf.Tensor, reference: Any):
        batch = tf.shape(acts)[0]
        vectors = _rows(data, rows, tf.float32)  # (B, C)
        flat = tf.reshape(acts, [batch, -1, acts.shape[-1]])  # (B, P, C)
        dot = tf.einsum("bpc,bc->bp", flat, vectors)
        norms = tf.norm(flat, axis=-1) * tf.norm(vectors, axis=-1)[:, None]
        return tf.reduce_mean(_cossim_weighted(dot, norms, self.cossim_pow), axis=1)


@dataclasses.dataclass(frozen=True)
class InversionScore:
    """``mean(a * r) * max(cos(a, r), 0.1) ** cossim_pow`` between the flattened activations
    of an image and of the same region of its reference photo (``data`` holds the photos)."""

    cossim_pow: float
    kind: ClassVar[str] = "inversion"
    needs_reference: ClassVar[bool] = True

    def __call__(self, acts: tf.Tensor, data: np.ndarray, rows: tf.Tensor, reference: Any):
        flat = _per_image(acts)
        target = _per_image(tf.cast(reference, tf.float32))
        dot = tf.reduce_mean(flat * target, axis=1)
        # mean(a * r) / (rms(a) rms(r)) is the cosine of the flattened activations
        norms = tf.sqrt(tf.reduce_mean(tf.square(flat), 1) * tf.reduce_mean(tf.square(target), 1))
        return _cossim_weighted(dot, norms, self.cossim_pow)


@dataclasses.dataclass(frozen=True)
class CustomScore:
    """A user's function of the activations, one score per image (see
    :meth:`Objective.custom`)."""

    function: Callable[[tf.Tensor], tf.Tensor]
    kind: ClassVar[str] = "custom"
    needs_reference: ClassVar[bool] = False

    def __call__(self, acts: tf.Tensor, data: np.ndarray, rows: tf.Tensor, reference: Any):
        return checked_scores(self.function, acts)


@tf.autograph.experimental.do_not_convert
def checked_scores(function: Callable[[tf.Tensor], tf.Tensor], activations: tf.Tensor):
    """``function(activations)`` as float32 scores (B,), or an error saying what was expected.

    The checks read static shapes and dtypes only: they run when the step is traced, never as
    operations of the step (and not converted by AutoGraph, so that their message stays
    readable)."""
    scores = check_scores(function(activations), tuple(activations.shape), function)
    return tf.cast(scores, tf.float32)


def probe_scores(function: Callable[[tf.Tensor], tf.Tensor], shape: tuple) -> None:
    """Trace ``function`` on symbolic activations ``(2, *shape)`` (nothing is computed) and
    check what it returns: a wrong return fails when the objective is built, in the
    project's error style, rather than inside the compiled step."""
    spec = tf.TensorSpec((2, *shape), tf.float32)
    traced = tf.function(function).get_concrete_function(spec)
    check_scores(traced.structured_outputs, tuple(spec.shape), function)


def check_scores(scores: Any, shape: tuple, function: Any) -> Any:
    """``scores`` if it is one float score per image of activations of ``shape``; else a
    ``TypeError`` or ``ValueError`` naming ``function``, the expected and the received."""
    batch = shape[0]
    expected = (
        f"one score per image, a float tensor of shape ({batch},) for activations of shape {shape}"
    )
    if not tf.is_tensor(scores):
        try:
            scores = tf.convert_to_tensor(scores)
        except (TypeError, ValueError):
            raise TypeError(
                f"Expected function to return {expected}. Received: {scores!r} of type "
                f"{type(scores).__name__} from {_describe(function)}"
            ) from None
    rank = scores.shape.rank
    size = scores.shape[0] if rank else None
    if rank != 1 or (batch is not None and size is not None and size != batch):
        raise ValueError(
            f"Expected function to return {expected} (reduce every axis but the first, e.g. "
            "tf.reduce_mean(x, axis=list(range(1, len(x.shape))))). Received: shape "
            f"{tuple(scores.shape)} from {_describe(function)}"
        )
    if not scores.dtype.is_floating:
        raise TypeError(
            f"Expected function to return {expected} (gradients need floats). Received: "
            f"dtype {scores.dtype.name} from {_describe(function)}"
        )
    return scores


def _describe(function: Any) -> str:
    name = getattr(function, "__qualname__", None) or type(function).__name__
    return f"function={name}"


@dataclasses.dataclass(frozen=True, eq=False)
class _Term:
    """One weighted reading of one layer; ``data`` has one row per visualization (or one).

    ``scoring`` is the kind's score (e.g. :class:`ChannelScore`). A label ``None`` marks a
    visualization the term does not score (see :meth:`Objective.concatenate`); ``tokens``
    selects the tokens of a (B, T, D) layer."""

    layer: str
    scoring: Score
    data: np.ndarray
    labels: tuple[str | None, ...]
    weight: float = 1.0
    tokens: str | int = "all"

    @property
    def kind(self) -> str:
        """The name of the term's kind: ``'layer'``, ``'channel'``, ``'custom'``, ..."""
        return self.scoring.kind

    @property
    def size(self) -> int:
        return len(self.labels)

    @property
    def needs_reference(self) -> bool:
        """Whether the term compares the images with reference images (needs ``reference``)."""
        return self.scoring.needs_reference

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
        score = self.scoring(acts, self.data, rows, reference)
        if None in self.labels:
            active = tf.constant([label is not None for label in self.labels], tf.float32)
            score = score * tf.gather(active, rows)
        return score


def _per_image(values: tf.Tensor) -> tf.Tensor:
    """``values`` (B, ...) flattened to one row per image (B, -1)."""
    return tf.reshape(values, [tf.shape(values)[0], -1])


def _rows(data: np.ndarray, rows: tf.Tensor, dtype: tf.DType) -> tf.Tensor:
    """The row of ``data`` that each image reads (B, ...)."""
    return tf.gather(tf.constant(data, dtype), rows)


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
