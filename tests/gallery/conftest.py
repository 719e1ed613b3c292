"""Fixtures of the gallery tests: a tiny saved model, the gallery command, a reference site."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest

from xmaco.gallery import add_gallery_command

CLASSES = 6
# The fastest settings that still run the whole pipeline: 2 steps of 2 crops on a 32 px canvas.
FAST = ["--steps", "2", "--crops", "2", "--image-size", "32"]
# Concepts of the tiny model's conv2 (16 channels) from the ``photos`` fixture, the first split
# at conv1; 8 Sobol designs instead of 32, for speed.
CONCEPTS = ["--concept-layer", "conv2", "--concept-rank", "4", "--concept-image-crops", "16"]
CONCEPTS += ["--concept-designs", "8", "--concept-refine-layer", "conv1", "--concept-sub-rank", "2"]


@pytest.fixture(scope="session")
def model_path(tmp_path_factory) -> str:
    """A saved .keras classifier with CLASSES logits and a conv layer 'conv2' of 16 channels."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    model = keras.Model(inputs, keras.layers.Dense(CLASSES, name="logits")(x), name="tiny")
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    model.save(path)
    return str(path)


def _gallery(*argv: str) -> int:
    """Run ``xmaco gallery ARGV`` in this process, through the subcommand's own parser."""
    parser = argparse.ArgumentParser(prog="xmaco")
    add_gallery_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["gallery", *argv])
    return args.handler(args)


def _runs(site: Path) -> list[list[str]]:
    """The item keys of every MACO run recorded in the site's manifests."""
    return [
        run["keys"]
        for path in sorted((site / "manifests").glob("*.json"))
        for run in json.loads(path.read_text())["runs"]
    ]


def _entries(site: Path) -> dict[str, dict]:
    """Every manifest entry of the site by key (keys are unique across manifests here)."""
    found: dict[str, dict] = {}
    for path in sorted((site / "manifests").glob("*.json")):
        for key, entry in json.loads(path.read_text())["items"].items():
            assert key not in found, f"{key} recorded by two manifests"
            found[key] = entry
    return found


def _check_site(site: Path) -> list[str]:
    """Check that every page the index links exists and every image they use decodes.

    Returns the item keys the index links.
    """
    index = (site / "index.html").read_text()
    pages = re.findall(r'href="items/([^"]+)\.html"', index)
    for name in re.findall(r'src="([^"]+)"', index):
        assert cv2.imread(str(site / name)) is not None, name
    for key in pages:
        page = (site / "items" / f"{key}.html").read_text()
        for name in re.findall(r'(?:src|data-overlay)="\.\./([^"]+)"', page):
            image = cv2.imread(str(site / name), cv2.IMREAD_UNCHANGED)
            assert image is not None and image.size > 0, name
        for link in re.findall(r'href="([^"]+\.html)"', page):
            assert (site / "items" / link).resolve().is_file(), link
    return pages


@pytest.fixture(scope="session")
def reference_site(tmp_path_factory, model_path) -> Path:
    """All CLASSES classes of the tiny model in runs of 2: the site other tests compare with.

    Read only: tests that change a site copy it first (``copy_site``).
    """
    site = tmp_path_factory.mktemp("reference") / "site"
    assert (
        _gallery(
            "--model",
            model_path,
            "--classes",
            "all",
            *FAST,
            "--batch",
            "2",
            "--out",
            str(site),
            "--quiet",
        )
        == 0
    )
    return site


@pytest.fixture(scope="session")
def concepts_argv(model_path, photos) -> list[str]:
    """``xmaco gallery`` options of the 6 classes with the concepts of classes 1 and 4."""
    argv = ["--model", model_path, "--classes", "all", *FAST, "--batch", "2"]
    return [*argv, "--concepts-from", str(photos), *CONCEPTS]


@pytest.fixture(scope="session")
def concept_site(tmp_path_factory, concepts_argv) -> Path:
    """The 6 classes of the tiny model with the concepts of classes 1 and 4 (read only)."""
    site = tmp_path_factory.mktemp("concepts") / "site"
    assert _gallery(*concepts_argv, "--out", str(site), "--quiet") == 0
    return site


@pytest.fixture
def site_copy(reference_site, tmp_path) -> Path:
    """A writable copy of the reference site."""
    return Path(shutil.copytree(reference_site, tmp_path / "site"))


@pytest.fixture(scope="session")
def gallery():
    """``gallery(*argv)``: run ``xmaco gallery ARGV`` in this process; returns the exit status."""
    return _gallery


@pytest.fixture(scope="session")
def recorded_runs():
    """``recorded_runs(site)``: the item keys of every MACO run in the site's manifests."""
    return _runs


@pytest.fixture(scope="session")
def recorded_entries():
    """``recorded_entries(site)``: every manifest entry by key (unique across manifests)."""
    return _entries


@pytest.fixture(scope="session")
def check_site():
    """``check_site(site)``: links and images of the site are whole; returns the linked keys."""
    return _check_site


@pytest.fixture(scope="session")
def photos(tmp_path_factory) -> Path:
    """``--concepts-from`` photos: scikit-image's tabby cat (class 1) and espresso (class 4),
    three overlapping crops of each saved as JPEG files."""
    from skimage import data

    root = tmp_path_factory.mktemp("photos")
    for folder, picture in (("1", data.chelsea()), ("4", data.coffee())):
        (root / folder).mkdir()
        height, width = picture.shape[:2]
        for number, (top, left) in enumerate([(0, 0), (height // 4, width // 4), (0, width // 4)]):
            crop = picture[top : top + 3 * height // 4, left : left + 3 * width // 4]
            cv2.imwrite(str(root / folder / f"{number}.jpg"), np.ascontiguousarray(crop[..., ::-1]))
    return root


@pytest.fixture(scope="session")
def subprocess_env() -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
