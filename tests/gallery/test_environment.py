"""Shards from Slurm's and Kubernetes' variables: the index arithmetic, the errors, and three
tasks run side by side that assemble the same site as one task alone."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from xmaco.gallery import shard_from_environment

FAST = ["--steps", "2", "--crops", "2", "--image-size", "32", "--batch", "2"]
CONCEPTS = ["--concept-layer", "conv2", "--concept-rank", "4", "--concept-image-crops", "16"]
CONCEPTS += ["--concept-designs", "8"]
ENGINE_VARIABLES = (
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_MAX",
    "SLURM_ARRAY_TASK_STEP",
    "SLURM_ARRAY_TASK_COUNT",
    "JOB_COMPLETION_INDEX",
    "XMACO_SHARD_COUNT",
)


def _slurm(task: int, first: int, count: int, step: int = 1) -> dict[str, str]:
    return {
        "SLURM_ARRAY_TASK_ID": str(task),
        "SLURM_ARRAY_TASK_MIN": str(first),
        "SLURM_ARRAY_TASK_MAX": str(first + step * (count - 1)),
        "SLURM_ARRAY_TASK_STEP": str(step),
        "SLURM_ARRAY_TASK_COUNT": str(count),
    }


def test_slurm_arrays_that_do_not_start_at_zero_or_step():
    assert [shard_from_environment(_slurm(t, 0, 3))[:2] for t in (0, 1, 2)] == [
        (0, 3),
        (1, 3),
        (2, 3),
    ]
    assert [shard_from_environment(_slurm(t, 5, 3))[:2] for t in (5, 6, 7)] == [
        (0, 3),
        (1, 3),
        (2, 3),
    ]
    assert [shard_from_environment(_slurm(t, 10, 3, 5))[:2] for t in (10, 15, 20)] == [
        (0, 3),
        (1, 3),
        (2, 3),
    ]
    # Without SLURM_ARRAY_TASK_MIN (not set by very old versions): the array starts at 0.
    assert shard_from_environment({"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "4"})[
        :2
    ] == (2, 4)
    source = shard_from_environment(_slurm(6, 5, 3)).source
    assert "SLURM_ARRAY_TASK_ID=6" in source and "SLURM_ARRAY_TASK_MIN=5" in source


def test_kubernetes_indexed_jobs():
    environ = {"JOB_COMPLETION_INDEX": "2", "XMACO_SHARD_COUNT": "3"}
    assert shard_from_environment(environ)[:2] == (2, 3)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "Expected --shard auto to run in a Slurm job array .* none of these variables"),
        (
            {"SLURM_ARRAY_TASK_ID": "3"},
            "Expected SLURM_ARRAY_TASK_COUNT with SLURM_ARRAY_TASK_ID .* unset",
        ),
        (
            _slurm(3, 0, 3),
            r"Expected SLURM_ARRAY_TASK_ID to be one of the 3 tasks of the array 0-2",
        ),
        (_slurm(4, 5, 3), r"array 5-7 .* Received: SLURM_ARRAY_TASK_ID=4"),
        (_slurm(12, 10, 3, 5), r"array 10-20:5 .* SLURM_ARRAY_TASK_ID=12"),
        ({**_slurm(1, 0, 3), "SLURM_ARRAY_TASK_COUNT": "three"}, "SLURM_ARRAY_TASK_COUNT to be an"),
        ({"JOB_COMPLETION_INDEX": "1"}, "Expected XMACO_SHARD_COUNT to be set to the Job's"),
        (
            {"JOB_COMPLETION_INDEX": "3", "XMACO_SHARD_COUNT": "3"},
            r"Expected JOB_COMPLETION_INDEX to be in \[0, 2\] \(XMACO_SHARD_COUNT=3",
        ),
        (
            {"JOB_COMPLETION_INDEX": "0", "XMACO_SHARD_COUNT": "0"},
            "Expected XMACO_SHARD_COUNT to be an integer >= 1. Received: XMACO_SHARD_COUNT='0'",
        ),
        (
            {"JOB_COMPLETION_INDEX": "-1", "XMACO_SHARD_COUNT": "2"},
            "Expected JOB_COMPLETION_INDEX to be an integer >= 0",
        ),
        (
            {**_slurm(0, 0, 2), "JOB_COMPLETION_INDEX": "0"},
            "Expected the variables of one engine .* both SLURM_ARRAY_TASK_ID",
        ),
    ],
)
def test_errors_name_the_variable(environ, message):
    with pytest.raises(ValueError, match=message):
        shard_from_environment(environ)


def test_shard_auto_on_the_command_line(tmp_path, model_path, gallery, monkeypatch, capsys):
    for name in ENGINE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    argv = ["--model", model_path, "--classes", "all", *FAST, "--out", str(tmp_path / "site")]
    with pytest.raises(ValueError, match="Expected --shard auto to run in a Slurm job array"):
        gallery(*argv, "--shard", "auto")
    for name, value in _slurm(7, 5, 3).items():
        monkeypatch.setenv(name, value)
    assert gallery(*argv, "--shard", "auto") == 0
    error = capsys.readouterr().err
    assert "shard 2/3 (from SLURM_ARRAY_TASK_ID=7, SLURM_ARRAY_TASK_MIN=5" in error
    manifests = sorted(p.name for p in (tmp_path / "site" / "manifests").glob("*.json"))
    assert manifests == ["shard-2-of-3.json"]


@pytest.fixture(scope="module")
def alone(tmp_path_factory, model_path, photos):
    """One task alone: the 6 classes, concepts of classes 1 and 4, in this process."""
    site = tmp_path_factory.mktemp("alone") / "site"
    argv = ["--model", model_path, "--classes", "all", *FAST, "--concepts-from", str(photos)]
    argv += [*CONCEPTS, "--out", str(site), "--quiet"]
    completed = subprocess.run(
        [sys.executable, "-m", "xmaco.gallery", *argv],
        env=_environment({}),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return site


def _environment(extra: dict[str, str]) -> dict[str, str]:
    environ = {key: value for key, value in os.environ.items() if key not in ENGINE_VARIABLES}
    return {**environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1", **extra}


def _side_by_side(site: Path, argv: list[str], environments: list[dict[str, str]]) -> None:
    """Start every task at once, wait for all, then assemble the site."""
    command = [sys.executable, "-m", "xmaco.gallery", *argv, "--out", str(site)]
    tasks = [
        subprocess.Popen(
            [*command, "--shard", "auto"],
            env=_environment(extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for extra in environments
    ]
    outputs = [task.communicate(timeout=900) for task in tasks]
    for task, (_, error) in zip(tasks, outputs, strict=True):
        assert task.returncode == 0, error[-3000:]
    assembled = subprocess.run(
        [sys.executable, "-m", "xmaco.gallery", "--assemble", "--out", str(site)],
        env=_environment({}),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert assembled.returncode == 0, assembled.stderr[-3000:]


def _files(site: Path) -> dict[str, bytes]:
    """Every file of a site but the manifests, with the volatile parts of pages removed:
    when an item was computed and how long it took, and the index's throughput footer."""
    found = {}
    for path in sorted(site.rglob("*")):
        name = path.relative_to(site).as_posix()
        if not path.is_file() or name.startswith("manifests/") or path.name.startswith("."):
            continue
        data = path.read_bytes()
        if path.suffix == ".html":
            text = re.sub(r"<tr><td>computed</td>.*?</tr>", "", data.decode(), flags=re.S)
            data = re.sub(r"<footer>.*?</footer>", "", text, flags=re.S).encode()
        found[name] = data
    return found


@pytest.mark.parametrize(
    "engine",
    [
        # an array that starts at 5 (sbatch --array=5-7): its tasks are shards 0, 1, 2
        [_slurm(task, 5, 3) for task in (5, 6, 7)],
        [{"JOB_COMPLETION_INDEX": str(i), "XMACO_SHARD_COUNT": "3"} for i in range(3)],
    ],
    ids=["slurm", "kubernetes"],
)
def test_three_tasks_side_by_side_assemble_the_site_of_one_task(
    tmp_path, engine, model_path, photos, alone, recorded_runs
):
    site = tmp_path / "site"
    argv = ["--model", model_path, "--classes", "all", *FAST, "--concepts-from", str(photos)]
    _side_by_side(site, [*argv, *CONCEPTS, "--quiet"], engine)
    manifests = sorted(p.name for p in (site / "manifests").glob("*.json"))
    assert manifests == [f"shard-{i}-of-3.json" for i in range(3)]
    # Each task computed its own block of 2 classes, nothing twice.
    assert sorted(recorded_runs(site)) == [
        [f"class-{i:04d}", f"class-{i + 1:04d}"] for i in (0, 2, 4)
    ]
    together, one = _files(site), _files(alone)
    assert sorted(together) == sorted(one)
    assert [name for name in together if name.startswith("concepts/")]  # concepts are there
    different = [name for name in one if together[name] != one[name]]
    assert different == []  # the same pages, the same picture bytes
    for name in together:
        if name.endswith((".webp", ".jpg")):
            assert np.array_equal(
                cv2.imread(str(site / name), cv2.IMREAD_UNCHANGED),
                cv2.imread(str(alone / name), cv2.IMREAD_UNCHANGED),
            ), name
