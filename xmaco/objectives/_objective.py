"""The :class:`Objective`: factories, algebra and description."""

from __future__ import annotations

import dataclasses
import numbers
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from .._checks import check_images, check_number
from ._arguments import (
    _custom_function,
    _indices,
    _neuron_indices,
    _tokens,
    _vectors,
)
from ._compiled import CompiledObjective
from ._layers import _resolve_layer, _warn_if_softmax
from ._terms import (
    ChannelScore,
    CustomScore,
    DirectionScore,
    InversionScore,
    LayerScore,
    NeuronScore,
    _Term,
)

# The data of a term that reads no per-visualization data (one row, broadcast).
_NO_DATA = np.zeros((1,), np.int32)


class Objective:
    """A (batch of) feature-visualization objective(s) on a Keras model.

    Build objectives with the factories (:meth:`layer`, :meth:`channel`, :meth:`neuron`,
    :meth:`direction`, :meth:`inversion`, or :meth:`custom` for a function of your own) and
    combine them with ``+``, ``-``, unary ``-``, and ``*`` or ``/`` by a number. Objects are
    immutable.

    Example
    -------
    >>> import keras
    >>> inputs = keras.Input((16, 16, 3))
    >>> x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    >>> x = keras.layers.GlobalAveragePooling2D()(x)
    >>> model = keras.Model(inputs, keras.layers.Dense(10, name="logits")(x))
    >>> obj = Objective.neuron(model, "logits", [1, 2]) + 0.5 * Objective.channel(model, "conv", 3)
    >>> obj.visualizations, obj.names
    (2, ['logits[1] + 0.5*conv:channel 3', 'logits[2] + 0.5*conv:channel 3'])
    """

    __slots__ = ("_model", "_terms")

    def __init__(self, model: Any, terms: Sequence[_Term]) -> None:
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_terms", tuple(terms))
        _visualizations(self._terms)  # validates the broadcast

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
        return cls(model, [_Term(name, LayerScore(), _NO_DATA, (f"{name}:layer",))])

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
        >>> Objective.channel(model, "conv", [0, 3]).visualizations
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
        return cls(model, [_Term(name, ChannelScore(), data, labels, tokens=tokens)])

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
        return cls(model, [_Term(name, NeuronScore(), np.asarray(flat, np.int32), tuple(labels))])

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
        >>> Objective.direction(model, "conv", np.eye(4)[:2]).visualizations
        2
        """
        name, shape = _resolve_layer(model, layer)
        vectors = _vectors(vector, shape[-1], name)
        pow_ = check_number(cossim_pow, "cossim_pow", minimum=0.0)
        tokens, suffix = _tokens(tokens, shape, name)
        labels = tuple(
            f"{name}:direction" + (f" {i}" if len(vectors) > 1 else "") + suffix
            for i in range(len(vectors))
        )
        term = _Term(name, DirectionScore(pow_), vectors, labels, tokens=tokens)
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
        references = check_images(image, int(model.inputs[0].shape[-1]))
        pow_ = check_number(cossim_pow, "cossim_pow", minimum=0.0)
        labels = tuple(
            f"{name}:inversion" + (f" {i}" if len(references) > 1 else "")
            for i in range(len(references))
        )
        return cls(model, [_Term(name, InversionScore(pow_), references, labels)])

    @classmethod
    def custom(
        cls,
        model: Any,
        layer: str | int,
        function: Callable[[tf.Tensor], tf.Tensor],
        name: str | None = None,
    ) -> Objective:
        """Maximise a score of your own: ``function`` of the activations of ``layer``.

        ``function(activations)`` receives the output of ``layer`` for a batch of images, a
        float32 tensor of shape ``(batch, *output_shape)`` (``(batch, height, width,
        channels)`` for a conv layer, ``(batch, tokens, dim)`` for a token layer, ``(batch,
        units)`` for a dense one), and must return one score per image: a float tensor of
        shape ``(batch,)``. It is traced into the compiled step and differentiated, so write
        it with TensorFlow ops; the batch holds crops of several visualizations, so score
        each image on its own. The return is checked once, when the objective is built (the
        function is traced on symbolic activations of the layer's shape, with a batch of 2).
        The objective makes one visualization and composes like any other (``+``, ``-``, ``*``,
        :meth:`concatenate`). ``name`` labels it (default: ``"<layer>:<function name>"``).

        Example
        -------
        >>> import keras, tensorflow as tf
        >>> model = keras.Sequential(
        ...     [keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3, name="conv")]
        ... )
        >>> def top_k_mean(activations):  # (batch, 14, 14, 4) -> (batch,)
        ...     channel = tf.reshape(activations[..., 2], [tf.shape(activations)[0], -1])
        ...     return tf.reduce_mean(tf.math.top_k(channel, k=5).values, axis=1)
        >>> objective = Objective.custom(model, "conv", top_k_mean)
        >>> (objective - 0.1 * Objective.layer(model, "conv")).names
        ['conv:top_k_mean - 0.1*conv:layer']
        """
        resolved, shape = _resolve_layer(model, layer)
        label = _custom_function(function, name, shape, resolved)
        return cls(model, [_Term(resolved, CustomScore(function), _NO_DATA, (label,))])

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
        total = sum(part.visualizations for part in parts)
        terms, offset = [], 0
        for part in parts:
            inside = range(offset, offset + part.visualizations)
            for term in part.terms:
                source = [
                    (j - offset if term.size > 1 else 0) if j in inside else 0 for j in range(total)
                ]
                labels = tuple(
                    term.labels[source[j]] if j in inside else None for j in range(total)
                )
                terms.append(dataclasses.replace(term, data=term.data[source], labels=labels))
            offset += part.visualizations
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
    def visualizations(self) -> int:
        """The number of visualizations the objective describes (one run makes them all)."""
        return _visualizations(self._terms)

    @property
    def batch_size(self) -> int:
        """Former name of :attr:`visualizations` (``batch_size`` is the keyword for the images
        per model call everywhere else); deprecated."""
        warnings.warn(
            "Objective.batch_size is deprecated: use Objective.visualizations.",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.visualizations

    @property
    def layers(self) -> list[str]:
        """The distinct layers read, in order of first use."""
        return list(dict.fromkeys(t.layer for t in self._terms))

    @property
    def names(self) -> list[str]:
        """One readable name per visualization, e.g. ``'logits[2] + 0.5*conv5:channel 12'``."""
        names = []
        for i in range(self.visualizations):
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
        return f"Objective(visualizations={self.visualizations}, names={self.names!r})"

    def compile(self) -> CompiledObjective:
        """Build the shared feature model; see :class:`CompiledObjective`."""
        return CompiledObjective(self)


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
    sizes = (left.visualizations, right.visualizations)
    if min(sizes) > 1 and sizes[0] != sizes[1]:
        raise ValueError(
            f"Expected objectives with equal batch sizes, or one of size 1 (which "
            f"broadcasts), on both sides of '{op}'. Received: batch sizes "
            f"{sizes[0]} and {sizes[1]}"
        )
    return right


def _visualizations(terms: Sequence[_Term]) -> int:
    sizes = {t.size for t in terms} - {1}
    if len(sizes) > 1:
        raise ValueError(f"Expected terms with equal batch sizes or 1. Received: {sorted(sizes)}")
    return sizes.pop() if sizes else 1
