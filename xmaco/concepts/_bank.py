"""The concepts of one class at one layer, as :func:`xmaco.concepts.discover` finds them."""

from __future__ import annotations

import dataclasses
from typing import Any

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
        (k,) each concept's importance for the class, by which the concepts are ranked. With
        ``importance_method == "sobol"`` (the default of :func:`discover`): its total-order
        Sobol index for the class logit, in [0, 1] (see :func:`sobol_importance`). With
        ``"linear head"`` or ``"sensitivity"``: its share of the class logit, normalised so
        that the absolute values sum to 1 (negative: the concept speaks against the class).
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
        ``"sobol"``, ``"linear head"`` or ``"sensitivity"`` (see :func:`discover`).
    error
        Relative reconstruction error of the factorisation.
    values_range
        (low, high) of the model input.
    importance_error
        (k,) the standard error of ``importance`` (Sobol), or None.
    importance_settings
        How the importance was measured, e.g. ``{"method": "sobol", "estimator": "jansen",
        "designs": 32, "seed": 0, "images": 24, "target": "class logit"}``.
    parent
        For the sub-concepts of :func:`refine`: the label of the concept they split (e.g.
        ``"2"``); None for the concepts of a class.
    parent_layer
        The layer of that concept, or None.
    regions
        For sub-concepts: the indices of the parent bank's crops that were decomposed again
        (``boxes`` and ``owners`` then refer to them), or None.
    settings
        The call that made the bank: ``{"function": "discover", "layer": ..., "rank": ...,
        "crops": ..., "seed": ...}`` (or ``"refine"`` and its arguments); the pages print
        the commands that reproduce it from these.

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
    ((2, 6), (2, 3, 16, 16, 3), 'sobol')
    >>> bank.labels
    ['1', '2']
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
    importance_error: np.ndarray | None = None
    importance_settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    parent: str | None = None
    parent_layer: str | None = None
    regions: np.ndarray | None = None
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def labels(self) -> list[str]:
        """The concepts' labels, from 1 in order of importance; ``"<parent>.<i>"`` for
        sub-concepts (``"2.1"``, ``"2.2"``...)."""
        prefix = f"{self.parent}." if self.parent else ""
        return [f"{prefix}{i + 1}" for i in range(len(self))]

    def describe_importance(self, concept: int) -> str:
        """The importance of one concept as the pages print it.

        Example
        -------
        >>> import numpy as np
        >>> bank = ConceptBank(np.eye(2), np.array([0.62, 0.3]), np.zeros((1, 2)),
        ...     np.zeros((1, 4)), np.zeros(1, int), np.zeros((2, 1), int),
        ...     np.zeros((2, 1, 4, 4, 3)), "features", 0, "class 0", "sobol", 0.0, (0.0, 1.0),
        ...     importance_error=np.array([0.04, 0.02]))
        >>> bank.describe_importance(0)
        'Sobol index 0.62 ± 0.04'
        """
        value = float(self.importance[concept])
        if self.importance_method != "sobol":
            return f"share {value:+.1%} ({self.importance_method})"
        if self.importance_error is None:
            return f"Sobol index {value:.2f}"
        return f"Sobol index {value:.2f} ± {float(self.importance_error[concept]):.2f}"
