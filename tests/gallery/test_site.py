"""The site writer: concepts, pages from manifests only, leftovers of killed writes."""

from __future__ import annotations

import json
import os
import re
import stat
import time

import cv2
import numpy as np
import pytest

from xmaco import Result
from xmaco.gallery.site import (
    read_concepts,
    remove_stale_temporary_files,
    write_concepts,
    write_images,
    write_site,
)


def _concepts_result(count: int, importance=None) -> Result:
    rng = np.random.default_rng(0)
    config = {} if importance is None else {"concepts": {"importance": importance}}
    return Result(
        images=rng.random((count, 24, 24, 3)).astype("float32"),
        transparency=rng.random((count, 24, 24, 3)).astype("float32"),
        history=np.zeros((2, count), "float32"),
        names=[f"goldfish concept {i + 1}" for i in range(count)],
        config=config,
    )


def test_an_empty_site_says_so(tmp_path):
    page = write_site(tmp_path).read_text()
    assert "No item is finished yet." in page and "No MACO run recorded yet." in page


def test_concepts_appear_on_their_item_page(site_copy, check_site):
    # visualize_concepts records the importances in the result's config.
    write_concepts(site_copy, "class-0001", _concepts_result(3, importance=[0.5, 0.3, -0.2]))
    assert [c["importance"] for c in read_concepts(site_copy, "class-0001")] == [0.5, 0.3, -0.2]
    write_site(site_copy)
    page = (site_copy / "items" / "class-0001.html").read_text()
    assert page.count('src="../concepts/class-0001/') == 3
    assert "goldfish concept 3" in page and "importance -0.2" in page
    assert "<h2>Concepts</h2>" not in (site_copy / "items" / "class-0002.html").read_text()
    check_site(site_copy)  # the concept images decode too


@pytest.mark.parametrize(
    "listed",
    [
        {"concepts": [{"image": "../../index.html"}]},
        {"concepts": [{"image": "0.webp", "importance": "high"}]},
        {"concepts": "none"},
        {"other": []},
    ],
)
def test_a_bad_concepts_file_is_ignored_with_a_warning(tmp_path, listed):
    folder = tmp_path / "concepts" / "class-0001"
    folder.mkdir(parents=True)
    (folder / "0.webp").write_bytes(b"")
    (folder / "concepts.json").write_text(json.dumps(listed))
    with pytest.warns(RuntimeWarning, match="concepts.json: expected"):
        assert read_concepts(tmp_path, "class-0001") == []


def test_write_concepts_checks_its_arguments(tmp_path):
    with pytest.raises(ValueError, match="Expected key to be an item key"):
        write_concepts(tmp_path, "../x", _concepts_result(1))
    with pytest.raises(ValueError, match=r"one importance per concept \(2\)"):
        write_concepts(tmp_path, "class-0001", _concepts_result(2), importance=[1.0])


def test_only_items_with_all_their_files_are_linked(site_copy):
    entry = json.loads((site_copy / "manifests" / "all.json").read_text())["items"]["class-0005"]
    (site_copy / entry["files"]["overlay"]).unlink()
    page = write_site(site_copy).read_text()
    assert re.findall(r'href="items/([^"]+)\.html"', page) == [f"class-{i:04d}" for i in range(5)]
    assert "5 item(s) finished, 1 pending" in page


def test_images_overlay_and_thumbnail(tmp_path):
    gray = np.linspace(0, 1, 300 * 300).reshape(300, 300, 1)
    files = write_images(tmp_path, "stem", gray, gray[::-1])
    shapes = {
        kind: cv2.imread(str(tmp_path / name), cv2.IMREAD_UNCHANGED).shape
        for kind, name in files.items()
    }
    assert shapes == {"image": (300, 300, 3), "overlay": (300, 300, 4), "thumb": (160, 160, 3)}
    alpha = cv2.imread(str(tmp_path / files["overlay"]), cv2.IMREAD_UNCHANGED)[..., 3]
    assert alpha[0].min() == 255 and alpha[-1].max() < 8  # opaque where the map is large
    # Readable by a web server running as another user, as a plain open() would make them.
    umask = os.umask(0o022)
    os.umask(umask)
    for name in [*files.values(), write_site(tmp_path).name]:
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask, name
    with pytest.raises(ValueError, match=r"image01 of shape \(H, W, 1\) or \(H, W, 3\)"):
        write_images(tmp_path, "bad", np.zeros((4, 4)), np.zeros((4, 4)))


def test_stale_temporary_files_are_removed_fresh_ones_kept(tmp_path):
    (tmp_path / "images").mkdir()
    stale = tmp_path / "images" / ".a.webp.x1.tmp"
    fresh = tmp_path / ".index.html.x2.tmp"
    for path in (stale, fresh):
        path.write_bytes(b"half")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    assert remove_stale_temporary_files(tmp_path) == 1
    assert fresh.exists() and not stale.exists()
