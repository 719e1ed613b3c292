"""xmaco: feature visualization with MACO (magnitude-constrained optimisation) for Keras.

Example
-------
>>> import keras, xmaco
>>> model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3, name="conv")])
>>> result = xmaco.maco(xmaco.Objective.channel(model, "conv", 0), steps=2, crops=2,
...                     image_size=32, seed=0)
>>> result.names
['conv:channel 0']
"""

from __future__ import annotations

from ._startup import import_tensorflow

import_tensorflow()

from . import (  # noqa: E402
    callbacks,
    color,
    parameterizations,
    presets,
    schedules,
    spectrum,
    transforms,
)
from .engine import fourier, maco, pixel, visualize  # noqa: E402
from .errors import NonFiniteError, OutOfMemoryError  # noqa: E402
from .inversion import invert  # noqa: E402
from .objectives import Objective  # noqa: E402
from .result import Result  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Objective",
    "Result",
    "maco",
    "fourier",
    "pixel",
    "visualize",
    "invert",
    "NonFiniteError",
    "OutOfMemoryError",
    "callbacks",
    "color",
    "parameterizations",
    "presets",
    "schedules",
    "spectrum",
    "transforms",
    "concepts",
    "evaluate",
    "export",
    "gallery",
    "inversion",
    "plot",
    "zoo",
    "__version__",
]


def __getattr__(name: str):
    # These load on first use (matplotlib, model building, file formats), keeping import light.
    if name in ("concepts", "evaluate", "export", "gallery", "plot", "zoo"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'xmaco' has no attribute {name!r}")
