"""Import TensorFlow without its start-up noise on machines without a GPU.

TensorFlow's native code prints lines such as "Could not find cuda drivers on your machine",
"failed call to cuInit" or "oneDNN custom operations are on" to the process' stderr while it
is imported or first looks for devices, before any log level applies. They are captured at
the file-descriptor level during the import and the first listing of the physical devices
(which configures nothing: memory growth and visible devices can still be set); every other
line is passed on unchanged.
"""

from __future__ import annotations

import os
import sys
import tempfile

_NOISE = (
    "All log messages before absl::InitializeLog() is called",
    "cudart_stub.cc",
    "cuda_platform.cc",
    "cpu_feature_guard.cc",
    "To enable the following instructions",
    "oneDNN custom operations are on",
)


def import_tensorflow() -> None:
    """Import TensorFlow once and list its physical devices, dropping its known GPU-probe and
    CPU-feature notices.

    Example
    -------
    >>> import_tensorflow()
    >>> import sys
    >>> "tensorflow" in sys.modules
    True
    """
    if "tensorflow" in sys.modules:
        return
    try:
        saved = os.dup(2)
    except OSError:  # no stderr descriptor: nothing to filter
        import tensorflow  # noqa: F401

        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow

            tensorflow.config.list_physical_devices()  # the GPU probe prints here
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
