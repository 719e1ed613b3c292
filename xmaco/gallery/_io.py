"""Atomic writes of files a web server can read."""

from __future__ import annotations

import os
from pathlib import Path

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
