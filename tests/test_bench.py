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
    (tmp_path / "other.json").write_text(json.dumps({"task": {"kind": "steps"}}))
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
    # every seed of the section for every run, but for those limited to some seeds
    planned = sum(len(run.get("seeds", (0, 1, 2))) for run in decisive.RUNS.values())
    assert data["planned"] == planned == decisive.planned()
    assert decisive.planned([0]) == len(decisive.RUNS)  # a smoke run: every run, one seed
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
    # how sure: the mean change and its bootstrap interval, judge by judge (crops: +0.25 twice)
    row = next(line for line in text.splitlines() if line.startswith(first[:-1] + "2 | "))
    cells = row.split(" | ")[2:]
    assert cells[0] == "+0.050 (-0.100 to +0.200)" and cells[-1] == "+0.250 (+0.250 to +0.250) |"
    plan = decisive.plan(smoke=False)
    assert [run["name"] for run in plan] == list(decisive.RUNS)
    assert {run["image_size"] for run in plan} == {512}
    for run in plan:  # the evaluations counted are the ones a run makes: keywords, else preset
        preset = presets.get(run.get("preset", "reference"))  # Xplique's defaults: reference's
        keywords = {"steps": preset.steps, "crops": preset.crops, **run.get("keywords", {})}
        assert (keywords["steps"], keywords["crops"]) == (run["steps"], run["crops"]), run["name"]


def test_the_headline_sets_each_preset_against_xplique_on_the_pictures_both_have(tmp_path):
    import decisive

    cache = tmp_path / "results" / "decisive"
    cache.mkdir(parents=True)
    answers = [
        _ablation_answer("Xplique maco()", 0, [0.4, 0.4], 0.5),
        _ablation_answer('xmaco.maco(preset="fast")', 0, [0.6, 0.3], 0.75),
    ]
    answers.append(_ablation_answer('xmaco.maco(preset="fast")', 1, [0.9, 0.9], 1.0))  # alone
    for answer in answers[1:]:
        answer["model_evaluations"] = 16  # half of Xplique's, as the fast preset
    for n, answer in enumerate(answers):
        answer["task"]["setting"] = "full"
        (cache / f"full-{n}.json").write_text(json.dumps(answer))
    report.write_report(tmp_path / "results", tmp_path / "benchmarks.md")
    page = (tmp_path / "benchmarks.md").read_text()
    headline = page[page.index("## Headline") : page.index("## 6.")]
    label = 'xmaco.maco(preset="fast") / Xplique maco(), 2 pictures (0.50x its evaluations)'
    judges = "efficientnet_lite1, efficientnet_lite2, mobilenet"
    # seed 1 has no Xplique picture beside it: the means are over seed 0's two pictures
    assert (
        f"| {label}: class probability, judged by {judges} | 0.450 / 0.450 / 0.450 vs "
        "0.400 / 0.400 / 0.400 |" in headline
    )
    assert f"| {label}: crop top-1, judged by {judges} | 0.750 / 0.750 / 0.750 vs 0.500" in headline
    assert f"| {label}: pictures the judges find more probable | 1 of 2 |" in headline
    assert "reference" not in headline  # no reference picture yet: no row for it
    assert decisive.headline_rows({"runs": answers[1:]}) == []  # nothing to set against


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
