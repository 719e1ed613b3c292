"""ImageNet class names: the shipped table, lookups, errors, and a cheap package import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from xmaco.zoo import class_index, classes, imagenet_classes

KNOWN = {
    0: "tench",
    1: "goldfish",
    2: "great white shark",
    130: "flamingo",
    134: "crane",
    207: "golden retriever",
    281: "tabby",
    517: "crane",
    652: "military uniform",
    999: "toilet tissue",
}


def test_the_table_has_the_standard_1000_classes():
    names = imagenet_classes()
    assert len(names) == 1000
    assert {i: names[i] for i in KNOWN} == KNOWN
    assert all(name and "_" not in name and name == name.strip() for name in names)
    wnids = classes.imagenet_wnids()
    # ILSVRC orders its classes by WordNet id: a transcription slip would break the order.
    assert wnids == sorted(set(wnids)) and len(wnids) == 1000
    assert all(len(w) == 9 and w[0] == "n" and w[1:].isdigit() for w in wnids)
    assert wnids[652] == "n03763968"


def test_the_json_file_ships_in_the_package():
    path = Path(classes.__file__).with_name("imagenet_classes.json")
    rows = json.loads(path.read_text(encoding="utf-8"))["classes"]
    assert [row[1] for row in rows] == imagenet_classes()


def test_the_list_is_a_copy_and_read_once(monkeypatch):
    names = imagenet_classes()
    names[0] = "changed"
    assert imagenet_classes()[0] == "tench"
    monkeypatch.setattr(classes, "_DATA", Path("/nonexistent/imagenet_classes.json"))
    assert imagenet_classes()[2] == "great white shark"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (652, 652),
        (np.int64(281), 281),
        ("652", 652),
        (" 0 ", 0),
        ("military uniform", 652),
        ("Military_Uniform", 652),
        ("GREAT  WHITE shark", 2),
        ("black-and-tan coonhound", 165),
        ("carpenter's kit", 477),
    ],
)
def test_class_index_accepts_indices_and_names(query, expected):
    assert class_index(query) == expected


def test_unknown_name_lists_close_matches():
    with pytest.raises(ValueError) as caught:
        class_index("great white shak")
    assert str(caught.value) == (
        "Expected class to be an ImageNet class index (0-999) or name. "
        "Received: class='great white shak'. Close matches: 'great white shark'"
    )
    with pytest.raises(ValueError, match="Close matches: none"):
        class_index("quantum chromodynamics")


@pytest.mark.parametrize("query", [1000, -1, "1000", "-1"])
def test_out_of_range_indices(query):
    with pytest.raises(ValueError, match="Received: class="):
        class_index(query)


@pytest.mark.parametrize("query", [True, 2.0, None, [1]])
def test_other_types(query):
    with pytest.raises(TypeError, match="Received: class="):
        class_index(query)


@pytest.mark.parametrize(
    ("name", "indices"), [("crane", "134 and 517"), ("maillot", "638 and 639")]
)
def test_names_shared_by_two_classes_ask_for_the_index(name, indices):
    with pytest.raises(ValueError, match=indices):
        class_index(name)


def test_importing_the_zoo_builds_nothing_and_reads_nothing(tmp_path):
    script = textwrap.dedent(
        """
        import sys
        import xmaco.zoo
        from xmaco.zoo import classes

        loaded = [m for m in ("xmaco.zoo.efficientnet_lite", "xmaco.zoo.catalogue")
                  if m in sys.modules]
        assert not loaded, loaded
        assert classes._table.cache_info().currsize == 0
        assert set(xmaco.zoo.__all__) <= set(dir(xmaco.zoo))
        print("ok")
        """
    )
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.run(
        [sys.executable, "-c", script],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.stdout.strip() == "ok", child.stderr[-2000:]
