"""Are the visualizations recognisable? By the model that made them, and by other models.

A class visualization is a canvas larger than the model input, painted by many small crops;
its centre is where the crops concentrated. Two checks read it:

- :func:`recognise` is *self-recognition*: the model that made the pictures classifies their
  central part. It is a quick check of a run, but a circular one: a picture can score near
  certainty on its maker and still be an adversarial pattern that no other network sees as the
  class.
- :func:`transfer` asks *judges*, networks that did not make the pictures (by default
  EfficientNet-Lite1, EfficientNet-Lite2 and MobileNet v1 0.25), what they see in the central
  half and in random crops, each at its own resolution and value range. A picture that other
  networks recognise shows the class, not the maker's weak spots.

For a unit (a channel, a neuron, a direction), :func:`hold` reads the objective itself on 32
fresh random crops of each picture: a pattern that fills the picture holds on every crop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attach
from ._names import DEFAULT_JUDGES, JUDGES

if TYPE_CHECKING:
    from ._hold import Hold, hold
    from ._judges import Judgement
    from ._recognition import Recognition, recognise
    from ._transfer import Transfer, transfer

# In reading order (the API page follows it): self-recognition, transfer, hold.
__all__ = [
    "Recognition",
    "recognise",
    "Judgement",
    "Transfer",
    "transfer",
    "DEFAULT_JUDGES",
    "JUDGES",
    "Hold",
    "hold",
]

# Public name -> submodule defining it, imported on first access (these import TensorFlow).
__getattr__, __dir__ = attach(
    __name__,
    {
        "Hold": "._hold",
        "hold": "._hold",
        "Judgement": "._judges",
        "Recognition": "._recognition",
        "recognise": "._recognition",
        "Transfer": "._transfer",
        "transfer": "._transfer",
    },
)
