"""Atomic file writes: a reader never sees a half-written file, even after SIGKILL."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_write", "ensure_writable_dir"]


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path`` and move it into place only on success.

    The temporary file lives in the same directory, so the final ``os.replace`` is atomic on
    POSIX and Windows. On any exception the temporary file is removed and ``path`` is left
    as it was.

    Parameters
    ----------
    path
        Destination file. Its parent directory is created if needed.
    mode
        ``"wb"`` (default) or ``"w"`` for text.

    Example
    -------
    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "hello.txt"
    >>> with atomic_write(target, "w") as f:
    ...     _ = f.write("hi")
    >>> target.read_text()
    'hi'
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"Expected mode to be 'wb' or 'w'. Received: mode={mode!r}")
    path = Path(path)
    directory = ensure_writable_dir(path.parent, argument="path")
    try:
        # The prefix is shortened so that any name the file system accepts can be written.
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:200]}.", suffix=".tmp", dir=directory)
    except OSError as error:
        raise ValueError(_unwritable_file(path, error)) from None
    try:
        # mkstemp creates 0600 files; give the result the permissions of a normal new file
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.replace(tmp, path)
        except OSError as error:
            raise ValueError(_unwritable_file(path, error)) from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def ensure_writable_dir(directory: str | os.PathLike, argument: str = "out") -> Path:
    """Create ``directory`` if needed and check that files can be written in it.

    Raises
    ------
    ValueError
        Naming ``argument`` when the directory cannot be created or written to.

    Example
    -------
    >>> import pathlib, tempfile
    >>> ensure_writable_dir(pathlib.Path(tempfile.mkdtemp()) / "a" / "b").is_dir()
    True
    """
    directory = Path(directory) if str(directory) else Path(".")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(
            f"Expected {argument} to be a writable directory. Received: {argument}="
            f"'{directory}' ({error.strerror or error})"
        ) from None
    if not directory.is_dir():
        raise ValueError(
            f"Expected {argument} to be a writable directory. Received: {argument}="
            f"'{directory}' (not a directory)"
        )
    # Try, rather than ask os.access: permission bits do not tell root, read-only mounts or
    # pseudo file systems such as /proc apart.
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        raise ValueError(
            f"Expected {argument} to be a writable directory. Received: {argument}="
            f"'{directory}' ({error.strerror or error})"
        ) from None
    return directory


def _unwritable_file(path: Path, error: OSError) -> str:
    return (
        f"Expected path to be a writable file path. Received: path='{path}' "
        f"({error.strerror or error})"
    )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
