"""Public names of a package imported on first use (PEP 562): importing the package stays cheap,
and the ``xmaco`` command parses its arguments before TensorFlow loads.

Example
-------
>>> import sys, types
>>> package = sys.modules["package"] = types.ModuleType("package")
>>> package.__all__ = ["dumps"]
>>> package.__getattr__, package.__dir__ = attach("package", {"dumps": "json"})
>>> package.dumps({"a": 1}), dir(package)[-1]
('{"a": 1}', 'dumps')
>>> del sys.modules["package"]
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["attach"]


def attach(
    package: str, defined_in: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, whose name ``name`` is defined in the
    module ``defined_in[name]`` (relative to ``package`` when it starts with a dot), imported on
    first access.

    Example
    -------
    >>> __getattr__, __dir__ = attach("xmaco.zoo", {"class_index": ".classes"})
    >>> __getattr__("class_index")("goldfish")
    1
    """

    def __getattr__(name: str) -> Any:
        if name not in defined_in:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(defined_in[name], package), name)

    def __dir__() -> list[str]:
        module = sys.modules[package]
        return sorted(set(vars(module)) | set(getattr(module, "__all__", ())))

    return __getattr__, __dir__
