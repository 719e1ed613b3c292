"""MACO visualizations of the concepts of a bank, in one batched run."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..engine import maco
from ..objectives import Objective
from ..result import Result
from ._bank import ConceptBank

__all__ = ["visualize_concepts"]


def visualize_concepts(
    bank: ConceptBank, model: Any, cossim_pow: float = 2.0, **keywords: Any
) -> Result:
    """Visualize every concept direction of a bank with MACO, in one batched run.

    Works the same for a class's concepts (:func:`discover`) and for sub-concepts
    (:func:`refine`, at their earlier layer): one engine, its presets (``preset=...``) and
    keywords.

    The objective is ``Objective.direction(model, bank.layer, bank.vectors, cossim_pow)``:
    visualization ``i`` shows concept ``i`` (ranked by importance).

    Parameters
    ----------
    bank
        From :func:`discover`.
    model
        The model the bank was found on.
    cossim_pow
        Power of the cosine in the direction objective.
    **keywords
        Any keyword of :func:`xmaco.maco` (``steps``, ``crops``, ``image_size``, ``seed``...).

    Returns
    -------
    Result
        Names ``"<class name> concept <label>"`` (``bank.labels``: ``1``, ``2``... or ``2.1``,
        ``2.2``... for the sub-concepts of :func:`refine`); ``config["concepts"]`` records the
        layer, the class, the labels, the importances and how they were measured, and the
        parent concept of sub-concepts.

    Example
    -------
    >>> import keras, numpy as np
    >>> from xmaco.concepts import discover
    >>> images = np.random.default_rng(0).random((4, 32, 32, 3))
    >>> model = keras.Sequential([keras.Input((16, 16, 3)),
    ...     keras.layers.Conv2D(6, 3, activation="relu", name="features"),
    ...     keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
    >>> bank = discover(model, "features", images, class_index=1, rank=2, crops=8)
    >>> visualize_concepts(bank, model, steps=2, crops=2, image_size=32, seed=0).names
    ['class 1 concept 1', 'class 1 concept 2']
    """
    if not isinstance(bank, ConceptBank):
        raise TypeError(
            f"Expected bank to be a ConceptBank (from discover). Received: {type(bank).__name__}"
        )
    objective = Objective.direction(model, bank.layer, bank.vectors, cossim_pow)
    result = maco(objective, **keywords)
    names = [f"{bank.class_name} concept {label}" for label in bank.labels]
    record = {
        "layer": bank.layer,
        "class_index": bank.class_index,
        "class_name": bank.class_name,
        "labels": bank.labels,
        "importance": [round(float(v), 6) for v in bank.importance],
        "importance_method": bank.importance_method,
        "importance_settings": dict(bank.importance_settings),
        "parent": bank.parent,
        "parent_layer": bank.parent_layer,
    }
    return dataclasses.replace(result, names=names, config={**result.config, "concepts": record})
