"""Checks of the factories' arguments: indices, vectors, tokens, reference images, numbers."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .._checks import check_batch
from ._terms import probe_scores

_TOKEN_CHOICES = ("all", "patches", "class")


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
            unit, label = _coordinates(item, shape, layer)
        elif isinstance(item, numbers.Integral) and not isinstance(item, (bool, np.bool_)):
            unit, label = _flat_unit(item, shape, layer)
        else:
            raise TypeError(
                f"Expected index to be an int or a tuple of ints. Received: "
                f"index={item!r} of type {type(item).__name__}"
            )
        flat.append(unit)
        labels.append(label)
    return flat, labels


def _coordinates(item: Any, shape: tuple, layer: str) -> tuple[int, str]:
    """The flat index and label of a unit given by its coordinates in the layer's output."""
    if any(
        isinstance(c, (bool, np.bool_)) or not isinstance(c, (numbers.Integral, np.integer))
        for c in item
    ):
        raise TypeError(
            f"Expected index to be a tuple of integer coordinates. Received: index={tuple(item)!r}"
        )
    coords = tuple(int(c) for c in item)
    if len(coords) != len(shape) or any(
        not 0 <= c < d for c, d in zip(coords, shape, strict=False)
    ):
        raise ValueError(
            f"Expected index to be coordinates within the output shape {shape} of "
            f"layer '{layer}'. Received: index={coords}"
        )
    return int(np.ravel_multi_index(coords, shape)), f"{layer}:neuron {coords}"


def _flat_unit(item: Any, shape: tuple, layer: str) -> tuple[int, str]:
    """A unit given by its flat index, and its label (its coordinates when the layer has
    several axes)."""
    total = int(np.prod(shape))
    if not 0 <= int(item) < total:
        raise ValueError(
            f"Expected index to be in [0, {total - 1}] (the units of layer '{layer}', "
            f"shape {shape}). Received: index={int(item)}"
        )
    if len(shape) == 1:
        return int(item), f"{layer}[{int(item)}]"
    coords = tuple(int(c) for c in np.unravel_index(int(item), shape))
    return int(item), f"{layer}:neuron {coords}"


def _vectors(vector: Any, channels: int, layer: str) -> np.ndarray:
    vectors = check_batch(vector, "vector", (), channels, f"the channels of layer '{layer}'")
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


def _custom_function(function: Any, name: Any, shape: tuple, layer: str) -> str:
    """Check a user's scoring function (traced on symbolic activations of the layer's
    shape, so that a wrong return fails here rather than inside the run); return its label."""
    if not callable(function):
        raise TypeError(
            "Expected function to be a callable of the activations (batch, ...) returning one "
            f"score per image (batch,). Received: function={function!r} of type "
            f"{type(function).__name__}"
        )
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ValueError(f"Expected name to be None or a non-empty string. Received: name={name!r}")
    probe_scores(function, shape)
    if name is not None:
        return name
    own = getattr(function, "__name__", None)
    return f"{layer}:{own}" if own and own != "<lambda>" else f"{layer}:custom"
