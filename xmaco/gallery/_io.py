"""Atomic writes of files a web server can read, and of encoded images."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from xmaco.files import atomic_write


def write_readable(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, with the permissions a plain ``open`` gives.

    ``atomic_write`` writes through ``tempfile.mkstemp``, whose files are private (0600); a
    site served by a web server running as another user needs them readable, so the
    temporary file gets ``0666 & ~umask`` before it is renamed into place.
    """
    umask = os.umask(0o022)
    os.umask(umask)
    with atomic_write(path) as handle:
        handle.write(data)
        os.fchmod(handle.fileno(), 0o666 & ~umask)


def write_encoded(path: Path, rgb: np.ndarray, suffix: str, parameters: list[int]) -> None:
    """Encode an RGB(A) uint8 array with OpenCV (``suffix``: ``.webp``, ``.jpg``) and write it."""
    import cv2

    order = [2, 1, 0, 3][: rgb.shape[-1]]  # OpenCV wants BGR(A)
    ok, encoded = cv2.imencode(suffix, np.ascontiguousarray(rgb[..., order]), parameters)
    if not ok:
        raise RuntimeError(f"OpenCV could not encode {path.name} ({suffix}, {rgb.shape})")
    write_readable(path, encoded.tobytes())
