"""A gallery run killed with SIGKILL part way, then rerun: complete, whole, nothing twice."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter

import cv2

ALL = [f"class-{i:04d}" for i in range(6)]


def _recorded_runs(site):
    try:
        return json.loads((site / "manifests" / "all.json").read_text())["runs"]
    except FileNotFoundError:
        return []


def test_kill_9_after_the_first_batch_then_rerun(
    tmp_path, model_path, gallery, recorded_runs, recorded_entries, check_site, subprocess_env
):
    site = tmp_path / "site"
    argv = ["--model", model_path, "--classes", "all", "--steps", "2", "--crops", "2"]
    argv += ["--image-size", "32", "--batch", "2", "--out", str(site)]
    process = subprocess.Popen(
        [sys.executable, "-m", "xmaco.gallery", *argv],
        env=subprocess_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    try:
        # The manifest is replaced atomically: every read parses, even mid-write.
        while not _recorded_runs(site):
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "the first batch was never recorded"
            time.sleep(0.01)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    killed_with = recorded_runs(site)
    assert 1 <= len(killed_with) < 3, "the run was not killed part way"

    # Right after the kill: whatever is recorded is whole and the index links only that.
    linked = check_site(site)
    assert set(linked) <= {key for run in killed_with for key in run}
    for entry in recorded_entries(site).values():
        for name in entry["files"].values():
            assert cv2.imread(str(site / name)) is not None, name

    assert gallery(*argv, "--quiet") == 0
    # Complete, every image decodes, and the manifest proves no item was computed twice.
    assert sorted(check_site(site)) == ALL
    computed = Counter(key for run in recorded_runs(site) for key in run)
    assert sorted(computed) == ALL and set(computed.values()) == {1}
    assert recorded_runs(site)[: len(killed_with)] == killed_with
    for entry in recorded_entries(site).values():
        for name in entry["files"].values():
            assert cv2.imread(str(site / name), cv2.IMREAD_UNCHANGED) is not None, name
    # A write cut by the kill leaves at most a hidden temporary file, never a damaged target.
    for path in (site / "images").iterdir():
        assert path.name.startswith(".") or cv2.imread(str(path)) is not None, path
    for path in (site / "manifests").glob("*.json"):
        json.loads(path.read_text())
