"""Generating galleries: resume, invalidation, --force, shards, channels, seeds, errors."""

from __future__ import annotations

import dataclasses
import html
import json
import re
import shlex

import cv2
import numpy as np
import pytest

import xmaco
from xmaco import presets
from xmaco.cli import main as xmaco_main
from xmaco.cli.gallery import main
from xmaco.gallery import Settings, generate, load_model

FAST = ["--steps", "2", "--crops", "2", "--image-size", "32"]
ALL = [f"class-{i:04d}" for i in range(6)]


def _snapshot(site):
    return {
        path.relative_to(site): path.stat().st_mtime_ns
        for path in site.rglob("*")
        if path.is_file()
    }


def _pixels(site, name):
    return cv2.imread(str(site / name), cv2.IMREAD_UNCHANGED)


def test_the_reference_run_is_complete(reference_site, recorded_runs, recorded_entries, check_site):
    assert recorded_runs(reference_site) == [ALL[0:2], ALL[2:4], ALL[4:6]]
    assert sorted(check_site(reference_site)) == ALL
    entries = recorded_entries(reference_site)
    assert [entries[key]["seed"] for key in ALL] == list(range(6))
    assert all(len(entry["history"]) == 2 for entry in entries.values())


def test_rerunning_the_same_command_redoes_nothing(site_copy, model_path, gallery, recorded_runs):
    before = _snapshot(site_copy)
    argv = ["--model", model_path, "--classes", "all", *FAST, "--batch", "2"]
    assert gallery(*argv, "--out", str(site_copy), "--quiet") == 0
    assert recorded_runs(site_copy) == [ALL[0:2], ALL[2:4], ALL[4:6]]
    assert _snapshot(site_copy) == before  # not one file rewritten


def test_changed_settings_invalidate_only_the_affected_items(
    site_copy, model_path, gallery, recorded_runs, recorded_entries, check_site
):
    before = recorded_entries(site_copy)
    common = ["--model", model_path, "--crops", "2", "--image-size", "32", "--batch", "2"]
    assert gallery("--classes", "0-1", *common, "--steps", "3", "--out", str(site_copy)) == 0
    after = recorded_entries(site_copy)
    assert recorded_runs(site_copy)[3:] == [ALL[0:2]]
    for key in ALL:
        changed = after[key]["hash"] != before[key]["hash"]
        assert changed == (key in ALL[:2]), key
        assert len(after[key]["history"]) == (3 if changed else 2)
    # The replaced images are gone, the others untouched.
    for key in ALL[:2]:
        assert not (site_copy / before[key]["files"]["image"]).exists()
    assert after["class-0004"] == before["class-0004"]
    assert sorted(check_site(site_copy)) == ALL
    # Back to the first settings for all items: only the two changed items are computed.
    assert gallery("--classes", "all", *common, "--steps", "2", "--out", str(site_copy)) == 0
    assert recorded_runs(site_copy)[4:] == [ALL[0:2]]
    restored = recorded_entries(site_copy)
    for key in ALL:
        assert restored[key]["hash"] == before[key]["hash"]
        assert restored[key]["files"] == before[key]["files"]


def test_a_preset_is_a_setting_of_the_items(
    site_copy, model_path, gallery, recorded_runs, recorded_entries
):
    before = recorded_entries(site_copy)
    argv = [
        *("--model", model_path, "--classes", "0-1", *FAST),
        *("--batch", "2", "--preset", "reference"),
    ]
    assert gallery(*argv, "--out", str(site_copy), "--quiet") == 0
    assert recorded_runs(site_copy)[3:] == [ALL[0:2]]  # recomputed: another crop schedule
    after = recorded_entries(site_copy)["class-0001"]
    was = before["class-0001"]
    assert after["hash"] != was["hash"]
    assert (after["settings"]["preset"], was["settings"]["preset"]) == ("reference", "fast")
    assert (after["engine"]["crop_size"]["end"], was["engine"]["crop_size"]["end"]) == (0.05, 0.2)
    assert after["engine"]["learning_rate"]["schedule"] == "constant"
    assert was["engine"]["learning_rate"]["schedule"] == "cosine"
    page = (site_copy / "items" / "class-0001.html").read_text()
    assert page.count("--preset reference") == 2  # the gallery command and the one alone
    # --steps and --crops still win over the preset's values.
    assert (after["settings"]["steps"], after["settings"]["crops"]) == (2, 2)


def test_items_of_a_preset_whose_values_changed_are_redone(
    site_copy, model_path, gallery, recorded_runs, recorded_entries, monkeypatch
):
    argv = [
        *("--model", model_path, "--classes", "0-1", *FAST),
        *("--batch", "2", "--preset", "reference"),
    ]
    assert gallery(*argv, "--out", str(site_copy), "--quiet") == 0
    first = recorded_entries(site_copy)["class-0001"]
    assert gallery(*argv, "--out", str(site_copy), "--quiet") == 0
    assert recorded_runs(site_copy)[3:] == [ALL[0:2]]  # the same preset: nothing redone
    changed = dataclasses.replace(presets.get("reference"), learning_rate=(1.0, 0.5))
    monkeypatch.setitem(presets.PRESETS, "reference", changed)
    assert gallery(*argv, "--out", str(site_copy), "--quiet") == 0
    assert recorded_runs(site_copy)[3:] == [ALL[0:2], ALL[0:2]]
    after = recorded_entries(site_copy)["class-0001"]
    assert after["hash"] != first["hash"] and after["engine"]["learning_rate"]["end"] == 0.5


def test_force_recomputes_the_selected_items(site_copy, model_path, gallery, recorded_runs):
    argv = ["--model", model_path, "--classes", "4-5", *FAST, "--batch", "2", "--force"]
    assert gallery(*argv, "--out", str(site_copy), "--quiet") == 0
    assert recorded_runs(site_copy) == [ALL[0:2], ALL[2:4], ALL[4:6], ALL[4:6]]


def test_two_shards_assembled_equal_one_unsharded_run(
    tmp_path, model_path, gallery, recorded_entries, reference_site, check_site, capsys
):
    site = tmp_path / "site"
    common = ["--model", model_path, "--classes", "all", *FAST, "--batch", "2", "--out", str(site)]
    assert gallery(*common, "--shard", "1/2", "--quiet") == 0
    assert gallery("--assemble", "--out", str(site)) == 1  # shard 0 has not run yet
    assert "4 missing: class-0000, class-0001, class-0004, class-0005" in capsys.readouterr().err
    assert gallery(*common, "--shard", "0/2", "--quiet") == 0
    assert gallery("--assemble", "--out", str(site)) == 0
    manifests = sorted(p.name for p in (site / "manifests").glob("*.json"))
    assert manifests == ["shard-0-of-2.json", "shard-1-of-2.json"]
    shard_one = json.loads((site / "manifests" / "shard-1-of-2.json").read_text())
    assert sorted(shard_one["items"]) == ALL[2:4]
    sharded, whole = recorded_entries(site), recorded_entries(reference_site)
    assert sorted(sharded) == sorted(whole) == sorted(check_site(site))
    for key in ALL:
        assert sharded[key]["hash"] == whole[key]["hash"]
        assert sharded[key]["seed"] == whole[key]["seed"]
        for kind in ("image", "overlay", "thumb"):
            assert sharded[key]["files"][kind] == whole[key]["files"][kind]
            assert np.array_equal(
                _pixels(site, sharded[key]["files"][kind]),
                _pixels(reference_site, whole[key]["files"][kind]),
            )


@pytest.mark.filterwarnings("ignore:The gradient of the objective")  # a dead ReLU
def test_a_layers_channels(tmp_path, model_path, gallery, recorded_runs, check_site):
    site = tmp_path / "site"
    argv = ["--model", model_path, "--layer", "conv2", "--channels", "0-3", *FAST, "--batch", "4"]
    assert gallery(*argv, "--out", str(site), "--quiet") == 0
    keys = [f"conv2-channel-{i:04d}" for i in range(4)]
    assert recorded_runs(site) == [keys]
    assert check_site(site) == keys
    page = (site / "items" / "conv2-channel-0002.html").read_text()
    assert "channel 2 of layer conv2" in page
    assert "xmaco visualize --model" in page and "--layer conv2 --channel 2" in page


def test_an_item_equals_its_run_alone_with_its_own_seed(reference_site, model_path):
    items = json.loads((reference_site / "manifests" / "all.json").read_text())["items"]
    entry = items["class-0003"]
    assert entry["seed"] == 3  # base seed 0 + index 3
    alone = xmaco.maco(
        xmaco.Objective.neuron(load_model(model_path), "logits", 3),
        steps=2,
        crops=2,
        image_size=32,
        seed=entry["seed"],
    )
    rgb = np.rint(255 * alone.images01()[0]).astype(np.float32)
    in_gallery = _pixels(reference_site, entry["files"]["image"])[..., ::-1].astype(np.float32)
    neighbour = _pixels(reference_site, items["class-0004"]["files"]["image"])[..., ::-1]
    # Lossy WebP moves pixels by a few levels; another seed (the next item's) by tens.
    assert np.abs(rgb - in_gallery).mean() < 3
    assert np.abs(rgb - neighbour.astype(np.float32)).mean() > 10


def test_the_page_command_makes_the_same_image_alone(reference_site, tmp_path):
    items = json.loads((reference_site / "manifests" / "all.json").read_text())["items"]
    page = (reference_site / "items" / "class-0003.html").read_text()
    command = re.search(r"<pre><code>(xmaco visualize .*?)</code></pre>", page).group(1)
    words = shlex.split(html.unescape(command))
    assert xmaco_main([*words[1:], "--out", str(tmp_path), "--quiet"]) == 0
    alone = xmaco.Result.load(tmp_path / "xmaco")
    rgb = np.rint(255 * alone.images01()[0]).astype(np.float32)
    in_gallery = _pixels(reference_site, items["class-0003"]["files"]["image"])[..., ::-1]
    assert np.abs(rgb - in_gallery.astype(np.float32)).mean() < 3  # lossy WebP


def test_settings_are_checked_before_any_work(tmp_path, model_path):
    with pytest.raises(ValueError, match="steps to be an integer >= 1. Received: steps=0"):
        Settings(model=model_path, steps=0)
    with pytest.raises(ValueError, match="spectrum to be None or the path of a .npy file"):
        Settings(model=model_path, spectrum=str(tmp_path / "missing.npy"))
    with pytest.raises(ValueError, match="batch to be a positive integer"):
        generate(tmp_path, Settings(model=model_path), classes="all", batch=0)


def test_command_line_errors(tmp_path, model_path, gallery, capsys):
    with pytest.raises(ValueError, match="--assemble with --out only"):
        gallery("--assemble", "--classes", "all", "--out", str(tmp_path))
    with pytest.raises(ValueError, match="neither --classes nor --channels"):
        gallery("--model", model_path, "--out", str(tmp_path))
    assert main(["--model", "no_such_net", "--classes", "all", "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("xmaco gallery: error: Expected model to be one of")
    assert len(error.splitlines()) == 1
    assert main(["--classes", "all", "--out", str(tmp_path), "--shard", "2/2"]) == 2
    assert "Expected --shard to be i/n with 0 <= i < n" in capsys.readouterr().err


def _fake_maco(fail: dict[str, Exception]):
    """An engine stand-in: random images at once, or the error given for a run's first name."""

    def maco(objective, *, steps, image_size, seed, **_):
        if objective.names[0] in fail:
            raise fail[objective.names[0]]
        rng = np.random.default_rng(seed)
        n = objective.visualizations
        return xmaco.Result(
            images=rng.random((n, image_size, image_size, 3), "float32"),
            transparency=rng.random((n, image_size, image_size, 3), "float32"),
            history=np.zeros((steps, n), "float32"),
            names=objective.names,
            config={"values_range": [0.0, 1.0]},
            seed=seed,
        )

    return maco


def test_a_non_finite_run_is_skipped_and_out_of_memory_stops(
    monkeypatch, tmp_path, model_path, gallery, recorded_runs, capsys
):
    site = tmp_path / "site"
    argv = ["--model", model_path, "--classes", "all", *FAST, "--batch", "2", "--out", str(site)]
    failures = {
        "logits[2]": xmaco.NonFiniteError("The objective became non-finite (nan) at step 1"),
        "logits[4]": xmaco.OutOfMemoryError("Out of device memory at step 0."),
    }
    monkeypatch.setattr(xmaco, "maco", _fake_maco(failures))
    assert gallery(*argv) == 1
    error = capsys.readouterr().err
    assert "skipped classes 2-3: The objective became non-finite" in error
    assert "xmaco gallery: error: Out of device memory at step 0. Finished runs" in error
    assert recorded_runs(site) == [ALL[0:2]]
    del failures["logits[4]"]
    assert gallery(*argv) == 1
    assert "2 item(s) failed (non-finite values): rerun to retry them" in capsys.readouterr().out
    assert recorded_runs(site) == [ALL[0:2], ALL[4:6]]
    failures.clear()
    assert gallery(*argv, "--quiet") == 0
    assert recorded_runs(site) == [ALL[0:2], ALL[4:6], ALL[2:4]]


def test_a_mirrored_run_gives_the_same_pictures(site_copy, model_path, gallery, recorded_entries):
    hashes = {key: entry["hash"] for key, entry in recorded_entries(site_copy).items()}
    before = {
        key: _pixels(site_copy, entry["files"]["image"]).astype(int)
        for key, entry in recorded_entries(site_copy).items()
    }
    argv = ["--model", model_path, "--classes", "0-1", *FAST, "--batch", "2", "--mirrored"]
    assert gallery(*argv, "--force", "--out", str(site_copy), "--quiet") == 0
    after = recorded_entries(site_copy)
    for key in ALL[:2]:
        assert np.abs(_pixels(site_copy, after[key]["files"]["image"]) - before[key]).max() <= 1
        assert after[key]["hash"] == hashes[key]  # the same item: a later plain run keeps it
    manifests = sorted((site_copy / "manifests").glob("*.json"))
    assert "--mirrored" in json.loads(manifests[-1].read_text())["command"]
