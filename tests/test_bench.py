"""The benchmark suite runs end to end on a tiny model and writes what the docs are built from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import report  # noqa: E402


def test_smoke_run_writes_results_and_the_page(tmp_path):
    results, page = tmp_path / "results", tmp_path / "benchmarks.md"
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--smoke",
            "--sections",
            "pieces",
            "--rounds",
            "1",
            "--results",
            str(results),
            "--docs",
            str(page),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    data = json.loads((results / "pieces.json").read_text())
    assert data["section"] == "pieces" and data["model"] == "tiny"
    assert {"noise", "optimizer (Nadam)", "model, micro-batches of 4"} <= set(data["fractions"])
    assert all(len(v) == 1 and v[0] > 0 for v in data["fractions"].values())
    assert data["peak_rss_mb"] > 0 and data["command"].startswith("python bench/run.py")
    text = page.read_text()
    assert "## 2. Where the time goes" in text and "no GPU figure was measured" in text


def _record(round_index, steps, yardsticks, rss=100.0):
    return {
        "round": round_index,
        "step_seconds": steps,
        "yardstick_seconds": yardsticks,
        "peak_rss_mb": rss,
    }


def test_ratios_are_taken_round_by_round_through_the_yardstick():
    # round 0: the machine is quiet; round 1: everything is twice as slow
    fast = [_record(0, [1.0, 1.0], [2.0, 2.0]), _record(1, [2.0, 2.0], [4.0, 4.0])]
    slow = [_record(0, [3.0, 3.0], [2.0, 2.0]), _record(1, [6.0, 6.0], [4.0, 4.0])]
    a, b = report.contender_stats(fast), report.contender_stats(slow)
    assert a["ratio"][0] == pytest.approx(0.5) and b["ratio"][0] == pytest.approx(1.5)
    assert report.cross_ratio(a, b) == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert a["seconds"][0] == pytest.approx(1.5)


def test_failed_settings_are_reported_not_fatal():
    stats = report.contender_stats([{"round": 0, "error": "exit 1: out of memory"}])
    assert stats["errors"] == ["exit 1: out of memory"] and stats["steps"] == 0
    assert report._fmt(stats["seconds"]) == "n/a"
