"""A gallery run killed with SIGKILL part way, then rerun: complete, whole, nothing twice."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from collections import Counter

import cv2

ALL = [f"class-{i:04d}" for i in range(6)]
# ``python -m xmaco.gallery ARGV`` whose run stops after its N-th item is written (argv[1]),
# says so on stdout, and waits there for the SIGKILL: the kill lands at a known moment.
PAUSED_GALLERY = textwrap.dedent(
    """
    import runpy, sys

    from xmaco.gallery import _runs

    write_images, written, stop = _runs.write_images, [], int(sys.argv[1])

    def write_then_wait(*args, **kwargs):
        files = write_images(*args, **kwargs)
        written.append(files)
        if len(written) == stop:
            print("paused", flush=True)
            sys.stdin.readline()  # never answered
        return files

    _runs.write_images = write_then_wait
    sys.argv = ["xmaco.gallery", *sys.argv[2:]]
    runpy.run_module("xmaco.gallery", run_name="__main__")
    """
)


def test_kill_9_in_the_middle_of_a_batch_then_rerun(
    tmp_path,
    model_path,
    gallery,
    recorded_runs,
    recorded_entries,
    check_site,
    subprocess_env,
    lines_until,
):
    site = tmp_path / "site"
    argv = ["--model", model_path, "--classes", "all", "--steps", "2", "--crops", "2"]
    argv += ["--image-size", "32", "--batch", "2", "--out", str(site)]
    # Killed after the first item of the second batch is written: the first batch is
    # recorded, the second is half on disk and not recorded.
    with open(tmp_path / "stderr.txt", "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", PAUSED_GALLERY, "3", *argv],
            env=subprocess_env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            bufsize=0,  # unbuffered: select sees every line the child writes
        )
        try:
            said = lines_until(process.stdout, "paused", seconds=300)
            assert said[-1:] == ["paused"], said + [(tmp_path / "stderr.txt").read_text()]
        finally:
            process.kill()
            process.communicate()
    assert process.returncode == -signal.SIGKILL
    killed_with = recorded_runs(site)
    assert killed_with == [ALL[:2]]
    assert list((site / "images").glob(f"{ALL[2]}-*")), "the second batch was not under way"

    # Right after the kill: whatever is recorded is whole and the index links only that.
    assert sorted(check_site(site)) == ALL[:2]
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
