"""Why the defaults are what they are: each difference from the MACO authors' formulation
switched alone and in combination, judged by networks that did not make the pictures.

The pictures are made on EfficientNet-Lite0 (the embedded model) for twelve classes and two
seeds, at a reduced setting stated on the page (a 256 canvas and 8 crops a step instead of 512
and 32, so that the section fits on a 2-core CPU). Each picture is judged by
:func:`xmaco.evaluate.transfer` with EfficientNet-Lite1, EfficientNet-Lite2 and MobileNet v1
0.25 (another family); Lite0's own verdict on the central half (self-recognition) is a
secondary column. Xplique's ``maco()`` and ``optimize()`` (Fourier) and xmaco's Fourier and
pixel baselines run with the same classes, seeds and step counts.

One process per (run, seed); each answer is cached under ``results/ablation/`` by the hash of
its task, so an interrupted section resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

#: The six classes of the quality section and six of the held-out ones: goldfish,
#: hummingbird, flamingo, starfish, strawberry, volcano, ostrich, golden retriever, tiger,
#: bee, balloon, sports car.
CLASSES = (1, 94, 130, 327, 949, 980, 9, 207, 292, 309, 417, 817)
SEEDS = (0, 1)
JUDGES = ("lite1", "lite2", "mobilenet")
#: The reduction that makes the section affordable on a CPU, applied to every run.
REDUCED = {"image_size": 256, "crops": 8}
#: The two settings each factor is measured at (before the reduction above): the MACO
#: reference's schedule over half its steps, and the ``fast`` preset's.
SETTINGS = {
    "reference": {"steps": 128, "crop_size": {"linear": [0.5, 0.05]}},
    "fast": {
        "steps": 64,
        "crop_size": {"linear": [0.5, 0.2]},
        "learning_rate": {"cosine": [1.0, 0.1]},
    },
}
#: Xplique's class objective is a mean over the 1000 outputs of a one-hot mask: the logit / 1000.
AUTHORS_SCALE = 1.0 / 1000.0
#: xmaco's formulation choices, each switched alone and in the combinations that matter;
#: keywords of :func:`xmaco.maco` plus ``objective_scale``. ``spectrum="xplique"`` is the
#: ImageNet magnitude file that the installed Xplique package ships (xmaco's default is its
#: own analytic model, docs/spectrum.md).
FACTORS: dict[str, dict[str, Any]] = {
    "xmaco": {},
    "phase standardised": {"phase": "standardised"},
    "objective / 1000": {"objective_scale": AUTHORS_SCALE},
    "crop padding": {"crop_padding": True},
    "Xplique's magnitude spectrum": {"spectrum": "xplique"},
    "phase standardised + objective / 1000": {
        "phase": "standardised",
        "objective_scale": AUTHORS_SCALE,
    },
    "the authors' formulation (all three)": {
        "phase": "standardised",
        "objective_scale": AUTHORS_SCALE,
        "crop_padding": True,
    },
}
#: xmaco's analytic magnitude before its zero frequency was calibrated (its mean colours
#: fitted to eight photos; scales and roll-off calibrated without it). The section's xmaco
#: MACO runs were made with it and rebuild it from these constants, so that they keep their
#: meaning; section 6 measures what the calibration changed.
PHOTOS_MAGNITUDE = {
    "scale": [0.076302, 0.056144, 0.067548],
    "rolloff": 0.1747,
    "rolloff_order": 2.2414,
    "dc": [0.4204, 1.0955, 0.3909],
}
#: Baselines, run at each setting's steps.
BASELINES = ("xplique maco", "xplique fourier", "xmaco fourier", "xmaco pixel")
BASELINE = "xmaco"


def plan(smoke: bool) -> list[dict[str, Any]]:
    """Every run of the section, the most telling first (an interrupted section has them)."""
    runs = []
    for setting in SETTINGS:
        for name, factor in FACTORS.items():
            magnitude = {} if "spectrum" in factor else {"spectrum_model": PHOTOS_MAGNITUDE}
            runs.append(
                {"setting": setting, "name": name, "contender": "xmaco", **factor, **magnitude}
            )
        for name in BASELINES:
            runs.append({"setting": setting, "name": name, "contender": name})
    order = {"xmaco": 0, "the authors' formulation (all three)": 1, "xplique maco": 2}
    runs.sort(key=lambda run: (order.get(run["name"], 3), run["setting"] != "reference"))
    for run in runs:
        run.update(SETTINGS[run["setting"]], **REDUCED)
        if smoke:
            run.update(steps=2, crops=2, image_size=64)
    return runs


def key(task: dict[str, Any]) -> str:
    text = json.dumps(task, sort_keys=True)
    return f"{task['setting']}-{hashlib.sha1(text.encode()).hexdigest()[:10]}"


def run_section(
    smoke: bool,
    model: str,
    cache: Path,
    run_worker: Callable[[dict[str, Any]], dict[str, Any]],
    log: Callable[[str], None],
    runs: list[dict[str, Any]] | None = None,
    chunk: int | None = None,
    seeds: tuple[int, ...] = SEEDS,
) -> dict[str, Any]:
    """Run (or read from ``cache``) every run of ``runs`` (default: :func:`plan`'s) for each of
    ``seeds`` (the first alone in a smoke run), on the section's classes (two of them in a smoke
    run); ``chunk``: see :func:`run_cached`."""
    classes = [1, 2] if model == "tiny" else list(CLASSES[:2] if smoke else CLASSES)
    seeds = list(seeds[:1] if smoke else seeds)
    runs = plan(smoke) if runs is None else runs
    return run_cached(runs, classes, seeds, model, cache, run_worker, log, chunk)


def run_cached(
    runs: list[dict[str, Any]],
    classes: list[int],
    seeds: list[int],
    model: str,
    cache: Path,
    run_worker: Callable[[dict[str, Any]], dict[str, Any]],
    log: Callable[[str], None],
    chunk: int | None = None,
) -> dict[str, Any]:
    """Run (or read from ``cache``) each of ``runs`` for every seed, one worker each, or one
    worker per ``chunk`` classes (an interrupted long run then loses one chunk at most); a
    run cached whole is read whole."""
    cache.mkdir(parents=True, exist_ok=True)
    answers = []
    # stage by stage, seed by seed, then chunk by chunk across the runs: an interrupted
    # section has every run of its first stage and seed, and the runs of an unfinished seed
    # have the same classes; a run's "seeds" limits it to some of them
    work = []
    for seed in seeds:
        for n, spec in enumerate(runs):
            if seed not in spec.get("seeds", seeds):
                continue
            run = {k: v for k, v in spec.items() if k not in ("stage", "seeds")}
            task = {"kind": "ablation", "model": model, "classes": classes, "seed": seed, **run}
            parts = [task]
            if chunk is not None and not (cache / f"{key(task)}.json").exists():
                parts = [
                    {**task, "classes": classes[i : i + chunk]}
                    for i in range(0, len(classes), chunk)
                ]
            work += [(spec.get("stage", 0), seed, c, n, part) for c, part in enumerate(parts)]
    for *_, part in sorted(work, key=lambda item: item[:4]):
        path = cache / f"{key(part)}.json"
        if path.exists():
            answer = json.loads(path.read_text())
        else:
            log(
                f"{cache.name}: {part['setting']}, {part['name']}, seed {part['seed']}, "
                f"classes {', '.join(map(str, part['classes']))}"
            )
            answer = run_worker(part)
            if "error" in answer:
                log(f"  failed: {answer['error']}")
                continue
            answer = {"task": part, **answer}
            path.write_text(json.dumps(answer, indent=1))
        answers.append(answer)
    return {"classes": classes, "seeds": seeds, "runs": answers}


def complete_runs(data: dict[str, Any]) -> int:
    """How many (setting, run, seed) of ``data`` have pictures of every class (a run cached in
    chunks counts once all its chunks are there)."""
    covered: dict[tuple[str, str, int], set[int]] = {}
    for answer in data["runs"]:
        task = answer["task"]
        run = (task["setting"], task["name"], task["seed"])
        covered.setdefault(run, set()).update(task["classes"])
    return sum(set(data["classes"]) <= classes for classes in covered.values())


def from_cache(cache: Path, planned: int | None = None) -> dict[str, Any] | None:
    """The section as far as its cached answers go (a section still running, or stopped);
    ``planned``: how many runs the whole section has (default: the ablation's)."""
    answers = [json.loads(path.read_text()) for path in sorted(cache.glob("*.json"))]
    answers = [a for a in answers if a.get("task", {}).get("kind") == "ablation"]
    if not answers:
        return None
    # every class the answers name, in the order of the largest answer (chunks add theirs)
    classes: list[int] = []
    for answer in sorted(answers, key=lambda a: -len(a["task"]["classes"])):
        classes += [c for c in answer["task"]["classes"] if c not in classes]
    seeds = sorted({a["task"]["seed"] for a in answers})
    if planned is None:
        planned = len(plan(smoke=False)) * len(SEEDS)
    return {"classes": classes, "seeds": seeds, "runs": answers, "planned": planned}


# ------------------------------------------------------------------------ in the worker
def worker(task: dict[str, Any], build_model: Callable[[str], Any]) -> dict[str, Any]:
    """Make the pictures of one run and seed, then judge them."""
    from xmaco.evaluate import transfer

    model = build_model(task["model"])
    layer = "logits"
    classes = [int(c) for c in task["classes"]]
    started = time.perf_counter()
    images = _pictures(task, model, layer, classes)
    seconds = time.perf_counter() - started
    # the maker judges itself too (self-recognition); smoke runs on the tiny model: only itself
    judges = [model] if task["model"] == "tiny" else [model, *JUDGES]
    found = transfer(images, classes, judges=judges, values_range=model.xmaco_values_range)
    return {
        "self_judge": found.judges[0],
        "seconds": seconds,
        "model_evaluations": int(task["steps"]) * int(task["crops"]) * len(classes),
        "judgements": [
            {
                "picture": j.picture,
                "judge": j.judge,
                "class": j.target,
                "probability": j.probability,
                "top1": j.top1,
                "top5": j.top5,
                "crop_top1": j.crop_top1,
            }
            for j in found.judgements
        ],
    }


def _pictures(task: dict[str, Any], model: Any, layer: str, classes: list[int]) -> np.ndarray:
    import xmaco

    steps, crops, side = int(task["steps"]), int(task["crops"]), int(task["image_size"])
    seed, contender = int(task["seed"]), task["contender"]
    if contender.startswith("xplique"):
        return _xplique(task, model, layer, classes)
    if contender == "xmaco preset":
        # what a user gets: maco() with a preset, or with nothing at all (preset None)
        preset = {"preset": task["preset"]} if task.get("preset") else {}
        objective = xmaco.Objective.neuron(model, layer, classes)
        if "objective_scale" in task:
            objective = objective * float(task["objective_scale"])
        # the user's keywords of the run, then a smoke run's tiny sizes
        keywords = {**task.get("keywords", {}), **task.get("override", {})}
        for name in ("crop_size", "learning_rate"):
            if name in task:  # a schedule over the run's steps, as a user would build it
                keywords[name] = _schedule(task[name], int(keywords.get("steps", steps)))
        spectrum = _spectrum(task, int(keywords.get("image_size", side)))
        if spectrum is not None:
            keywords["spectrum"] = spectrum
        return xmaco.maco(objective, seed=seed, verbose=False, **preset, **keywords).images
    keywords: dict[str, Any] = {"steps": steps, "crops": crops, "image_size": side, "seed": seed}
    for name in ("crop_size", "learning_rate"):
        if name in task and (contender == "xmaco" or name == "crop_size"):
            keywords[name] = _schedule(task[name], steps)
    objective = xmaco.Objective.neuron(model, layer, classes)
    if contender == "xmaco":
        objective = objective * float(task.get("objective_scale", 1.0))
        # every factor is measured against the formulation named BASELINE: uniform phase
        keywords["phase"] = task.get("phase", "uniform")
        if "crop_padding" in task:
            keywords["crop_padding"] = task["crop_padding"]
        spectrum = _spectrum(task, side)
        if spectrum is not None:
            keywords["spectrum"] = spectrum
        method = xmaco.maco
    else:
        method = xmaco.fourier if contender == "xmaco fourier" else xmaco.pixel
    return method(objective, verbose=False, **keywords).images


def _schedule(spec: dict[str, list[float]], steps: int) -> Any:
    """``{"linear": [start, end]}`` (any :mod:`xmaco.schedules` constructor) over ``steps``."""
    from xmaco import schedules

    (kind, (start, end)), *_ = spec.items()
    return getattr(schedules, kind)(start, end, steps)


def _spectrum(task: dict[str, Any], side: int) -> Any:
    """The magnitude a task names: Xplique's file, xmaco's model with other constants (a
    former or a candidate default), or None for xmaco's default."""
    if task.get("spectrum") == "xplique":
        return _xplique_spectrum()
    if "spectrum_model" in task:
        return _natural_with(task["spectrum_model"], side)
    return None


def _natural_with(constants: dict[str, Any], side: int) -> np.ndarray:
    """xmaco's analytic magnitude with some of its constants replaced, on a square canvas."""
    from xmaco.spectrum import _natural as model

    names = ("SCALE", "EXPONENT", "OFFSET", "AXIS_GAIN", "ROLLOFF", "ROLLOFF_ORDER", "DC")
    values = {name.lower(): getattr(model, f"_{name}") for name in names}
    values.update(constants)
    values = {k: np.asarray(v, np.float64) if np.ndim(v) else float(v) for k, v in values.items()}
    return model.analytic_model(side, side, **values).astype(np.float32)


def _xplique_spectrum() -> Path:
    import xplique.features_visualizations as package

    return Path(package.__file__).parent / "spectrum_decorrelated.npy"


def _xplique(task: dict[str, Any], model: Any, layer: str, classes: list[int]) -> np.ndarray:
    import tensorflow as tf
    from xplique.features_visualizations import Objective, maco, optimize

    steps, side, seed = int(task["steps"]), int(task["image_size"]), int(task["seed"])
    pictures = []
    for offset, target in enumerate(classes):
        tf.random.set_seed(seed * 1000 + offset)
        np.random.seed(seed * 1000 + offset)  # noqa: NPY002 (Xplique draws its phase from it)
        objective = Objective.neuron(model, layer, target)
        if task["contender"] == "xplique maco":
            picture, _ = maco(
                objective,
                nb_steps=steps,
                nb_crops=int(task["crops"]),
                values_range=tuple(model.xmaco_values_range),
                custom_shape=(side, side),
            )
        else:
            found, _ = optimize(
                objective,
                nb_steps=steps,
                values_range=tuple(model.xmaco_values_range),
                custom_shape=(side, side),
            )
            picture = found[-1][0]
        pictures.append(np.asarray(picture, np.float32))
    return np.stack(pictures)


# ------------------------------------------------------------------------------ the page
def _table(answers: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (setting, run name): per judge and measure, the value of each (seed, class)."""
    table: dict[tuple[str, str], dict[str, Any]] = {}
    for answer in answers:
        task = answer["task"]
        entry = table.setdefault(
            (task["setting"], task["name"]),
            {"values": {}, "seconds": [], "evaluations": 0, "seeds": set()},
        )
        entry["seeds"].add(task["seed"])
        entry["seconds"].append(answer["seconds"] / len(task["classes"]))
        entry["evaluations"] = answer["model_evaluations"] // len(task["classes"])
        for j in answer["judgements"]:
            for measure in ("probability", "top1", "crop_top1"):
                cell = entry["values"].setdefault((j["judge"], measure), {})
                cell[(task["seed"], j["class"])] = float(j[measure])
    return table


def _by_setting(table: dict[tuple[str, str], Any]) -> list[tuple[tuple[str, str], Any]]:
    """The rows setting by setting, each in the order of the plan."""
    settings, names = list(SETTINGS), [*FACTORS, *BASELINES]
    return sorted(
        table.items(), key=lambda item: (settings.index(item[0][0]), names.index(item[0][1]))
    )


def score_cells(entry: dict[str, Any], judges: list[str], self_judge: str) -> list[str]:
    """A table row's measured cells: evaluations, seconds a picture, each judge's mean
    probability and crop top-1 rate, and the maker's own probability."""
    values = entry["values"]
    cells = [str(entry["evaluations"]), f"{np.median(entry['seconds']):.0f}"]
    cells += [f"{_mean(values.get((j, 'probability'), {})):.3f}" for j in judges]
    cells += [f"{_mean(values.get((j, 'crop_top1'), {})):.2f}" for j in judges]
    return [*cells, f"{_mean(values.get((self_judge, 'probability'), {})):.3f}"]


def partial_note(data: dict[str, Any], runs: str, section: str) -> list[str]:
    """The page's lines saying how much of an unfinished section is done."""
    return [
        f"**Partial**: {complete_runs(data)} of the {data['planned']} runs ({runs}) are done; "
        "the column *seeds* says which each row has. The section resumes where it stopped: "
        f"`python bench/run.py --sections {section}`.",
        "",
    ]


def table_header(columns: list[str], judges: list[str]) -> list[str]:
    """A results table's header: ``columns``, then :func:`score_cells`' columns."""
    header = [*columns, *(f"{j} p" for j in judges), *(f"{j} crops top-1" for j in judges)]
    header.append("self p")
    return ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]


def _mean(cell: dict[Any, float]) -> float:
    return float(np.mean(list(cell.values()))) if cell else float("nan")


def section_lines(data: dict[str, Any]) -> list[str]:
    """The page's section: every run's scores, then each factor's effect with its spread."""
    table = _table(data["runs"])
    self_judge = data["runs"][0]["self_judge"] if data["runs"] else ""
    seen = [j for (j, _) in next(iter(table.values()), {"values": {}})["values"]]
    judges = list(dict.fromkeys(j for j in seen if j != self_judge)) or [self_judge]
    lines = [
        "## 5. Why the defaults are what they are",
        "",
        f"Pictures made on EfficientNet-Lite0 for {len(data['classes'])} classes "
        f"({', '.join(map(str, data['classes']))}) x {len(data['seeds'])} seeds, at a reduced "
        f"setting: canvas {REDUCED['image_size']} x {REDUCED['image_size']}, "
        f"{REDUCED['crops']} crops a step; *reference* = {SETTINGS['reference']['steps']} "
        "steps, crop side 0.5 -> 0.05, constant learning rate 1.0; *fast* = "
        f"{SETTINGS['fast']['steps']} steps, crop side 0.5 -> 0.2, learning rate cosine "
        "1.0 -> 0.1 (xmaco only; Xplique keeps its own). Judged by "
        f"{', '.join(judges)} (`xmaco.evaluate.transfer`: probability of the class on the "
        "central half, and top-1 rate over 32 random crops of 25-50% of the side); *self* is "
        "Lite0's own probability on the central half. Means over classes and seeds. The row "
        "*xmaco* is the formulation every factor is switched from: uniform phase, crops inside "
        "the canvas, the raw logit, xmaco's analytic magnitude. Both presets now use the "
        "standardised phase (rows *phase standardised*). xmaco's MACO rows use its magnitude "
        "as it was before its zero frequency was calibrated (rebuilt from the former "
        "constants); section 6 measures that change at full size.",
        "",
    ]
    if "planned" in data:
        lines += partial_note(data, "setting x run x seed", "ablation")
    lines += table_header(["setting", "run", "seeds", "evaluations", "s / picture"], judges)
    for (setting, name), entry in _by_setting(table):
        cells = [setting, name, ", ".join(map(str, sorted(entry["seeds"])))]
        cells += score_cells(entry, judges, self_judge)
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *_effects(table, judges)]
    return lines


def _effects(table: dict[tuple[str, str], dict[str, Any]], judges: list[str]) -> list[str]:
    """Each run against xmaco at the same setting, picture by picture: the change of the
    judges' mean probability and crop top-1 rate, median and interquartile range over pictures."""
    lines = [
        "Each run against xmaco's default formulation at the same setting, picture by picture "
        "(the same class and seed): the change in the judges' mean probability on the central "
        "half and in their mean crop top-1 rate; median (interquartile range) over the pictures, "
        "and how many pictures got better.",
        "",
        "| setting | run | probability change | crop top-1 change | pictures better |",
        "|---|---|---|---|---|",
    ]
    for (setting, name), entry in _by_setting(table):
        base = table.get((setting, BASELINE))
        if name == BASELINE or base is None:
            continue
        deltas = {}
        for measure in ("probability", "crop_top1"):
            deltas[measure] = _per_picture(entry, base, judges, measure)
        change = deltas["probability"]
        if change.size == 0:
            continue
        lines.append(
            f"| {setting} | {name} | {_spread(change)} | {_spread(deltas['crop_top1'])} | "
            f"{int((change > 0).sum())} of {change.size} |"
        )
    return [*lines, ""]


def _per_picture(entry, base, judges, measure) -> np.ndarray:
    pictures = None
    for j in judges:
        here = set(entry["values"].get((j, measure), {}))
        there = set(base["values"].get((j, measure), {}))
        pictures = (here & there) if pictures is None else pictures & here & there
    pictures = sorted(pictures or [])

    def mean_over_judges(values, picture):
        return np.mean([values[(j, measure)][picture] for j in judges])

    return np.asarray(
        [
            mean_over_judges(entry["values"], p) - mean_over_judges(base["values"], p)
            for p in pictures
        ]
    )


def _spread(values: np.ndarray) -> str:
    low, mid, high = (round(float(v), 3) + 0.0 for v in np.percentile(values, [25, 50, 75]))
    return f"{mid:+.3f} ({low:+.3f} to {high:+.3f})"  # + 0.0: no "-0.000"
