"""Objectives: what a visualization maximises, as immutable objects with an algebra.

An :class:`Objective` is a weighted sum of *terms*. A term reads one layer of a Keras model and
scores every input image (a layer's energy, a channel, a neuron, a direction, the likeness to
a reference photo, or a function of your own, :meth:`Objective.custom`); each term carries the
scoring function of its kind. A factory given a list builds a *batch*: N visualizations optimised
together, term ``i`` scoring visualization ``i``. Objectives of one visualization broadcast over any
batch; :meth:`Objective.concatenate` puts different objectives side by side in one batch.

Operators return new objects and every term keeps exactly its own weight::

    1 * a + 3 * b - 5 * c   # weights 1, 3 and -5, whatever the order of evaluation

All the layers read by an objective share one forward pass: :meth:`Objective.compile` builds a
single multi-output feature model.

The package: ``_objective`` (the factories and the algebra), ``_terms`` (terms and the score
of each kind), ``_compiled`` (the feature model and the reference pass of inversions),
``_layers`` (layer lookup, stage aliases, softmax warnings), ``_arguments`` (argument checks).
"""

from ._compiled import CompiledObjective
from ._layers import _applies_softmax as _applies_softmax
from ._layers import _resolve_layer as _resolve_layer
from ._layers import layer_name
from ._objective import Objective

__all__ = ["Objective", "CompiledObjective", "layer_name"]
