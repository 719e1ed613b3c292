"""Models to visualize: EfficientNet-Lite0 with embedded weights, a catalogue, ImageNet classes.

Importing this package is cheap: Keras and the model code load on first use of a function.

Example
-------
>>> from xmaco import zoo
>>> zoo.class_index("military uniform")
652
>>> model = zoo.load("efficientnet_lite0", weights=None)
>>> model.get_layer("logits").output.shape
(None, 1000)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xmaco._lazy import attach
from xmaco.zoo.classes import class_index, imagenet_classes

if TYPE_CHECKING:
    from xmaco.zoo.catalogue import available, load
    from xmaco.zoo.dinov2 import dinov2_vits14
    from xmaco.zoo.efficientnet_lite import (
        efficientnet_lite0,
        efficientnet_lite1,
        efficientnet_lite2,
    )
    from xmaco.zoo.mobilenet import mobilenet_v1_025
    from xmaco.zoo.vgg import vgg19

__all__ = [
    "available",
    "class_index",
    "dinov2_vits14",
    "efficientnet_lite0",
    "efficientnet_lite1",
    "efficientnet_lite2",
    "imagenet_classes",
    "load",
    "mobilenet_v1_025",
    "vgg19",
]

# Public name -> submodule defining it, imported on first access (these import Keras).
__getattr__, __dir__ = attach(
    __name__,
    {
        "available": ".catalogue",
        "load": ".catalogue",
        "dinov2_vits14": ".dinov2",
        "efficientnet_lite0": ".efficientnet_lite",
        "efficientnet_lite1": ".efficientnet_lite",
        "efficientnet_lite2": ".efficientnet_lite",
        "mobilenet_v1_025": ".mobilenet",
        "vgg19": ".vgg",
    },
)
