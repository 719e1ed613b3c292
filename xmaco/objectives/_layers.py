"""The layers an objective reads: the model check, names, stage aliases, softmax warnings."""

from __future__ import annotations

import difflib
import numbers
import re
import warnings
from collections.abc import Sequence
from typing import Any

# A stage-named layer: "conv5_4" (VGG), "conv5_block3_out" (ResNet); group 1 is the stage.
_STAGE_PREFIX = re.compile(r"([A-Za-z]+[0-9]+)_")


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


def layer_name(model: Any, layer: str | int) -> str:
    """The name of the layer of ``model`` that ``layer`` designates, checked as every
    :class:`Objective` factory checks it.

    ``layer`` is a name, an index into ``model.layers`` or a stage alias (``"conv5"``: the
    last layer named ``conv5_...``); an unknown name fails with the close matches.

    Example
    -------
    >>> import keras
    >>> model = keras.Sequential([keras.Input((8, 8, 3)),
    ...                           keras.layers.Conv2D(2, 3, name="conv1_1"),
    ...                           keras.layers.Conv2D(2, 3, name="conv1_2")])
    >>> layer_name(model, "conv1"), layer_name(model, 0)
    ('conv1_2', 'conv1_1')
    """
    return _resolve_layer(model, layer)[0]


def _resolve_layer(model: Any, layer: str | int) -> tuple[str, tuple]:
    """The name of the layer ``layer`` designates, and its output shape without the batch."""
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
