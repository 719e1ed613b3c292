"""Make the MACO paper's Figure 1 for docs/benchmarks.md: pixel, Fourier and MACO pictures of the
same classes, made with the same budget on EfficientNet-Lite2 (the deepest classifier xmaco
ships), judged by networks that did not make them.

Every run is saved in a work folder as it finishes, so an interrupted script resumes where it
stopped. It needs the judges' weights (fetched once, see docs/zoo.md).

Usage::

    python docs/scripts/make_figure1.py                # runs, then docs/images/figure1.png
    python docs/scripts/make_figure1.py --steps 2      # a quick, rough run (checks only)

Setting (``SETTINGS``): the library's default preset (``fast``: crop side 0.5 -> 0.2, learning
rate decaying from the parameterization's own along a half-cosine to a tenth of it; MACO's
phase standardised) over 128 steps of 8 crops on a 256 canvas, the reduction of the
benchmarks' ablation, the same for each of the three parameterizations. Judges:
EfficientNet-Lite0, EfficientNet-Lite1 and MobileNet v1 0.25, through
:func:`xmaco.evaluate.transfer`. Prints the transfer table in Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_figures import IMAGES, cell, save  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = {"preset": "fast", "steps": 128, "crops": 8, "image_size": 256, "seed": 0}
#: goldfish, hummingbird, flamingo, starfish, strawberry, volcano (the benchmarks' six)
CLASSES = (1, 94, 130, 327, 949, 980)
METHODS = ("pixel", "fourier", "maco")
TITLES = {"pixel": "pixel", "fourier": "Fourier (Olah et al.)", "maco": "MACO"}
JUDGES = ("efficientnet_lite0", "lite1", "mobilenet")


def make(method: str, model, settings: dict):
    """The pictures of ``method`` for every class, in one batched run."""
    import xmaco

    objective = xmaco.Objective.neuron(model, "logits", list(CLASSES))
    return getattr(xmaco, method)(objective, verbose=False, **settings)


def pictures(model, work: Path, settings: dict) -> tuple[dict, dict]:
    """Each method's result, loaded from ``work`` or made there, with its wall time."""
    import xmaco

    work.mkdir(parents=True, exist_ok=True)
    times_file = work / "times.json"
    times = json.loads(times_file.read_text()) if times_file.exists() else {}
    results = {}
    for method in METHODS:
        path = work / method
        if (work / f"{method}.json").exists():
            results[method] = xmaco.Result.load(path)
            continue
        start = time.perf_counter()
        results[method] = make(method, model, settings)
        times[method] = round(time.perf_counter() - start, 1)
        results[method].save(path)
        times_file.write_text(json.dumps(times, indent=1))
        print(f"{method}: {times[method]:.0f} s", flush=True)
    return results, times


def judged(results: dict, work: Path) -> dict:
    """Per method, :func:`xmaco.evaluate.transfer`'s summary and, per judge, each picture's
    class probability; cached in ``work``."""
    from xmaco.evaluate import transfer

    path = work / "transfer-pictures.json"
    found = json.loads(path.read_text()) if path.exists() else {}
    for method, result in results.items():
        if method not in found:
            seen = transfer(result, list(CLASSES), judges=list(JUDGES))
            found[method] = {
                "summary": seen.summary(),
                "probability": {j: [x.probability for x in seen.of(j)] for j in seen.judges},
            }
            path.write_text(json.dumps(found, indent=1))
    return found


def head_to_head(found: dict, ours: str = "maco", theirs: str = "fourier") -> str:
    """Per judge, on how many classes ``ours`` got the higher class probability."""
    wins = []
    for judge, mine in found[ours]["probability"].items():
        other = found[theirs]["probability"][judge]
        better = sum(a > b for a, b in zip(mine, other, strict=True))
        wins.append(f"{judge} {better} of {len(mine)}")
    return f"classes where {TITLES[ours]} is more probable than {TITLES[theirs]}: " + ", ".join(
        wins
    )


def table(found: dict) -> str:
    judges = list(next(iter(found.values()))["summary"])
    header = ["method"] + [f"{j} p" for j in judges] + [f"{j} crops top-1" for j in judges]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for method, judged_method in found.items():
        summary = judged_method["summary"]
        cells = [TITLES[method]]
        cells += [f"{summary[j]['probability']:.3f}" for j in judges]
        cells += [f"{summary[j]['crop_top1']:.2f}" for j in judges]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def figure(results: dict, out: Path) -> None:
    import matplotlib.pyplot as plt

    import xmaco

    names = xmaco.zoo.imagenet_classes()
    fig, axes = plt.subplots(len(CLASSES), len(METHODS), figsize=(2.0 * len(METHODS), 2.0 * 6))
    for col, method in enumerate(METHODS):
        for row, target in enumerate(CLASSES):
            cell(
                axes[row, col],
                results[method].images[row],
                title=(TITLES[method], 9) if row == 0 else None,
                label=(f"{names[target]} ({target})", 8) if col == 0 else None,
            )
    fig.tight_layout()
    save(fig, out / "figure1.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=SETTINGS["steps"])
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "figure1")
    parser.add_argument("--out", type=Path, default=IMAGES, help="folder of the picture")
    args = parser.parse_args()
    import xmaco

    model = xmaco.zoo.efficientnet_lite2()
    settings = {**SETTINGS, "steps": args.steps}
    work = args.work / f"{settings['preset']}-steps{args.steps}"
    results, times = pictures(model, work, settings)
    figure(results, args.out)
    found = judged(results, work)
    print(table(found))
    print(head_to_head(found))
    print(json.dumps({"settings": settings, "seconds": times}))


if __name__ == "__main__":
    main()
