"""``xmaco gallery --concepts-from DIR``: the concepts of classes with photos on their pages,
ranked, resumed, checked before any work, and whole after a SIGKILL."""

from __future__ import annotations

import html
import json
import shutil
import signal
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest

from xmaco import concepts as concept_package
from xmaco.gallery.photos import photo_folders

WITH_PHOTOS = ["class-0001", "class-0004"]


def _record(site, key):
    return json.loads((site / "concepts" / key / "concepts.json").read_text())


def _named(concepts):
    for concept in concepts:
        yield concept["image"]
        yield from concept["crops"]
        if concept.get("attribution"):
            yield concept["attribution"]
        yield from _named(concept.get("children", []))


def test_classes_with_photos_get_their_concepts_ranked(concept_site, check_site):
    assert sorted(p.name for p in (concept_site / "concepts").iterdir()) == WITH_PHOTOS
    for key in WITH_PHOTOS:
        record = _record(concept_site, key)
        listed = record["concepts"]
        assert len(listed) == 4
        importances = [concept["importance"] for concept in listed]
        assert importances == sorted(importances, reverse=True)
        assert record["about"]["importance_method"] == "sobol"
        assert record["about"]["importance_settings"]["designs"] == 8
        assert record["about"]["photos"] == 3
        assert all(len(concept["crops"]) == 8 for concept in listed)
        assert all(concept["attribution"].endswith("-attribution.jpg") for concept in listed)
        assert all(concept["importance_text"].startswith("Sobol index") for concept in listed)
        # the most important concept, split at conv1 into 2 sub-concepts, ranked too
        children = listed[0]["children"]
        assert [c["label"].split()[-1] for c in children] == ["1.1", "1.2"]
        assert children[0]["importance"] >= children[1]["importance"]
        assert all("children" not in concept for concept in listed[1:])
        folder = concept_site / "concepts" / key
        named = set(_named(listed))
        assert {p.name for p in folder.iterdir()} == named | {"concepts.json"}
        for name in named:
            assert cv2.imread(str(folder / name)) is not None, name
        page = (concept_site / "items" / f"{key}.html").read_text()
        # top to bottom: the class picture, the concepts by importance, then how to redo them
        order = [page.index('id="picture"'), page.index("<h2>Concepts</h2>")]
        order += [page.index(concept["image"]) for concept in listed]
        order += [page.index("<h2>Reproduce</h2>"), page.index("--concepts-from")]
        assert order == sorted(order)
        assert page.count('<details class="sub-concepts">') == 1
        assert "concepts.discover(model, 'conv2', photos, " in html.unescape(page)
    assert "<h2>Concepts</h2>" not in (concept_site / "items" / "class-0002.html").read_text()
    assert sorted(check_site(concept_site)) == [f"class-{i:04d}" for i in range(6)]


def test_rerunning_redoes_no_concepts(
    concept_site, concepts_argv, gallery, tmp_path, monkeypatch, capsys
):
    site = shutil.copytree(concept_site, tmp_path / "site")
    before = {p: p.stat().st_mtime_ns for p in (site / "concepts").rglob("*")}

    def not_again(*args, **kwargs):
        raise AssertionError("discover called for finished concepts")

    monkeypatch.setattr(concept_package, "discover", not_again)
    assert gallery(*concepts_argv, "--out", str(site)) == 0
    assert {p: p.stat().st_mtime_ns for p in (site / "concepts").rglob("*")} == before
    assert "Concepts of" not in capsys.readouterr().out


def test_changed_concept_settings_redo_only_the_concepts(
    concept_site, concepts_argv, gallery, tmp_path, recorded_runs
):
    site = shutil.copytree(concept_site, tmp_path / "site")
    runs = recorded_runs(site)
    old = {key: set(_named(_record(site, key)["concepts"])) for key in WITH_PHOTOS}
    argv = [*concepts_argv, "--concept-top", "6"]
    assert gallery(*argv, "--out", str(site), "--quiet") == 0
    assert recorded_runs(site) == runs  # no class picture computed again
    for key in WITH_PHOTOS:
        listed = _record(site, key)["concepts"]
        assert all(len(concept["crops"]) == 6 for concept in listed)
        names = {p.name for p in (site / "concepts" / key).iterdir()}
        assert not names & old[key]  # the former files are gone


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        (None, r"Expected --concepts-from to be a folder .* \(no such folder\)"),
        ({}, "holds no folder"),
        ({"goldfish": 1}, r"class indices in \[0, 5\] \(the model's classes have no names\)"),
        ({"7": 1}, r"class indices in \[0, 5\]. Received: '.*7'"),
        ({"2": 0}, "Expected photos .* Received: '.*2' holds none"),
        ({"2": 1, "02": 1}, "both name class 2"),
    ],
)
def test_photo_folders_are_checked_before_any_work(
    tmp_path, model_path, gallery, layout, message, recorded_runs
):
    root = tmp_path / "photos"
    for name, count in (layout or {}).items():
        (root / name).mkdir(parents=True)
        (root / name / "notes.txt").write_text("not a photo")
        for number in range(count):
            cv2.imwrite(str(root / name / f"{number}.png"), _noise(number))
    if layout == {}:
        root.mkdir()
    site = tmp_path / "site"
    argv = ["--model", model_path, "--classes", "all", "--steps", "2", "--crops", "2"]
    argv += ["--image-size", "32", "--concepts-from", str(root), "--concept-layer", "conv2"]
    with pytest.raises(ValueError, match=message):
        gallery(*argv, "--out", str(site))
    assert not (site / "manifests").exists() or recorded_runs(site) == []


def test_imagenet_names_and_close_matches(tmp_path):
    for name in ("goldfish", "great_white_shark", "130", "goldfsh"):
        (tmp_path / name).mkdir()
        cv2.imwrite(str(tmp_path / name / "a.jpg"), _noise(0))
    with pytest.raises(ValueError, match="'.*goldfsh' .*Close matches: 'goldfish'"):
        photo_folders(tmp_path, classes=1000)
    shutil.rmtree(tmp_path / "goldfsh")
    assert list(photo_folders(tmp_path, classes=1000)) == [1, 2, 130]


def test_other_mistakes(tmp_path, model_path, photos, gallery):
    common = ["--model", model_path, "--steps", "2", "--crops", "2", "--image-size", "32"]
    common += ["--concepts-from", str(photos), "--out", str(tmp_path / "site")]
    with pytest.raises(ValueError, match="Expected --classes with --concepts-from"):
        gallery(*common, "--layer", "conv2", "--channels", "0-1", "--concept-layer", "conv2")
    with pytest.raises(ValueError, match="conv3"):  # an unknown layer, with the close matches
        gallery(*common, "--classes", "all", "--concept-layer", "conv3")
    with pytest.raises(ValueError, match="Expected --concept-rank to be at most 16"):
        gallery(*common, "--classes", "all", "--concept-layer", "conv2", "--concept-rank", "17")
    with pytest.raises(ValueError, match="designs to be a power of two"):
        gallery(*common, "--classes", "all", "--concept-layer", "conv2", "--concept-designs", "6")
    with pytest.raises(ValueError, match="--assemble with --out only"):
        gallery("--assemble", "--concepts-from", str(photos), "--out", str(tmp_path))


def _noise(seed):
    return np.random.default_rng(seed).integers(0, 256, (40, 48, 3), dtype=np.uint8)


# ``python -m xmaco.gallery ARGV`` that stops at the first concept file of class 4 it writes,
# says so on stdout and waits there for the SIGKILL: the kill lands at a known moment.
PAUSED_AT_CONCEPTS = textwrap.dedent(
    """
    import runpy, sys

    from xmaco.gallery import _concept_files

    write_encoded = _concept_files.write_encoded

    def write_then_wait(path, *args, **kwargs):
        write_encoded(path, *args, **kwargs)
        if "class-0004" in str(path):
            print("paused", flush=True)
            sys.stdin.readline()  # never answered

    _concept_files.write_encoded = write_then_wait
    sys.argv = ["xmaco.gallery", *sys.argv[1:]]
    runpy.run_module("xmaco.gallery", run_name="__main__")
    """
)


def test_kill_9_in_the_middle_of_a_class_concepts_then_rerun(
    tmp_path,
    concepts_argv,
    concept_site,
    gallery,
    check_site,
    subprocess_env,
    lines_until,
    monkeypatch,
):
    site = tmp_path / "site"
    with open(tmp_path / "stderr.txt", "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", PAUSED_AT_CONCEPTS, *concepts_argv, "--out", str(site)],
            env=subprocess_env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            bufsize=0,
        )
        try:
            said = lines_until(process.stdout, "paused", seconds=600)
            assert said[-1:] == ["paused"], said + [(tmp_path / "stderr.txt").read_text()]
        finally:
            process.kill()
            process.communicate()
    assert process.returncode == -signal.SIGKILL
    # Class 1's concepts are finished; class 4's are half written, without a record.
    first = (site / "concepts" / "class-0001" / "concepts.json").read_bytes()
    assert not (site / "concepts" / "class-0004" / "concepts.json").exists()
    assert list((site / "concepts" / "class-0004").iterdir())
    assert sorted(check_site(site)) == [f"class-{i:04d}" for i in range(6)]
    assert "<h2>Concepts</h2>" not in (site / "items" / "class-0004.html").read_text()

    found = []
    discover = concept_package.discover
    monkeypatch.setattr(
        concept_package,
        "discover",
        lambda *args, **kwargs: found.append(args[3]) or discover(*args, **kwargs),
    )
    assert gallery(*concepts_argv, "--out", str(site), "--quiet") == 0
    assert found == [4]  # only the unfinished class
    assert (site / "concepts" / "class-0001" / "concepts.json").read_bytes() == first
    for key in WITH_PHOTOS:
        listed = _record(site, key)["concepts"]
        folder = site / "concepts" / key
        assert {p.name for p in folder.iterdir()} == set(_named(listed)) | {"concepts.json"}
        # the same concepts as a run never killed (same seeds, same photos)
        assert _record(site, key) == _record(concept_site, key)
    assert "<h2>Concepts</h2>" in (site / "items" / "class-0004.html").read_text()
