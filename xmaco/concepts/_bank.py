"""The concepts of one class at one layer, as :func:`xmaco.concepts.discover` finds them."""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["ConceptBank"]


@dataclasses.dataclass(frozen=True, eq=False)
class ConceptBank:
    """The concepts of one class at one layer, ranked by importance.

    Attributes
    ----------
    vectors
        (k, C) non-negative unit concept directions in the channels of ``layer``, by
        decreasing importance.
    importance
        (k,) each concept's share of the class logit, normalised so that the absolute values
        sum to 1 (negative: the concept speaks against the class). See :func:`discover`.
    coefficients
        (n, k) how much each crop expresses each concept (``activations ~= coefficients @
        vectors``).
    boxes
        (n, 4) the crops, normalised ``(y1, x1, y2, x2)`` in their image.
    owners
        (n,) the index of the image each crop comes from.
    top
        (k, m) indices of the crops that express each concept most, best first.
    top_crops
        (k, m, H, W, C) those crops, at the model's input size, in ``values_range``.
    layer
        The layer factorised.
    class_index
        The class.
    class_name
        Its name (ImageNet name for a 1000-class model), or ``"class <index>"``.
    importance_method
        ``"linear head"`` or ``"sensitivity"`` (see :func:`discover`).
    error
        Relative reconstruction error of the factorisation.
    values_range
        (low, high) of the model input.

    Example
    -------
    >>> import keras, numpy as np
    >>> from xmaco.concepts import discover
    >>> model = keras.Sequential([keras.Input((16, 16, 3)),
    ...     keras.layers.Conv2D(6, 3, activation="relu", name="features"),
    ...     keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
    >>> images = np.random.default_rng(0).random((4, 32, 32, 3))
    >>> bank = discover(model, "features", images, class_index=1, rank=2, crops=8, top=3)
    >>> bank.vectors.shape, bank.top_crops.shape, bank.importance_method
    ((2, 6), (2, 3, 16, 16, 3), 'linear head')
    """

    vectors: np.ndarray
    importance: np.ndarray
    coefficients: np.ndarray
    boxes: np.ndarray
    owners: np.ndarray
    top: np.ndarray
    top_crops: np.ndarray
    layer: str
    class_index: int
    class_name: str
    importance_method: str
    error: float
    values_range: tuple[float, float]

    def __len__(self) -> int:
        return int(self.vectors.shape[0])
