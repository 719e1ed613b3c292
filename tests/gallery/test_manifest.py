"""Manifests: settings hashes, atomic records, the newest complete entry wins, the lock."""

from __future__ import annotations

import json
import os

import pytest

from xmaco.gallery.items import Item
from xmaco.gallery.manifest import Manifest, finished, manifest_name, read_all, settings_hash

SETTINGS = {"model": "m", "steps": 8, "crops": 2, "image_size": 32, "seed": 10}


def test_the_hash_covers_the_item_and_its_own_seed():
    one, two = Item("class", "logits", 1, "a"), Item("class", "logits", 2, "b")
    base = settings_hash(one, SETTINGS)
    assert base == settings_hash(Item("class", "logits", 1, "renamed"), SETTINGS)
    assert base != settings_hash(two, SETTINGS)
    assert base != settings_hash(Item("channel", "logits", 1, "a"), SETTINGS)
    assert base != settings_hash(Item("class", "other", 1, "a"), SETTINGS)
    for key, value in (("steps", 9), ("crops", 3), ("image_size", 64), ("model", "n")):
        assert base != settings_hash(one, {**SETTINGS, key: value}), key
    # What matters is the item's seed (base + index), not the base alone.
    assert base != settings_hash(one, {**SETTINGS, "seed": 11})
    assert settings_hash(two, SETTINGS) == settings_hash(
        Item("class", "logits", 2, "b"), dict(reversed(list(SETTINGS.items())))
    )


def test_records_are_saved_at_once_and_read_back(tmp_path):
    manifest = Manifest.open(tmp_path, manifest_name((1, 3)))
    assert manifest.path == tmp_path / "manifests" / "shard-1-of-3.json"
    assert not manifest.path.exists()
    manifest.begin(SETTINGS, ["class-0001"], ["class-0000", "class-0001"], "xmaco gallery ...")
    manifest.record([{"key": "class-0001", "hash": "h", "files": {}}], {"keys": ["class-0001"]})
    (again,) = read_all(tmp_path)
    assert again.name == "shard-1-of-3"
    assert again.selection == ["class-0001"]
    assert again.requested == ["class-0000", "class-0001"]
    assert again.entries["class-0001"]["finished"] == again.runs[0]["finished"]
    assert json.loads(again.path.read_text())["command"] == "xmaco gallery ..."
    assert not [p for p in (tmp_path / "manifests").iterdir() if p.name.endswith(".tmp")]


def test_the_newest_entry_with_all_its_files_wins(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "old.webp").write_bytes(b"x")
    first = Manifest.open(tmp_path, "shard-0-of-2")
    first.record([{"key": "k", "hash": "old", "files": {"image": "images/old.webp"}}], {})
    second = Manifest.open(tmp_path, "all")
    second.record([{"key": "k", "hash": "new", "files": {"image": "images/new.webp"}}], {})
    # The newer entry's file does not exist (its writer was killed): the older one stays.
    assert finished(read_all(tmp_path), tmp_path)["k"]["hash"] == "old"
    (tmp_path / "images" / "new.webp").write_bytes(b"x")
    assert finished(read_all(tmp_path), tmp_path)["k"]["hash"] == "new"


def test_a_second_writer_of_the_same_manifest_is_refused(tmp_path):
    manifest = Manifest.open(tmp_path, "all")
    with manifest.lock():
        with pytest.raises(ValueError, match="locked by another gallery process"):
            with Manifest.open(tmp_path, "all").lock():
                pass
        with Manifest.open(tmp_path, "shard-0-of-2").lock():
            pass
    with Manifest.open(tmp_path, "all").lock():
        pass


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{not json", "readable gallery manifest"),
        ('{"format": "other"}', "format 'xmaco.gallery/1'"),
        ('{"format": "xmaco.gallery/1", "items": [], "runs": [], "selection": []}', "'items'"),
    ],
)
def test_a_damaged_manifest_is_reported_with_its_path(tmp_path, content, match):
    os.makedirs(tmp_path / "manifests")
    (tmp_path / "manifests" / "all.json").write_text(content)
    with pytest.raises(ValueError, match=match) as error:
        read_all(tmp_path)
    assert "all.json" in str(error.value)
