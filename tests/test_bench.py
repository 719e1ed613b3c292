"""The benchmark suite runs end to end on a tiny model and writes what the docs are built from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
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
    expected = {"noise", "optimizer (Nadam)", "model, micro-batches of 4, two at a time"}
    assert expected <= set(data["fractions"])
    assert all(len(v) == 1 and v[0] > 0 for v in data["fractions"].values())
    assert data["peak_rss_mb"] > 0 and data["command"].startswith("python bench/run.py")
    text = page.read_text()
    assert "## 2. Where the time goes" in text and "no GPU figure was measured" in text
    # the measured part of the page is printed: its tables, not the fixed prose
    assert "| model, micro-batches of 4, two at a time |" in completed.stdout
    assert "## 2. Where the time goes" in completed.stdout
    assert "no GPU figure was measured" not in completed.stdout


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


def test_seconds_are_compared_round_by_round_and_every_round_is_shown():
    # the yardstick would call the two equal; their seconds say 1.5x, round after round
    a = report.contender_stats(
        [_record(0, [1.5, 1.5, 1.8], [1.0] * 3), _record(1, [3.0] * 3, [2.0] * 3)]
    )
    b = report.contender_stats([_record(0, [1.0] * 3, [1.0] * 3), _record(1, [2.0] * 3, [2.0] * 3)])
    assert report.cross_ratio(a, b, raw=True) == pytest.approx((1.5, 1.5, 1.5))
    assert report.cross_ratio(a, b)[0] == pytest.approx(1.5)
    lines = report._rounds_table({"a": a, "b": b}, {"load_average_after": [0.4, 0.5, 0.6]})
    assert "| round | a | b |" in lines
    assert "| 1 | 1.500 (10.0%) | 1.000 (0.0%) |" in lines  # IQR 1.5-1.65 over the median 1.5
    assert "| 2 | 3.000 (0.0%) | 2.000 (0.0%) |" in lines
    assert "load average at the end 0.4" in lines[0]


def test_failed_settings_are_reported_not_fatal():
    stats = report.contender_stats([{"round": 0, "error": "exit 1: out of memory"}])
    assert stats["errors"] == ["exit 1: out of memory"] and stats["steps"] == 0
    assert report._fmt(stats["seconds"]) == "n/a"


def _quality_run(evaluations, ranks, logits, probabilities):
    scores = [
        {"class": c, "rank": r, "logit": lo, "probability": p}
        for c, (r, lo, p) in enumerate(zip(ranks, logits, probabilities, strict=True))
    ]
    return {"model_evaluations": evaluations, "seconds": 3.0, "scores": scores}


def test_a_cheaper_setting_must_match_each_reference_on_every_measure():
    xmaco_reference, xplique_reference = report.REFERENCE_RUNS
    quality = {
        "classes": [0, 1, 2],
        "runs": {
            xmaco_reference: _quality_run(8192, [1, 1, 3], [9.0, 8.0, 3.0], [0.6, 0.5, 0.1]),
            xplique_reference: _quality_run(8192, [1, 1, 2], [9.0, 8.5, 3.0], [0.6, 0.5, 0.1]),
            "as good": _quality_run(4096, [1, 1, 2], [9.5, 8.0, 2.0], [0.7, 0.5, 0.2]),
            "better": _quality_run(4096, [1, 1, 1], [9.5, 9.0, 9.0], [0.7, 0.6, 0.9]),
            "fewer top-1": _quality_run(4096, [1, 2, 2], [9.5, 8.5, 9.0], [0.7, 0.6, 0.9]),
            "lower logit": _quality_run(2048, [1, 1, 1], [7.0, 7.9, 9.0], [0.7, 0.6, 0.9]),
            "too costly": _quality_run(6000, [1, 1, 1], [9.5, 9.0, 9.0], [0.9, 0.9, 0.9]),
            "xplique, 64 steps": _quality_run(2048, [1, 1, 1], [9.5, 9.0, 9.0], [0.9, 0.9, 0.9]),
            "failed": {"error": "exit 1"},
        },
    }
    verdicts = {v["name"]: v for v in report.quality_verdicts(quality)}
    assert set(verdicts) == {"as good", "better", "fewer top-1", "lower logit"}
    assert verdicts["better"]["holds"] and verdicts["better"]["fraction"] == 0.5
    # As good as xmaco's reference, below Xplique's median logit (8.5): not enough.
    assert verdicts["as good"]["reaches"] == {xmaco_reference: True, xplique_reference: False}
    assert not verdicts["as good"]["holds"]
    assert not verdicts["fewer top-1"]["holds"] and not verdicts["lower logit"]["holds"]
    page = "\n".join(report._quality_section(quality, None))
    assert "| better | 0.50 | 3 | 9.00 | 0.700 | yes | yes |" in page
    del quality["runs"][xplique_reference]
    assert report.quality_verdicts(quality)[0]["reaches"] == {xmaco_reference: True}
    del quality["runs"][xmaco_reference]
    assert report.quality_verdicts(quality) == []


def test_the_fast_preset_is_checked_on_pictures_that_did_not_choose_it():
    import run as bench_run

    checks = bench_run.plan("quality", smoke=False, model="efficientnet_lite0")["checks"]
    assert len(checks) == 2 * len(bench_run.PRESET_CHECKS)
    held_out = checks["eight other classes: preset fast"]
    assert not set(held_out["classes"]) & set(bench_run.QUALITY_CLASSES)
    assert held_out["seed"] == 0 and len(held_out["classes"]) == 8
    assert checks["the six classes, seed 7: preset fast"]["seed"] == 7
    for pictures in bench_run.PRESET_CHECKS:
        fast, before = checks[f"{pictures}: preset fast"], checks[f"{pictures}: without the decay"]
        assert fast["settings"]["learning_rate"] == {"cosine": [1.0, 0.1]}
        assert "learning_rate" not in before["settings"]
        assert {k: v for k, v in fast["settings"].items() if k != "learning_rate"} == before[
            "settings"
        ]
        assert (fast["steps"], fast["crops"]) == (before["steps"], before["crops"]) == (128, 32)


def test_checks_compare_the_two_settings_class_by_class():
    def run(logits, seed):
        scores = [
            {"class": c, "rank": 1 if lo > 5 else 3, "logit": lo, "probability": lo / 10}
            for c, lo in zip((7, 8, 9), logits, strict=True)
        ]
        return {"model_evaluations": 12, "seconds": 1.0, "scores": scores, "seed": seed}

    checks = {
        "other classes: preset fast": run([9.0, 4.0, 8.0], 0),
        "other classes: without the decay": run([6.0, 5.0, 7.0], 0),
        "another seed: preset fast": {"error": "exit 1"},
        "another seed: without the decay": run([6.0, 5.0, 7.0], 3),
    }
    page = "\n".join(report._checks_lines(checks))
    assert (
        "| other classes | 7, 8, 9; seed 0 | preset fast | 2/3 | 8.0 (4.0-9.0) | "
        "0.800 (0.400-0.900) | 2 of 3 |" in page
    )
    assert "| other classes | 7, 8, 9; seed 0 | without the decay | 2/3 |" in page
    assert page.count("| 1 of 3 |") == 1  # the other setting's wins
    assert "| another seed | | preset fast | failed: exit 1 |" in page
    assert "| another seed | 7, 8, 9; seed 3 | without the decay | 2/3 | 6.0 (5.0-7.0) |" in page
    assert report._checks_lines({}) == []


def test_the_page_says_what_a_decay_does_to_xmacos_reference_setting():
    xmaco_reference, xplique_reference = report.REFERENCE_RUNS
    quality = {
        "classes": [0, 1, 2],
        "runs": {
            xmaco_reference: _quality_run(8192, [1, 2, 3], [6.0, 5.0, 3.0], [0.3, 0.2, 0.1]),
            xplique_reference: _quality_run(8192, [1, 1, 1], [9.0, 8.5, 7.0], [0.9, 0.8, 0.7]),
            report.DECAYED_REFERENCE: _quality_run(
                8192, [1, 1, 1], [9.5, 9.0, 8.0], [0.95, 0.85, 0.8]
            ),
            "xmaco, preset fast": _quality_run(4096, [1, 1, 1], [9.5, 9.0, 8.0], [0.9, 0.9, 0.9]),
        },
    }
    page = "\n".join(report._quality_section(quality, None))
    assert "a median logit of 9.00 and a median probability of 0.850: as good as" in page
    verdicts = report.quality_verdicts(quality)
    assert [v["name"] for v in verdicts] == ["xmaco, preset fast"]  # not the decayed reference
    quality["runs"][report.DECAYED_REFERENCE]["scores"][0]["rank"] = 2
    page = "\n".join(report._quality_section(quality, None))
    assert "gives 2 top-1" in page and "below Xplique's run on at least one measure" in page
    del quality["runs"][report.DECAYED_REFERENCE]
    page = "\n".join(report._quality_section(quality, None))
    assert "With a decay" not in page and "Xplique's run scores higher" in page


def _ablation_answer(name, seed, probabilities, crop_top1):

    task = {
        "kind": "ablation",
        "setting": "reference",
        "name": name,
        "seed": seed,
        "classes": [1, 2],
        "steps": 2,
    }
    judgements = [
        {
            "picture": i,
            "judge": judge,
            "class": c,
            "probability": p,
            "top1": p > 0.5,
            "top5": True,
            "crop_top1": crop_top1,
        }
        for judge in ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "mobilenet")
        for i, (c, p) in enumerate(zip([1, 2], probabilities, strict=True))
    ]
    return {
        "task": task,
        "self_judge": "efficientnet_lite0",
        "seconds": 4.0,
        "model_evaluations": 32,
        "judgements": judgements,
    }


def test_the_ablation_reports_each_factor_picture_by_picture_against_the_default():
    import ablation

    runs = [
        _ablation_answer("xmaco", 0, [0.2, 0.4], 0.25),
        _ablation_answer("phase standardised", 0, [0.5, 0.3], 0.5),
    ]
    lines = ablation.section_lines({"classes": [1, 2], "seeds": [0], "runs": runs})
    text = "\n".join(lines)
    assert (
        "| reference | xmaco | 0 | 16 | 2 | 0.300 | 0.300 | 0.300 | 0.25 | 0.25 | 0.25 | 0.300 |"
        in text
    )
    assert "Partial" not in text  # a finished section (its answers file) is not partial
    # picture by picture: +0.3 and -0.1 -> median +0.1, one of two better
    row = next(line for line in lines if line.startswith("| reference | phase standardised | +"))
    assert row.startswith("| reference | phase standardised | +0.100 (+0.000 to +0.200) | +0.250")
    assert row.endswith("| 1 of 2 |")
    planned = ablation.plan(smoke=False)
    assert {run["image_size"] for run in planned} == {256} and {r["crops"] for r in planned} == {8}
    assert len({(run["setting"], run["name"]) for run in planned}) == len(planned) == 22
    rows = [line.split(" | ")[1] for line in lines if line.startswith("| reference | ")]
    assert rows[:2] == ["xmaco", "phase standardised"]  # the plan's order, the default first


def test_an_unfinished_ablation_is_read_from_its_cache_and_said_partial(tmp_path):
    import ablation

    assert ablation.from_cache(tmp_path) is None
    answer = _ablation_answer("xmaco", 0, [0.2, 0.4], 0.25)
    (tmp_path / "reference-0.json").write_text(json.dumps(answer))
    (tmp_path / "other.json").write_text(json.dumps({"task": {"kind": "quality"}}))
    data = ablation.from_cache(tmp_path)
    assert data["seeds"] == [0] and len(data["runs"]) == 1 and data["planned"] == 44
    text = "\n".join(ablation.section_lines(data))
    assert "**Partial**: 1 of the 44 runs" in text


def test_the_decisive_section_sets_the_defaults_against_xplique_judge_by_judge(tmp_path):
    import ablation
    import decisive

    from xmaco import presets

    runs = [
        _ablation_answer("Xplique maco()", 0, [0.4, 0.4], 0.5),
        _ablation_answer('xmaco.maco(preset="reference")', 0, [0.6, 0.3], 0.75),
    ]
    for answer in runs:
        answer["task"]["setting"] = "full"
        name = answer["task"]["name"].replace(" ", "_")
        (tmp_path / f"{name}.json").write_text(json.dumps(answer))
    data = ablation.from_cache(tmp_path, decisive.planned())
    # both seeds of every run, but for those limited to some seeds
    planned = sum(len(run.get("seeds", (0, 1))) for run in decisive.RUNS.values())
    assert data["planned"] == planned
    text = "\n".join(decisive.section_lines(data))
    assert f"**Partial**: 2 of the {planned} runs" in text
    # rows in the plan's order whatever the cache's: Xplique's first, then xmaco's presets
    rows = [line.split(" | ")[0][2:] for line in text.splitlines() if " | 0 | 2 | 16 | " in line]
    assert rows == ["Xplique maco()", 'xmaco.maco(preset="reference")']
    first = '| xmaco.maco(preset="reference") | +'
    row = next(line for line in text.splitlines() if line.startswith(first))
    # +0.2 and -0.1 -> median +0.05; crops +0.25; one of two better; 0.45 >= 0.4 and 0.75 >= 0.5
    assert row.startswith(first + "0.050 (-0.025 to +0.125) | +0.250")
    assert "| 1 of 2 |" in row
    assert "efficientnet_lite1: 0.450 >= 0.400, 0.750 >= 0.500" in row
    plan = decisive.plan(smoke=False)
    assert [run["name"] for run in plan] == list(decisive.RUNS)
    assert {run["image_size"] for run in plan} == {512}
    for run in plan:  # the evaluations counted are the ones a run makes: keywords, else preset
        preset = presets.get(run.get("preset", "reference"))  # Xplique's defaults: reference's
        keywords = {"steps": preset.steps, "crops": preset.crops, **run.get("keywords", {})}
        assert (keywords["steps"], keywords["crops"]) == (run["steps"], run["crops"]), run["name"]


def test_a_long_run_is_cached_in_chunks_of_classes_and_counted_once_complete(tmp_path):
    import ablation

    asked, failing = [], [[5]]

    def worker(task):
        asked.append(task["classes"])
        if task["classes"] in failing:
            return {"error": "killed"}
        answer = _ablation_answer("run", task["seed"], [0.5, 0.5], 0.5)
        judgements = [
            {**j, "class": c}
            for j in answer["judgements"]
            for c in task["classes"][j["picture"] :][:1]
        ]
        return {
            "self_judge": answer["self_judge"],
            "seconds": 1.0,
            "model_evaluations": 4,
            "judgements": judgements,
        }

    run = {"setting": "full", "name": "run"}
    data = ablation.run_cached([run], [1, 2, 3, 4, 5], [0], "m", tmp_path, worker, print, 2)
    assert asked == [[1, 2], [3, 4], [5]]
    assert [a["task"]["classes"] for a in data["runs"]] == [[1, 2], [3, 4]]
    assert ablation.complete_runs(data) == 0  # class 5 is missing
    # a rerun asks for the missing chunk only
    asked.clear(), failing.clear()
    ablation.run_cached([run], [1, 2, 3, 4, 5], [0], "m", tmp_path, worker, print, 2)
    assert asked == [[5]]
    again = ablation.from_cache(tmp_path, planned=1)
    assert again["classes"] == [1, 2, 3, 4, 5] and ablation.complete_runs(again) == 1


def test_a_run_rebuilds_the_magnitude_it_names():
    import ablation

    from xmaco.spectrum import natural

    # no constant replaced: exactly the library's default, at any canvas
    np.testing.assert_array_equal(ablation._natural_with({}, 48), natural(48, 48))
    former = ablation._natural_with(ablation.PHOTOS_MAGNITUDE, 48)
    assert former.shape == (3, 48, 25)
    # the former zero frequency, on the same per-pixel scale as the model's
    np.testing.assert_allclose(former[:, 0, 0] / 48**2, ablation.PHOTOS_MAGNITUDE["dc"], rtol=1e-6)
    assert not np.allclose(former, natural(48, 48))


def test_chunks_alternate_between_runs_so_an_unfinished_seed_is_paired(tmp_path):
    import ablation

    asked = []

    def worker(task):
        asked.append((task["name"], task["seed"], task["classes"]))
        return {"error": "not needed"}

    runs = [
        {"setting": "full", "name": "a"},
        {"setting": "full", "name": "b", "seeds": [1]},
        {"setting": "full", "name": "c", "stage": 1},
    ]
    ablation.run_cached(runs, [1, 2, 3, 4], [0, 1], "m", tmp_path, worker, print, 2)
    assert asked == [
        ("a", 0, [1, 2]),
        ("a", 0, [3, 4]),
        ("a", 1, [1, 2]),
        ("b", 1, [1, 2]),
        ("a", 1, [3, 4]),
        ("b", 1, [3, 4]),
        ("c", 0, [1, 2]),
        ("c", 0, [3, 4]),
        ("c", 1, [1, 2]),
        ("c", 1, [3, 4]),
    ]
