"""The judges' names, apart from the code that loads them: the ``xmaco evaluate`` command lists
them in its help without importing TensorFlow."""

from __future__ import annotations

__all__ = ["DEFAULT_JUDGES", "JUDGES"]

# Short judge names -> catalogue names (xmaco.zoo.load).
JUDGES = {
    "lite0": "efficientnet_lite0",
    "lite1": "efficientnet_lite1",
    "lite2": "efficientnet_lite2",
    "mobilenet": "mobilenet_v1_025",
}
# Networks other than EfficientNet-Lite0 (the default maker): two deeper and wider versions of
# it, and one of another family.
DEFAULT_JUDGES = ("lite1", "lite2", "mobilenet")
