"""Concepts of a class (CRAFT-style), their importance, and their MACO visualizations.

From images of one class, :func:`discover` takes many random crops, reads the activations of
a layer for each crop (averaged over the positions, or tokens, of the crop), and factorises
the (crops x channels) matrix with non-negative matrix factorisation (:func:`nmf`):
``A ~= U W``. Each row of ``W`` is a *concept*: a direction in the layer's channels that many
crops share; ``U`` says how much each crop expresses each concept. The concepts are ranked
by their importance for the class: total-order Sobol indices for the class logit
(:func:`sobol_importance`, as CRAFT), or their exact share of the logit (see
:func:`discover`). :func:`refine` splits a concept into sub-concepts at an earlier layer,
:func:`attribution_maps` says where each concept lies in a photo, :func:`visualize_concepts`
shows each direction with MACO in one batched run, and :func:`write_page` puts it all on one
self-contained HTML page.
"""

from __future__ import annotations

from ._attribution import attribution_maps, attribution_overlay, plot_attributions
from ._bank import ConceptBank
from ._decomposition import Factorization, nmf, project
from ._discovery import discover, refine
from ._images import load_images
from ._page import write_page
from ._sobol import SobolImportance, sobol_importance, total_order
from ._visualization import visualize_concepts

# In reading order (the API page follows it): the factorisation, then the concepts of a class.
__all__ = [
    "Factorization",
    "nmf",
    "project",
    "ConceptBank",
    "discover",
    "SobolImportance",
    "sobol_importance",
    "total_order",
    "refine",
    "attribution_maps",
    "attribution_overlay",
    "plot_attributions",
    "visualize_concepts",
    "write_page",
    "load_images",
]
