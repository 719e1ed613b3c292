"""Record on a model the input range and preprocessing that the rest of xmaco reads."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras


def annotate(model: keras.Model, values_range: tuple[float, float], preprocessing: str) -> None:
    """Set ``model.xmaco_values_range`` and ``model.xmaco_preprocessing``.

    ``object.__setattr__`` bypasses Keras's attribute tracking, which would otherwise wrap the
    values in its own containers; the attributes are plain Python and never saved with the model.
    """
    low, high = (float(v) for v in values_range)
    object.__setattr__(model, "xmaco_values_range", (low, high))
    object.__setattr__(model, "xmaco_preprocessing", preprocessing)
