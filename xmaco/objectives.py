"""Objectives: what a visualization maximises, as immutable objects with an algebra.

An :class:`Objective` is a weighted sum of *terms*. A term reads one layer of a Keras model and
scores every input image (a layer's energy, a channel, a neuron, a direction, the likeness to
a reference photo). A factory given a list builds a *batch*: N visualizations optimised
together, term ``i`` scoring visualization ``i``. Objectives of batch size 1 broadcast over any
batch; :meth:`Objective.concatenate` puts different objectives side by side in one batch.

Operators return new objects and every term keeps exactly its own weight::

    1 * a + 3 * b - 5 * c   # weights 1, 3 and -5, whatever the order of evaluation

All the layers read by an objective share one forward pass: :meth:`Objective.compile` builds a
single multi-output feature model.
"""

from __future__ import annotations

import dataclasses
import difflib
import numbers
import re
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from .transforms import _gather_crop

__all__ = ["Objective", "CompiledObjective"]

_COSINE_FLOOR = 0.1
# A stage-named layer: "conv5_4" (VGG), "conv5_block3_out" (ResNet); group 1 is the stage.
_STAGE_PREFIX = re.compile(r"([A-Za-z]+[0-9]+)_")
_TOKEN_CHOICES = ("all", "patches", "class")


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


class Objective:
    """A (batch of) feature-visualization objective(s) on a Keras model.

    Build objectives with the factories (:meth:`layer`, :meth:`channel`, :meth:`neuron`,
    :meth:`direction`) and combine them with ``+``, ``-``, unary ``-``, and ``*`` or ``/`` by a
    number. Objects are immutable.

    Example
    -------
    >>> import keras
    >>> inputs = keras.Input((16, 16, 3))
    >>> x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    >>> x = keras.layers.GlobalAveragePooling2D()(x)
    >>> model = keras.Model(inputs, keras.layers.Dense(10, name="logits")(x))
    >>> obj = Objective.neuron(model, "logits", [1, 2]) + 0.5 * Objective.channel(model, "conv", 3)
    >>> obj.batch_size, obj.names
    (2, ['logits[1] + 0.5*conv:channel 3', 'logits[2] + 0.5*conv:channel 3'])
    """

    __slots__ = ("_model", "_terms")

    def __init__(self, model: Any, terms: Sequence[_Term]) -> None:
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_terms", tuple(terms))
        _batch_size(self._terms)  # validates the broadcast

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Objective objects are immutable; operators return new ones.")

    # ------------------------------------------------------------------ factories
    @classmethod
    def layer(cls, model: Any, layer: str | int) -> Objective:
        """Maximise the mean of the squared activations of ``layer`` (its overall energy).

        Every factory takes ``layer`` as a name, an index, or a stage alias: on a model whose
        layers are named by stage (``conv5_1`` ... ``conv5_4`` in VGG, ``conv5_block1_1_conv``
        ... ``conv5_block3_out`` in ResNet), ``"conv5"`` is the stage's last layer, unless a
        layer has that very name.

        Example
        -------
        >>> import keras
        >>> model = keras.Sequential(
        ...     [keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 3, name="conv")]
        ... )
        >>> Objective.layer(model, 0).names
        ['conv:layer']
        >>> staged = keras.Sequential([keras.Input((8, 8, 3)),
        ...                            keras.layers.Conv2D(2, 3, name="conv1_1"),
        ...                            keras.layers.Conv2D(2, 3, name="conv1_2")])
        >>> Objective.layer(staged, "conv1").names
        ['conv1_2:layer']
        """
        name, _ = _resolve_layer(model, layer)
        return cls(model, [_Term(name, "layer", np.zeros((1,), np.int32), (f"{name}:layer",))])

    @classmethod
    def channel(
        cls,
        model: Any,
        layer: str | int,
        channel: int | Sequence[int],
        tokens: str | int = "all",
    ) -> Objective:
        """Maximise the mean activation of one channel (last axis) of ``layer``.

        For a conv layer the mean runs over the spatial positions; for a token layer
        (B, T, D), as in a vision transformer, over the tokens chosen by ``tokens``:
        ``"all"`` (every token), ``"patches"`` (all but the first, the class token),
        ``"class"`` (token 0) or an int (one token position). A list of channels makes a batch.

        Example
        -------
        >>> import keras
        >>> model = keras.Sequential(
        ...     [keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="conv")]
        ... )
        >>> Objective.channel(model, "conv", [0, 3]).batch_size
        2
        >>> tokens = keras.Sequential([keras.Input((8, 8, 3)),
        ...                            keras.layers.Reshape((16, 12), name="vit")])
        >>> Objective.channel(tokens, "vit", 5, tokens="class").names
        ['vit:channel 5 [class token]']
        """
        name, shape = _resolve_layer(model, layer)
        _warn_if_softmax(model, name, "channel")
        channels = _indices(channel, "channel", shape[-1], f"the {shape[-1]} channels of {name}")
        tokens, suffix = _tokens(tokens, shape, name)
        labels = tuple(f"{name}:channel {c}{suffix}" for c in channels)
        data = np.asarray(channels, np.int32)
        return cls(model, [_Term(name, "channel", data, labels, tokens=tokens)])

    @classmethod
    def neuron(
        cls, model: Any, layer: str | int, index: int | Sequence[int] | Sequence[Sequence[int]]
    ) -> Objective:
        """Maximise one unit of ``layer``.

        ``index`` is an int (a unit of a dense output such as a logit, or the flat index of
        a unit of a larger output) or a tuple of coordinates, e.g. ``(y, x, channel)`` for a
        spatial position of a channel, ``(token, channel)`` for a token layer. A list of such
        indices makes a batch: ``Objective.neuron(model, "logits", [1, 2, 130])``.

        For a class, target the logits, not probabilities: on a layer that applies a softmax
        (Keras applications by default) the gradients vanish as soon as one class wins, and
        a warning names the layer to use instead.

        Example
        -------
        >>> import keras
        >>> model = keras.Sequential(
        ...     [keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="conv")]
        ... )
        >>> Objective.neuron(model, "conv", (2, 3, 1)).names
        ['conv:neuron (2, 3, 1)']
        """
        name, shape = _resolve_layer(model, layer)
        _warn_if_softmax(model, name, "neuron")
        flat, labels = _neuron_indices(index, shape, name)
        return cls(model, [_Term(name, "neuron", np.asarray(flat, np.int32), tuple(labels))])

    @classmethod
    def direction(
        cls,
        model: Any,
        layer: str | int,
        vector: Any,
        cossim_pow: float = 2.0,
        tokens: str | int = "all",
    ) -> Objective:
        """Maximise ``dot(a, v) * max(cos(a, v), 0.1) ** cossim_pow`` along the channels.

        ``a`` is the activation vector at each spatial position (or token) of ``layer``; the
        score is averaged over positions. ``vector`` is one direction (C,) or a batch (N, C),
        e.g. concept vectors. ``cossim_pow=0`` gives the plain dot product. ``tokens`` chooses
        the tokens of a token layer, as in :meth:`channel`.

        Example
        -------
        >>> import keras, numpy as np
        >>> model = keras.Sequential(
        ...     [keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="conv")]
        ... )
        >>> Objective.direction(model, "conv", np.eye(4)[:2]).batch_size
        2
        """
        name, shape = _resolve_layer(model, layer)
        vectors = _vectors(vector, shape[-1], name)
        pow_ = _number(cossim_pow, "cossim_pow", minimum=0.0)
        tokens, suffix = _tokens(tokens, shape, name)
        labels = tuple(
            f"{name}:direction" + (f" {i}" if len(vectors) > 1 else "") + suffix
            for i in range(len(vectors))
        )
        term = _Term(name, "direction", vectors, labels, cossim_pow=pow_, tokens=tokens)
        return cls(model, [term])

    @classmethod
    def inversion(
        cls, model: Any, layer: str | int, image: Any, cossim_pow: float = 2.0
    ) -> Objective:
        """Make the activations of ``layer`` match those of a reference photo (feature inversion).

        The score of an image is ``mean(a * r) * max(cos(a, r), 0.1) ** cossim_pow``, where
        ``a`` and ``r`` are the flattened activations of ``layer`` (every position and channel)
        for the image and for the reference. Each random crop of the canvas is compared with
        the **same region** of the reference: the engine's crop boxes, in normalised
        coordinates, are applied to the reference too, so the canvas stands for the whole
        reference stretched to the canvas' shape (give the canvas the reference's aspect ratio
        to avoid distortion; :func:`xmaco.invert` does). The reference crops run through the
        model without gradient.

        Parameters
        ----------
        model
            The Keras model.
        layer
            The layer whose activations are matched (name or index).
        image
            The reference: one photo (H, W, C) or a batch (N, H, W, C), which makes a batch of
            N inversions. Values in the model's input range (e.g. [-1, 1] for the models of
            :mod:`xmaco.zoo`), C equal to the model's input channels; any H, W (each crop is
            resized to the model input).
        cossim_pow
            Power of the cosine (>= 0); higher values favour the direction of the activations
            over their magnitude.

        Example
        -------
        >>> import keras, numpy as np
        >>> model = keras.Sequential(
        ...     [keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="conv")]
        ... )
        >>> photos = np.random.default_rng(0).random((2, 20, 20, 3))
        >>> Objective.inversion(model, "conv", photos).names
        ['conv:inversion 0', 'conv:inversion 1']
        """
        name, _ = _resolve_layer(model, layer)
        references = _reference_images(image, int(model.inputs[0].shape[-1]))
        pow_ = _number(cossim_pow, "cossim_pow", minimum=0.0)
        labels = tuple(
            f"{name}:inversion" + (f" {i}" if len(references) > 1 else "")
            for i in range(len(references))
        )
        return cls(model, [_Term(name, "inversion", references, labels, cossim_pow=pow_)])

    @classmethod
    def concatenate(cls, objectives: Sequence[Objective]) -> Objective:
        """One batch made of several objectives side by side.

        Visualization ``i`` of the result is optimised for the ``i``-th visualization of the
        concatenated batches, and reads only its own terms: e.g. channels of different
        layers, or inversions at several depths, in one run.

        Example
        -------
        >>> import keras
        >>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="a"),
        ...                           keras.layers.Conv2D(6, 3, name="b")])
        >>> both = Objective.concatenate([Objective.channel(model, 0, [1, 2]),
        ...                               Objective.layer(model, 1)])
        >>> both.names
        ['a:channel 1', 'a:channel 2', 'b:layer']
        """
        parts = list(objectives) if isinstance(objectives, (list, tuple)) else None
        if not parts or not all(isinstance(part, Objective) for part in parts):
            raise TypeError(
                "Expected objectives to be a non-empty list of xmaco.Objective. Received: "
                f"objectives={objectives!r}"
            )
        for part in parts[1:]:
            _check_operand(parts[0], part, "concatenate", same_batch=False)
        if len(parts) == 1:
            return parts[0]
        total = sum(part.batch_size for part in parts)
        terms, offset = [], 0
        for part in parts:
            inside = range(offset, offset + part.batch_size)
            for term in part.terms:
                source = [
                    (j - offset if term.size > 1 else 0) if j in inside else 0 for j in range(total)
                ]
                labels = tuple(
                    term.labels[source[j]] if j in inside else None for j in range(total)
                )
                terms.append(dataclasses.replace(term, data=term.data[source], labels=labels))
            offset += part.batch_size
        return cls(parts[0].model, terms)

    # ------------------------------------------------------------------ algebra
    def __add__(self, other: Any) -> Objective:
        if isinstance(other, numbers.Real) and other == 0:
            return self  # lets sum() start from 0
        other = _check_operand(self, other, "+")
        return Objective(self._model, self._terms + other._terms)

    def __radd__(self, other: Any) -> Objective:
        return self.__add__(other)

    def __sub__(self, other: Any) -> Objective:
        other = _check_operand(self, other, "-")
        return Objective(self._model, self._terms + tuple(t.scaled(-1.0) for t in other._terms))

    def __neg__(self) -> Objective:
        return self * -1.0

    def __mul__(self, factor: Any) -> Objective:
        factor = _scalar(factor, "*")
        return Objective(self._model, tuple(t.scaled(factor) for t in self._terms))

    def __rmul__(self, factor: Any) -> Objective:
        return self.__mul__(factor)

    def __truediv__(self, factor: Any) -> Objective:
        factor = _scalar(factor, "/")
        if factor == 0:
            raise ZeroDivisionError("Expected a non-zero divisor for an Objective. Received: 0")
        return self * (1.0 / factor)

    # ------------------------------------------------------------------ description
    @property
    def model(self) -> Any:
        """The Keras model the objective reads."""
        return self._model

    @property
    def terms(self) -> tuple[_Term, ...]:
        """The weighted terms (read-only)."""
        return self._terms

    @property
    def batch_size(self) -> int:
        """The number of visualizations the objective describes."""
        return _batch_size(self._terms)

    @property
    def layers(self) -> list[str]:
        """The distinct layers read, in order of first use."""
        return list(dict.fromkeys(t.layer for t in self._terms))

    @property
    def names(self) -> list[str]:
        """One readable name per visualization, e.g. ``'logits[2] + 0.5*conv5:channel 12'``."""
        names = []
        for i in range(self.batch_size):
            text = ""
            for term in self._terms:
                label = term.labels[i if term.size > 1 else 0]
                if label is None:
                    continue
                weight = term.weight
                sign = "-" if weight < 0 else "+"
                magnitude = abs(weight)
                factor = "" if magnitude == 1 else f"{magnitude:g}*"
                if not text:
                    text = f"{'-' if weight < 0 else ''}{factor}{label}"
                else:
                    text += f" {sign} {factor}{label}"
            names.append(text)
        return names

    def __repr__(self) -> str:
        return f"Objective(batch_size={self.batch_size}, names={self.names!r})"

    def compile(self) -> CompiledObjective:
        """Build the shared feature model; see :class:`CompiledObjective`."""
        return CompiledObjective(self)


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
    >>> compiled = Objective.channel(model, "conv", [0, 1]).compile()
    >>> compiled.scores(tf.zeros([4, 8, 8, 3]), tf.constant([0, 0, 1, 1])).shape.as_list()
    [4]
    """

    def __init__(self, objective: Objective) -> None:
        import keras

        model = objective.model
        self.terms = objective.terms
        self.batch_size = objective.batch_size
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
            crops = _gather_crop(tf.constant(stack), tf.cast(boxes, tf.float32), rows, size)
            outputs = self.reference_model(tf.stop_gradient(crops), training=False)
            if not isinstance(outputs, (list, tuple)):
                outputs = [outputs]
            by_layer = dict(zip(self.reference_layers, outputs, strict=True))
            for index in members:
                found[index] = tf.stop_gradient(by_layer[self.terms[index].layer])
        return found


# ---------------------------------------------------------------------- validation helpers
def check_model(model: Any) -> None:
    """Check that ``model`` is a Keras model with one NHWC image input of 1 or 3 channels."""
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(
            "Expected model to be a keras.Model (Functional or Sequential). Received: "
            f"model of type {type(model).__name__}"
        )
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise TypeError(
            f"Expected model to be a Functional or Sequential keras.Model with symbolic inputs "
            f"(a built graph). Received: model '{model.name}' has no symbolic inputs (a "
            "subclassed model? wrap it: keras.Model(inputs, your_model(inputs)))"
        )
    if len(inputs) != 1:
        raise ValueError(
            f"Expected model to have a single image input. Received: {len(inputs)} inputs"
        )
    shape = tuple(inputs[0].shape)
    if len(shape) != 4 or shape[-1] not in (1, 3):
        raise ValueError(
            "Expected model to take images (batch, height, width, channels) with 1 or 3 "
            f"channels. Received: input shape {shape}"
        )


def _resolve_layer(model: Any, layer: str | int) -> tuple[str, tuple]:
    check_model(model)
    names = [item.name for item in model.layers]
    if isinstance(layer, bool) or not isinstance(layer, (str, numbers.Integral)):
        raise TypeError(
            f"Expected layer to be a layer name (str) or index (int). Received: layer={layer!r}"
        )
    if isinstance(layer, numbers.Integral):
        if not -len(names) <= layer < len(names):
            raise ValueError(
                f"Expected layer to be an index in [{-len(names)}, {len(names) - 1}]. "
                f"Received: layer={layer}"
            )
        found = model.layers[layer]
    else:
        aliases = _stage_aliases(names)
        if layer not in names and layer not in aliases:
            labels = {name: repr(name) for name in names}
            labels |= {alias: f"{alias!r} (= {last!r})" for alias, last in aliases.items()}
            folded = {name.casefold(): name for name in labels}
            close = [
                labels[folded[match]]
                for match in difflib.get_close_matches(layer.casefold(), folded, n=5, cutoff=0.5)
            ]
            hint = f" Close matches: {', '.join(close)}." if close else ""
            raise ValueError(
                f"Expected layer to be a layer name of model '{model.name}'. Received: "
                f"layer={layer!r}.{hint}"
            )
        found = model.get_layer(layer if layer in names else aliases[layer])
    try:
        shape = tuple(found.output.shape)[1:]
    except (AttributeError, ValueError):
        raise ValueError(
            f"Expected layer to have a single symbolic output. Received: layer "
            f"'{found.name}' (used several times or not connected)"
        ) from None
    if not shape or shape[-1] is None:
        raise ValueError(
            f"Expected layer to have a known number of channels (last axis). Received: layer "
            f"'{found.name}' with output shape {(None, *shape)}"
        )
    return found.name, shape


def _warn_if_softmax(model: Any, name: str, factory: str) -> None:
    """Warn that a class objective on probabilities optimises badly, and name the logits.

    d softmax_c / d logit_j = p_c (delta_cj - p_j): as soon as one class is likely, or none
    is, these gradients vanish, so the optimisation stalls or feeds on the other classes.
    """
    layer = model.get_layer(name)
    if not _applies_softmax(layer):
        return
    source = None if hasattr(layer, "kernel") else _input_layer_name(model, layer)
    if source is not None:
        instead = f"use the layer before it, '{source}', which holds the logits"
    else:
        instead = (
            "rebuild the model without it (Keras applications: classifier_activation=None, "
            "the default of xmaco.zoo.load) and use its logits"
        )
    warnings.warn(
        f"Objective.{factory} on layer '{name}' of model '{model.name}' reads probabilities "
        f"(a softmax), whose gradients vanish once one class dominates; {instead}.",
        UserWarning,
        stacklevel=3,
    )


def _applies_softmax(layer: Any) -> bool:
    """Whether ``layer`` outputs probabilities: a Softmax layer, or one whose activation is."""
    activation = getattr(layer, "activation", None)
    return type(layer).__name__ == "Softmax" or getattr(activation, "__name__", None) == "softmax"


def _input_layer_name(model: Any, layer: Any) -> str | None:
    """Name of the layer of ``model`` whose output feeds ``layer``, if there is one."""
    try:
        source = layer.input
    except (AttributeError, ValueError):
        return None
    for other in model.layers:
        try:
            if other.output is source:
                return other.name
        except (AttributeError, ValueError):
            continue
    return None


def _stage_aliases(names: Sequence[str]) -> dict[str, str]:
    """Stage alias -> the stage's last layer, for layers named ``{stage}_...`` in model order.

    Keras lists a Functional model's layers in topological order, so the last layer of a
    stage is the one whose output the next stage reads (``conv5_4``, ``conv5_block3_out``).
    A layer that is itself named like an alias keeps its name.
    """
    aliases = {}
    for name in names:
        match = _STAGE_PREFIX.match(name)
        if match:
            aliases[match.group(1)] = name
    return {alias: last for alias, last in aliases.items() if alias not in names}


def _indices(value: Any, argument: str, size: int, what: str) -> list[int]:
    items = list(value) if isinstance(value, (list, tuple, np.ndarray, range)) else [value]
    if not items:
        raise ValueError(
            f"Expected {argument} to be an index or a non-empty list of indices. "
            f"Received: {argument}={value!r}"
        )
    out = []
    for item in items:
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, (numbers.Integral,)):
            raise TypeError(
                f"Expected {argument} to be an int or a list of ints. Received: "
                f"{argument}={item!r} of type {type(item).__name__}"
            )
        if not 0 <= int(item) < size:
            raise ValueError(
                f"Expected {argument} to be in [0, {size - 1}] ({what}). "
                f"Received: {argument}={int(item)}"
            )
        out.append(int(item))
    return out


def _neuron_indices(index: Any, shape: tuple, layer: str) -> tuple[list[int], list[str]]:
    if any(dim is None for dim in shape):
        raise ValueError(
            f"Expected layer '{layer}' to have a fully known output shape to address a neuron. "
            f"Received: output shape {(None, *shape)}"
        )
    total = int(np.prod(shape))
    is_coord = (
        isinstance(index, tuple) and index and all(isinstance(i, numbers.Integral) for i in index)
    )
    items = [index] if (is_coord or not isinstance(index, (list, np.ndarray, range))) else index
    if len(items) == 0:
        raise ValueError(
            f"Expected index to be an int, a tuple or a non-empty list. Received: index={index!r}"
        )
    flat, labels = [], []
    for item in items:
        if isinstance(item, (tuple, list, np.ndarray)) and not isinstance(item, str):
            if any(
                isinstance(c, (bool, np.bool_)) or not isinstance(c, (numbers.Integral, np.integer))
                for c in item
            ):
                raise TypeError(
                    f"Expected index to be a tuple of integer coordinates. Received: "
                    f"index={tuple(item)!r}"
                )
            coords = tuple(int(c) for c in item)
            if len(coords) != len(shape) or any(
                not 0 <= c < d for c, d in zip(coords, shape, strict=False)
            ):
                raise ValueError(
                    f"Expected index to be coordinates within the output shape {shape} of "
                    f"layer '{layer}'. Received: index={coords}"
                )
            flat.append(int(np.ravel_multi_index(coords, shape)))
            labels.append(f"{layer}:neuron {coords}")
        elif isinstance(item, numbers.Integral) and not isinstance(item, (bool, np.bool_)):
            if not 0 <= int(item) < total:
                raise ValueError(
                    f"Expected index to be in [0, {total - 1}] (the units of layer '{layer}', "
                    f"shape {shape}). Received: index={int(item)}"
                )
            flat.append(int(item))
            labels.append(
                f"{layer}[{int(item)}]"
                if len(shape) == 1
                else f"{layer}:neuron {tuple(int(c) for c in np.unravel_index(int(item), shape))}"
            )
        else:
            raise TypeError(
                f"Expected index to be an int or a tuple of ints. Received: "
                f"index={item!r} of type {type(item).__name__}"
            )
    return flat, labels


def _vectors(vector: Any, channels: int, layer: str) -> np.ndarray:
    try:
        vectors = np.asarray(vector, dtype=np.float32)
    except (TypeError, ValueError):
        raise TypeError(
            f"Expected vector to be an array of shape ({channels},) or (N, "
            f"{channels}). Received: vector={vector!r}"
        ) from None
    if vectors.ndim == 1:
        vectors = vectors[None]
    if vectors.ndim != 2 or vectors.shape[1] != channels or vectors.shape[0] == 0:
        raise ValueError(
            f"Expected vector to have shape ({channels},) or (N, {channels}) (the "
            f"channels of layer '{layer}'). Received: shape {np.shape(vector)}"
        )
    if not np.all(np.isfinite(vectors)) or np.any(np.linalg.norm(vectors, axis=1) == 0):
        raise ValueError(
            "Expected vector to be finite and non-zero. Received: a vector with "
            "NaN, Inf or zero norm"
        )
    return vectors


def _tokens(tokens: Any, shape: tuple, layer: str) -> tuple[str | int, str]:
    """Validate a token choice for a layer of output ``shape``; return it and its name suffix."""
    if isinstance(tokens, str) and tokens == "all":
        return tokens, ""
    expected = "'all', 'patches', 'class' or a token position (int) for a token layer (B, T, D)"
    if len(shape) != 2:
        raise ValueError(
            f"Expected tokens='all' for layer '{layer}', whose output {(None, *shape)} is not a "
            f"token sequence (B, T, D). Received: tokens={tokens!r}"
        )
    count = shape[0]
    if isinstance(tokens, str):
        if tokens not in _TOKEN_CHOICES:
            raise ValueError(f"Expected tokens to be {expected}. Received: tokens={tokens!r}")
        if tokens == "patches" and count is not None and count < 2:
            raise ValueError(
                f"Expected layer '{layer}' to have at least 2 tokens for tokens='patches'. "
                f"Received: {count} token"
            )
        return tokens, f" [{'class token' if tokens == 'class' else 'patch tokens'}]"
    if isinstance(tokens, (bool, np.bool_)) or not isinstance(tokens, numbers.Integral):
        raise TypeError(
            f"Expected tokens to be {expected}. Received: tokens={tokens!r} of type "
            f"{type(tokens).__name__}"
        )
    if tokens < 0 or (count is not None and tokens >= count):
        limit = "a non-negative position" if count is None else f"in [0, {count - 1}]"
        raise ValueError(
            f"Expected tokens to be {limit} (the tokens of layer '{layer}'). "
            f"Received: tokens={int(tokens)}"
        )
    return int(tokens), f" [token {int(tokens)}]"


def _reference_images(image: Any, channels: int) -> np.ndarray:
    try:
        images = np.asarray(image, dtype=np.float32)
    except (TypeError, ValueError):
        raise TypeError(
            f"Expected image to be an array (H, W, {channels}) or (N, H, W, {channels}). "
            f"Received: image of type {type(image).__name__}"
        ) from None
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] != channels or min(images.shape) == 0:
        raise ValueError(
            f"Expected image to have shape (H, W, {channels}) or (N, H, W, {channels}) (the "
            f"model's input channels). Received: shape {np.shape(image)}"
        )
    if not np.all(np.isfinite(images)):
        raise ValueError("Expected image to be finite. Received: an image with NaN or Inf")
    return images


def _number(value: Any, argument: str, minimum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= minimum:
        raise ValueError(
            f"Expected {argument} to be a number >= {minimum}. Received: {argument}={value!r}"
        )
    return float(value)


def _scalar(factor: Any, op: str) -> float:
    if isinstance(factor, Objective):
        raise TypeError(
            f"Expected a number on the other side of '{op}' with an Objective. "
            "Received: another Objective (products of objectives are not supported;"
            " use + and - to combine them)"
        )
    if isinstance(factor, bool) or not isinstance(factor, numbers.Real) or not np.isfinite(factor):
        raise TypeError(
            f"Expected a finite number on the other side of '{op}' with an "
            f"Objective. Received: {factor!r} of type {type(factor).__name__}"
        )
    return float(factor)


def _check_operand(left: Objective, right: Any, op: str, same_batch: bool = True) -> Objective:
    if not isinstance(right, Objective):
        raise TypeError(
            f"Expected an Objective on the other side of '{op}'. Received: "
            f"{right!r} of type {type(right).__name__}"
        )
    if right.model is not left.model:
        raise ValueError(
            f"Expected both sides of '{op}' to read the same model. Received: "
            f"'{left.model.name}' and '{right.model.name}'"
        )
    if not same_batch:
        return right
    sizes = (left.batch_size, right.batch_size)
    if min(sizes) > 1 and sizes[0] != sizes[1]:
        raise ValueError(
            f"Expected objectives with equal batch sizes, or one of size 1 (which "
            f"broadcasts), on both sides of '{op}'. Received: batch sizes "
            f"{sizes[0]} and {sizes[1]}"
        )
    return right


def _batch_size(terms: Sequence[_Term]) -> int:
    sizes = {t.size for t in terms} - {1}
    if len(sizes) > 1:
        raise ValueError(f"Expected terms with equal batch sizes or 1. Received: {sorted(sizes)}")
    return sizes.pop() if sizes else 1
