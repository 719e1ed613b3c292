"""Interruptions lose nothing: Ctrl-C saves the partial run, SIGKILL never leaves a torn file.

tests/test_callbacks.py sends SIGINT to a Python run; tests/test_cli.py raises
KeyboardInterrupt from a callback. Here the real signal reaches the ``xmaco`` command, and
writers are killed with SIGKILL at each step of a save, where they wait for it.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

import xmaco.result
from xmaco import Result
from xmaco.files import atomic_write

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and terminals")


def _small_result(value: float, names: list[str] | None = None) -> Result:
    images = np.full((1, 8, 8, 3), value, np.float32)
    return Result(images, images, np.zeros((2, 1), np.float32), names or [f"v{value:g}"], {})


# ------------------------------------------------------------------------ saves that lose nothing
def test_saves_whose_names_differ_only_after_a_dot_keep_both(tmp_path):
    _small_result(1.0).save(tmp_path / "run.v1")
    _small_result(2.0).save(tmp_path / "run.v2")
    assert Result.load(tmp_path / "run.v1").images.max() == 1.0
    assert Result.load(tmp_path / "run.v2.npz").images.max() == 2.0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "run.v1.json",
        "run.v1.npz",
        "run.v2.json",
        "run.v2.npz",
    ]


def test_a_save_interrupted_between_its_two_files_is_refused_not_mixed(tmp_path, monkeypatch):
    _small_result(1.0, ["first"]).save(tmp_path / "run")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C after the .npz was replaced, before the .json

    monkeypatch.setattr(xmaco.result.json, "dump", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _small_result(2.0, ["second"]).save(tmp_path / "run")
    monkeypatch.undo()
    with pytest.raises(ValueError, match="different saves"):
        Result.load(tmp_path / "run")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_results_saved_before_the_pair_digest_still_load(tmp_path):
    path = _small_result(3.0).save(tmp_path / "old")
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    del meta["npz_sha256"]
    meta_path.write_text(json.dumps(meta))
    assert Result.load(tmp_path / "old").images.max() == 3.0


def test_any_name_the_file_system_accepts_can_be_written_atomically(tmp_path):
    target = tmp_path / ("n" * 250)
    with atomic_write(target) as handle:
        handle.write(b"complete")
    assert target.read_bytes() == b"complete"


# ---------------------------------------------------------------------------- SIGKILL writers
# Saves a Result and a PNG over and over. Every file is written by atomic_write, whose last
# step is os.replace: from the second save on, the writer says each moment around a
# replacement on stdout and, at the one named by argv[4] (0: before the first), waits there
# for its SIGKILL.
WRITER = textwrap.dedent(
    """
    import itertools, os, sys, types

    import cv2
    import numpy as np

    # The package's __init__ imports TensorFlow; the writers need only NumPy: load them alone.
    package = types.ModuleType("xmaco")
    package.__path__ = [sys.argv[1]]
    sys.modules["xmaco"] = package
    from xmaco.files import atomic_write
    from xmaco.result import Result

    destination, first, stop = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    moments, replace = [], os.replace

    def moment(name):
        if saved:
            moments.append(name)
            if len(moments) == stop + 1:
                print(name, flush=True)
                sys.stdin.readline()  # never answered

    def replace_and_say(source, target):
        moment(f"before {os.path.basename(target)}")
        replace(source, target)
        moment(f"after {os.path.basename(target)}")

    os.replace = replace_and_say
    saved = False
    noise = np.random.default_rng(0).random((512, 512, 3))
    for i in itertools.count(first):
        value = np.float32(i % 97)
        images = np.full((4, 128, 128, 3), value, np.float32)
        images[:, :2] += noise[:2, :128].astype(np.float32)
        Result(images, images, np.zeros((5, 4), np.float32), [f"save {i}"] * 4,
               {"i": i}).save(destination)
        picture = (noise * 255).astype(np.uint8)
        with atomic_write(destination + ".png") as handle:
            handle.write(cv2.imencode(".png", picture)[1].tobytes())
        saved = True
    """
)
# The moments of the second save, and what a kill at each leaves behind.
KILLED_AT = {
    "before bundle.npz": "save {first}",
    "after bundle.npz": "torn pair refused",
    "before bundle.json": "torn pair refused",
    "after bundle.json": "save {second}",
    "before bundle.png": "save {second}",
    "after bundle.png": "save {second}",
}


def _check_destination(base: Path) -> str:
    """The state a killed writer left: each file whole, or a torn pair that load refuses."""
    picture = cv2.imread(str(base) + ".png", cv2.IMREAD_UNCHANGED)
    assert picture is not None and picture.shape == (512, 512, 3), "a truncated PNG"
    try:
        result = Result.load(base)
    except ValueError as error:
        assert "different saves" in str(error), error
        return "torn pair refused"
    i = result.config["i"]
    assert result.names == [f"save {i}"] * 4
    assert np.all(result.images[:, 2:] == np.float32(i % 97)), "arrays of another save"
    return f"save {i}"


@posix_only
def test_writers_killed_at_every_step_of_a_save_leave_whole_files(tmp_path, faults, lines_until):
    base = tmp_path / "bundle"
    for stop, (moment, expected) in enumerate(KILLED_AT.items()):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(faults.root / "xmaco"), str(base), str(10 * stop)]
            + [str(stop)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,  # unbuffered: select sees every line the writer says
        )
        try:
            said = lines_until(writer.stdout, moment, seconds=120)
        finally:
            writer.kill()
            _, errors = writer.communicate(timeout=30)
        assert said == [moment], said + [errors.decode(errors="replace")]
        assert writer.returncode == -signal.SIGKILL
        assert _check_destination(base) == expected.format(first=10 * stop, second=10 * stop + 1)
    strays = [p.name for p in tmp_path.iterdir() if not p.name.startswith("bundle")]
    # A kill before a replacement leaves that write's temporary file: hidden, never final.
    assert len(strays) == 3, strays
    assert all(name.startswith(".bundle") and name.endswith(".tmp") for name in strays), strays


# ------------------------------------------------------------------------- Ctrl-C, the command
def _read_until(fd: int, pattern: re.Pattern, deadline: float, seen: list[str]) -> re.Match:
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096).decode(errors="replace")
        except OSError:  # the terminal closed: the child exited
            break
        if not chunk:
            break
        seen.append(chunk)
        found = list(pattern.finditer("".join(seen)))
        if found:
            return found[-1]
    raise AssertionError(f"never saw {pattern.pattern!r}: {''.join(seen)[-2000:]}")


@posix_only
def test_ctrl_c_on_the_command_saves_the_partial_result_and_exits_130(tmp_path, faults, cnn):
    import pty

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        cnn.save(tmp_path / "cnn.keras")
    # stderr is a terminal, so the command shows its progress bar: the steps can be watched
    controller, terminal = pty.openpty()
    command = [
        sys.executable,
        "-m",
        "xmaco.cli",
        "visualize",
        "--model",
        str(tmp_path / "cnn.keras"),
    ]
    command += ["--class", "1", "--steps", "100000", "--crops", "1", "--image-size", "32"]
    command += ["--seed", "0", "--out", str(tmp_path / "out"), "--prefix", "run.v2"]
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=terminal, env=faults.child_environment()
    )
    os.close(terminal)
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 240
        _read_until(controller, re.compile(r" ([3-9]|\d\d+)/100000 "), deadline, seen)
        child.send_signal(signal.SIGINT)
        child.wait(timeout=120)
        _read_until(controller, re.compile(r"result is saved in \S+"), time.monotonic() + 10, seen)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(controller)
    text = "".join(seen)
    assert child.returncode == 130, text[-2000:]
    assert "Traceback" not in text
    done = int(re.search(r"interrupted after (\d+) of 100000 steps", text).group(1))
    partial = Result.load(tmp_path / "out" / "run.v2")
    assert partial.interrupted and partial.history.shape == (done, 1) and done >= 3
    assert np.isfinite(partial.images).all()
    assert (tmp_path / "out" / "run.v2_00_overlay.png").is_file()
