"""xmaco: feature visualization with MACO (magnitude-constrained optimisation) for Keras.

Importing xmaco is cheap: TensorFlow and the engine load on the first use of a name below, so
that the ``xmaco`` command answers ``--help`` and argument errors without them.

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

import importlib
from importlib.machinery import PathFinder
from typing import TYPE_CHECKING, Any

from ._startup import import_tensorflow_first

# The modules the command line reads to parse its arguments, which import neither TensorFlow
# nor Keras. Any other module of xmaco is imported after TensorFlow, which then loads without
# its start-up notices.
import_tensorflow_first(
    __name__,
    [
        "xmaco._checks",
        "xmaco._html",
        "xmaco._lazy",
        "xmaco.cli",
        "xmaco.cli.*",
        "xmaco.errors",
        "xmaco.evaluate",
        "xmaco.evaluate._names",
        "xmaco.files",
        "xmaco.gallery",
        "xmaco.gallery.items",
        "xmaco.presets",
        "xmaco.schedules",
        "xmaco.zoo",
        "xmaco.zoo.classes",
    ],
)

if TYPE_CHECKING:
    from . import (
        callbacks,
        color,
        concepts,
        devices,
        evaluate,
        export,
        gallery,
        inversion,
        parameterizations,
        plot,
        presets,
        schedules,
        settings,
        spectrum,
        transforms,
        zoo,
    )
    from .engine import fourier, maco, pixel, visualize
    from .errors import NonFiniteError, OutOfMemoryError
    from .inversion import invert
    from .objectives import Objective
    from .result import Result
    from .settings import RunSettings

__version__ = "0.1.0"

__all__ = [
    "Objective",
    "Result",
    "maco",
    "fourier",
    "pixel",
    "visualize",
    "invert",
    "RunSettings",
    "NonFiniteError",
    "OutOfMemoryError",
    "callbacks",
    "color",
    "parameterizations",
    "presets",
    "schedules",
    "settings",
    "devices",
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

# Public name -> the submodule defining it.
_DEFINED_IN = {
    "Objective": "objectives",
    "Result": "result",
    "maco": "engine",
    "fourier": "engine",
    "pixel": "engine",
    "visualize": "engine",
    "invert": "inversion",
    "RunSettings": "settings",
    "NonFiniteError": "errors",
    "OutOfMemoryError": "errors",
}


def __getattr__(name: str) -> Any:
    module = _DEFINED_IN.get(name, name)
    # A submodule by that name, looked for in the folder only (no import, no TensorFlow).
    if name not in _DEFINED_IN and (
        name.startswith("_") or PathFinder.find_spec(f"{__name__}.{name}", __path__) is None
    ):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = importlib.import_module(f"{__name__}.{module}")
    if name in _DEFINED_IN:
        value = getattr(value, name)
        globals()[name] = value  # later uses skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
