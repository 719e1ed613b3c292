"""TensorFlow without its start-up noise on machines without a GPU.

TensorFlow's native code prints lines such as "Could not find cuda drivers on your machine",
"failed call to cuInit" or "oneDNN custom operations are on" to the process' stderr while it
is imported or first looks for devices, before any log level applies. They are captured at
the file-descriptor level during the import and, for the command line, during the first
listing of the devices; every other line is passed on unchanged. Importing xmaco does not
look for devices: ``CUDA_VISIBLE_DEVICES`` set afterwards, or a fork, still works.

TensorFlow is imported on first need: before the first module of xmaco that uses it, however
that module is reached (``xmaco.maco``, ``import xmaco.engine``), so that ``import xmaco`` and
the command line's parsing stay cheap.
"""

from __future__ import annotations

import contextlib
import fnmatch
import importlib.abc
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

_NOISE = (
    "All log messages before absl::InitializeLog() is called",
    "cudart_stub.cc",
    "cuda_platform.cc",
    "cpu_feature_guard.cc",
    "To enable the following instructions",
    "oneDNN custom operations are on",
)


@contextlib.contextmanager
def _without_notices() -> Iterator[None]:
    """Capture what native code writes to stderr in the block; pass on all but the notices."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr descriptor: nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [
                line
                for line in captured.read().decode("utf-8", "replace").splitlines(keepends=True)
                if not any(marker in line for marker in _NOISE)
            ]
            if kept:
                sys.stderr.write("".join(kept))


def import_tensorflow() -> None:
    """Import TensorFlow once, dropping its known GPU-probe and CPU-feature notices.

    Example
    -------
    >>> import_tensorflow()
    >>> import sys
    >>> "tensorflow" in sys.modules
    True
    """
    if "tensorflow" in sys.modules:
        return
    with _without_notices():
        import tensorflow  # noqa: F401


def import_tensorflow_first(package: str, without: Iterable[str]) -> None:
    """Import TensorFlow, without its notices, before the first import of a module of
    ``package``, except of those matching one of the ``fnmatch`` patterns ``without``.

    Example
    -------
    >>> import sys
    >>> finders = len(sys.meta_path)
    >>> import_tensorflow_first("xmaco", [])  # done once, when xmaco was imported
    >>> len(sys.meta_path) == finders
    True
    """
    if not any(
        isinstance(finder, _TensorFlowFirst) and finder.package == package
        for finder in sys.meta_path
    ):
        sys.meta_path.insert(0, _TensorFlowFirst(package, tuple(without)))


class _TensorFlowFirst(importlib.abc.MetaPathFinder):
    """Finds no module: imports TensorFlow before the usual finders find one that needs it."""

    def __init__(self, package: str, without: tuple[str, ...]) -> None:
        self.package = package
        self.without = without

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if (
            name.startswith(f"{self.package}.")
            and "tensorflow" not in sys.modules
            and not any(fnmatch.fnmatchcase(name, pattern) for pattern in self.without)
        ):
            import_tensorflow()
        return None


def list_devices() -> None:
    """List the physical devices, dropping the GPU probe's notices (TensorFlow 2.21 prints
    "failed call to cuInit" here on a machine with CUDA libraries and no usable GPU). For the
    command line, which owns its process; it configures nothing.

    Example
    -------
    >>> list_devices()
    """
    with _without_notices():
        import tensorflow as tf

        tf.config.list_physical_devices()
