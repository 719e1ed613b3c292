"""Manifests: which items of a gallery are finished, with which settings, by which runs.

Every writer of a gallery (the unsharded run, or shard ``i`` of ``n``) owns one JSON file in
``<site>/manifests/``, rewritten atomically after every batch. An entry records one finished
item: its settings hash, its files, its objective curve and the settings to reproduce it.
``runs`` lists every MACO run with the items it computed, so a manifest proves that no item was
computed twice. The site is built from all manifests together: for each item, the newest entry
whose files exist.

Example
-------
>>> import tempfile
>>> from xmaco.gallery.items import Item
>>> site = tempfile.mkdtemp()
>>> manifest = Manifest.open(site, manifest_name(None))
>>> item = Item("class", "logits", 3, "class 3")
>>> entry = {"key": item.key, "hash": settings_hash(item, {"seed": 0}), "files": {}}
>>> manifest.record([entry], {"keys": [item.key], "seconds": 1.5})
>>> [m.name for m in read_all(site)], sorted(finished(read_all(site), site))
(['all'], ['class-0003'])
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from xmaco.files import ensure_writable_dir
from xmaco.gallery._io import write_readable
from xmaco.gallery.items import Item

__all__ = [
    "DIRECTORY",
    "FORMAT",
    "Manifest",
    "finished",
    "manifest_name",
    "read_all",
    "settings_hash",
]

FORMAT = "xmaco.gallery/1"
DIRECTORY = "manifests"


def manifest_name(shard: tuple[int, int] | None) -> str:
    """``"all"`` for an unsharded run, ``"shard-<i>-of-<n>"`` for shard ``i`` of ``n``.

    Example
    -------
    >>> manifest_name((2, 8))
    'shard-2-of-8'
    """
    return "all" if shard is None else f"shard-{shard[0]}-of-{shard[1]}"


def settings_hash(item: Item, settings: dict[str, Any]) -> str:
    """The hash of everything that determines ``item``'s visualization.

    ``settings`` are the gallery's settings with the *base* seed under ``"seed"``; the hash
    covers the item's own seed (base + index) instead, its kind, layer and index, and every
    other setting, so changing a setting invalidates exactly the items it affects.

    Example
    -------
    >>> one = Item("class", "logits", 1, "goldfish")
    >>> settings_hash(one, {"seed": 0, "steps": 8}) == settings_hash(one, {"seed": 0, "steps": 9})
    False
    """
    payload = {
        **{key: value for key, value in settings.items() if key != "seed"},
        "format": FORMAT,
        "kind": item.kind,
        "layer": item.layer,
        "index": item.index,
        "seed": int(settings["seed"]) + item.index,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Manifest:
    """The record of one writer: a JSON file saved atomically after every change.

    Attributes
    ----------
    path
        ``<site>/manifests/<name>.json``.
    name
        ``"all"`` or ``"shard-<i>-of-<n>"``.
    data
        The JSON content: ``format``, ``name``, ``settings``, ``selection`` and ``requested``
        (the item keys of the latest invocation: its share, and the whole command's),
        ``command``, ``items`` (key -> entry) and ``runs``.

    Example
    -------
    >>> import tempfile
    >>> manifest = Manifest.open(tempfile.mkdtemp(), "shard-0-of-2")
    >>> manifest.record([{"key": "class-0000", "hash": "...", "files": {}}],
    ...                 {"keys": ["class-0000"], "seconds": 2.0})
    >>> manifest.path.name, list(manifest.entries), len(manifest.runs)
    ('shard-0-of-2.json', ['class-0000'], 1)
    """

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.name = path.stem
        self.data = data

    @classmethod
    def open(cls, site: str | os.PathLike, name: str) -> Manifest:
        """Read ``<site>/manifests/<name>.json``, or start an empty manifest there."""
        directory = ensure_writable_dir(Path(site) / DIRECTORY, argument="out")
        path = directory / f"{name}.json"
        if path.is_file():
            return cls(path, _read(path))
        empty = {"format": FORMAT, "name": name, "selection": [], "items": {}, "runs": []}
        return cls(path, empty)

    @property
    def entries(self) -> dict[str, dict[str, Any]]:
        """Finished items by key."""
        return self.data["items"]

    @property
    def runs(self) -> list[dict[str, Any]]:
        """Every MACO run recorded, oldest first, each with the ``keys`` it computed."""
        return self.data["runs"]

    @property
    def selection(self) -> list[str]:
        """The item keys the latest invocation was asked for."""
        return self.data["selection"]

    @property
    def requested(self) -> list[str]:
        """The item keys the latest invocation's command selects, all shards together."""
        return self.data.get("requested", self.selection)

    def begin(
        self,
        settings: dict[str, Any],
        selection: Sequence[str],
        requested: Sequence[str],
        command: str,
    ) -> None:
        """Record what this invocation is about to do, saving only when that changed.

        ``selection`` is this writer's share of the items, ``requested`` the items of the
        whole command (all shards): the site counts the unfinished ones as pending, and
        :func:`xmaco.gallery.assemble` reports them as missing.
        """
        update = {
            "settings": settings,
            "selection": list(selection),
            "requested": list(requested),
            "command": command,
        }
        if any(self.data.get(key) != value for key, value in update.items()):
            self.data.update(update)
            self.save()

    def record(self, entries: Sequence[dict[str, Any]], run: dict[str, Any]) -> None:
        """Add the entries of one finished run (replacing older entries of the same keys).

        Entries and the run are stamped with the time (``"finished"``, seconds since the
        epoch): across manifests, the newest entry of a key is the one shown.
        """
        now = time.time()
        for entry in entries:
            self.entries[entry["key"]] = {**entry, "finished": now}
        self.runs.append({**run, "finished": now})
        self.save()

    def save(self) -> None:
        """Write the manifest atomically."""
        text = json.dumps(self.data, sort_keys=True, separators=(",", ":"))
        write_readable(self.path, text.encode("utf-8"))

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold an exclusive lock on this manifest while a process writes it.

        A second process started on the same manifest (the same shard twice) fails at once
        instead of losing the first one's records. The lock goes with the process, even
        after SIGKILL.

        Raises
        ------
        ValueError
            When another process holds the lock.
        """
        import fcntl

        with open(self.path.with_suffix(".lock"), "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ValueError(
                    f"Expected no other process to be writing manifest '{self.path}'. "
                    f"Received: it is locked by another gallery process (the same --shard "
                    "running twice?)"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def read_all(site: str | os.PathLike) -> list[Manifest]:
    """Every manifest of the gallery in ``site``, sorted by name (none if there are none).

    Example
    -------
    >>> import tempfile
    >>> site = tempfile.mkdtemp()
    >>> Manifest.open(site, "shard-1-of-2").save()
    >>> Manifest.open(site, "shard-0-of-2").save()
    >>> [manifest.name for manifest in read_all(site)]
    ['shard-0-of-2', 'shard-1-of-2']
    """
    directory = Path(site) / DIRECTORY
    if not directory.is_dir():
        return []
    paths = sorted(p for p in directory.glob("*.json") if not p.name.startswith("."))
    return [Manifest(path, _read(path)) for path in paths]


def finished(manifests: Sequence[Manifest], site: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """For each item key, the newest entry among ``manifests`` whose files all exist.

    Example
    -------
    >>> import tempfile
    >>> site = tempfile.mkdtemp()
    >>> entry = {"key": "class-0002", "hash": "...", "files": {"image": "images/x.webp"}}
    >>> Manifest.open(site, "all").record([entry], {"keys": ["class-0002"]})
    >>> finished(read_all(site), site)  # images/x.webp does not exist
    {}
    """
    site = Path(site)
    chosen: dict[str, dict[str, Any]] = {}
    for manifest in manifests:
        for key, entry in manifest.entries.items():
            if not all((site / name).is_file() for name in entry.get("files", {}).values()):
                continue
            if key not in chosen or entry.get("finished", 0) > chosen[key].get("finished", 0):
                chosen[key] = entry
    return chosen


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, json.JSONDecodeError) as error:
        raise ValueError(
            f"Expected '{path}' to be a readable gallery manifest. Received: {error}"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(
            f"Expected '{path}' to be a gallery manifest (format {FORMAT!r}). Received: format="
            f"{data.get('format') if isinstance(data, dict) else type(data).__name__!r}"
        )
    for field, kind in (("items", dict), ("runs", list), ("selection", list)):
        if not isinstance(data.get(field), kind):
            raise ValueError(
                f"Expected '{path}' to hold {field!r} as a {kind.__name__}. Received: "
                f"{type(data.get(field)).__name__}"
            )
    return data
