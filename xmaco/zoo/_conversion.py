"""What every conversion of another framework's weights checks: that the state holds exactly the
parameters the model needs, and that each array, once in Keras's layout, fits its variable.

Example
-------
>>> check_parameters({"fc.weight": 0}, ["fc.weight", "fc.bias"], "MLP")
Traceback (most recent call last):
...
ValueError: Expected state to hold the MLP parameters. Missing: 'fc.bias' (1)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np


def check_parameters(
    state: dict[str, Any], needed: Iterable[str], title: str, ignored: str | None = None
) -> None:
    """Raise a ``ValueError`` naming the first few missing and unexpected parameters (and how
    many) unless ``state`` holds exactly ``needed``; names ending in ``ignored`` are let be."""
    needed = list(needed)
    missing = [name for name in needed if name not in state]
    extra = set(state) - set(needed)
    unexpected = sorted(n for n in extra if ignored is None or not n.endswith(ignored))
    details = [
        f"{label}: {', '.join(map(repr, names[:3]))} ({len(names)})"
        for label, names in (("Missing", missing), ("Unexpected", unexpected))
        if names
    ]
    if details:
        raise ValueError(f"Expected state to hold the {title} parameters. " + "; ".join(details))


def fitted(array: np.ndarray, variable: Any, name: str) -> np.ndarray:
    """``array`` (already in Keras's layout) as float32, C-contiguous, if it has the shape of
    ``variable``; else a ``ValueError`` naming ``state[name]``.

    Example
    -------
    >>> import keras
    >>> bias = keras.Variable(np.zeros(2), name="bias")
    >>> fitted(np.ones(2), bias, "fc.bias").dtype
    dtype('float32')
    """
    if array.shape != tuple(variable.shape):
        raise ValueError(
            f"Expected state['{name}'] to fit {variable.path} of shape {tuple(variable.shape)} "
            f"in Keras's layout. Received: shape {array.shape}"
        )
    return np.ascontiguousarray(array, dtype=np.float32)
