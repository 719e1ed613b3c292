"""Make the pictures and the numbers of docs/concepts.md: one class, end to end, real photos.

The class is ImageNet 281 "tabby", the photos are crops of scikit-image's ``chelsea`` (a tabby
cat), the model is ``xmaco.zoo.efficientnet_lite0()`` (embedded weights, offline). Each stage
is saved in a work folder as it finishes, so an interrupted script resumes where it stopped;
the numbers are printed and written to ``WORK/numbers.json``.

Usage::

    python docs/scripts/make_concepts_figures.py                 # docs/images/concepts_*.png
    python docs/scripts/make_concepts_figures.py --steps 4       # a quick, rough run

Pictures (each under 200 KB):

- ``concepts_chelsea.png``: the concepts of "tabby" from 24 photos, by Sobol importance:
  each one's MACO picture, its 6 best crops and its importance bar;
- ``concepts_refined.png``: the first concept split at ``block6a_expand_activation``;
- ``concepts_attribution.png``: where each concept lies on the whole photo.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_figures import IMAGES, save  # noqa: E402

CLASS = 281  # tabby
LAYER = "head_activation"
EARLIER = "block6a_expand_activation"
RANK = 5
COUNTS = (6, 12, 24)
SEEDS = range(5)
DISCOVERY = {"rank": RANK, "crops": 16, "crop_size": (0.25, 0.5), "top": 6, "seed": 0}


def photos(count: int, seed: int = 0) -> np.ndarray:
    """``count`` random crops of chelsea (60 % to 95 % of its height), at 448 x 448, in the
    model's range (-1, 1); the first is the whole photo's centre square."""
    import cv2
    from skimage import data

    cat = data.chelsea().astype(np.float32) / 127.5 - 1.0
    height, width = cat.shape[:2]
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        side = height if i == 0 else int(rng.uniform(0.6, 0.95) * height)
        top = (height - side) // 2 if i == 0 else int(rng.integers(0, height - side + 1))
        left = (width - side) // 2 if i == 0 else int(rng.integers(0, width - side + 1))
        crop = cat[top : top + side, left : left + side]
        out.append(cv2.resize(crop, (448, 448), interpolation=cv2.INTER_AREA))
    return np.stack(out)


def cached(work: Path, name: str, compute):
    """``compute()``, kept in ``work/name.pkl`` with its time; (value, seconds)."""
    path = work / f"{name}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    start = time.perf_counter()
    value = compute()
    entry = (value, time.perf_counter() - start)
    path.write_bytes(pickle.dumps(entry))
    print(f"{name}: {entry[1]:.1f} s", flush=True)
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=48)
    parser.add_argument("--work", default="/tmp/xmaco-concepts-figures")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)

    import xmaco
    from xmaco import concepts

    model = xmaco.zoo.efficientnet_lite0()
    maco = {"steps": args.steps, "crops": 4, "image_size": 160, "seed": 0, "verbose": False}
    numbers: dict = {"maco": maco, "discovery": {**DISCOVERY, "layer": LAYER}}
    banks, timings = discover_banks(model, work)
    numbers.update(timings)
    numbers["concepts"] = compare(banks)
    numbers["sobol_spread_12_photos"] = sobol_spread(model, banks[12], work)

    bank = banks[24]
    (result, sub, sub_result), timings = concept_pictures(model, bank, maco, work)
    numbers.update(timings)
    whole = photos(1)
    maps, seconds = cached(
        work, "attribution", lambda: concepts.attribution_maps(bank, model, whole)
    )
    numbers["attribution_s"] = round(seconds, 1)
    numbers["per_class_s"] = round(
        numbers["discover_24_s"] + numbers["visualize_s"] + numbers["attribution_s"], 1
    )
    numbers["bank_24"] = describe(bank)
    numbers["refined"] = describe(sub)

    save(
        concept_rows(bank, result, "Concepts of 'tabby' (24 photos)"),
        IMAGES / "concepts_chelsea.png",
    )
    save(
        concept_rows(sub, sub_result, f"Concept 1 split at {EARLIER}"),
        IMAGES / "concepts_refined.png",
    )
    save(concepts.plot_attributions(bank, whole[0], maps[0]), IMAGES / "concepts_attribution.png")
    (work / "numbers.json").write_text(json.dumps(numbers, indent=1))
    print(json.dumps(numbers, indent=1))


def discover_banks(model, work: Path) -> tuple[dict, dict]:
    """The concept bank of each photo count in COUNTS, and the seconds each took."""
    from xmaco import concepts

    banks, timings = {}, {}
    for count in COUNTS:
        banks[count], seconds = cached(
            work,
            f"bank_{count}",
            lambda count=count: concepts.discover(model, LAYER, photos(count), CLASS, **DISCOVERY),
        )
        timings[f"discover_{count}_s"] = round(seconds, 1)
    return banks, timings


def sobol_spread(model, bank, work: Path) -> dict:
    """How much the Sobol indices of ``bank``'s concepts (on 12 photos) move over the seeds, at
    16, 32 and 64 designs, beside the error they state."""
    from xmaco import concepts

    images = photos(12)
    spread = {}
    for designs in (16, 32, 64):
        runs = [
            cached(
                work,
                f"sobol_{designs}_{seed}",
                lambda designs=designs, seed=seed: concepts.sobol_importance(
                    model, LAYER, images, bank.vectors, CLASS, designs=designs, seed=seed
                ),
            )[0]
            for seed in SEEDS
        ]
        indices = np.stack([run.indices for run in runs])
        spread[designs] = {
            "mean": indices.mean(axis=0).round(3).tolist(),
            "std_over_seeds": indices.std(axis=0).round(3).tolist(),
            "stated_error": np.mean([run.error for run in runs], axis=0).round(3).tolist(),
            "same_order_as_seed_0": int(
                sum(np.array_equal(np.argsort(-i), np.argsort(-indices[0])) for i in indices)
            ),
        }
    return spread


def concept_pictures(model, bank, maco: dict, work: Path) -> tuple[tuple, dict]:
    """The MACO pictures of ``bank``'s concepts, its first concept refined at EARLIER and the
    pictures of the sub-concepts; and the seconds each took."""
    from xmaco import concepts

    result, seconds = cached(
        work, "pictures", lambda: concepts.visualize_concepts(bank, model, **maco)
    )
    timings = {"visualize_s": round(seconds, 1)}
    sub, seconds = cached(
        work,
        "refined",
        lambda: concepts.refine(
            bank, 0, model, EARLIER, photos(24), rank=3, regions=24, crops=8, designs=16
        ),
    )
    timings["refine_s"] = round(seconds, 1)
    sub_result, seconds = cached(
        work, "refined_pictures", lambda: concepts.visualize_concepts(sub, model, **maco)
    )
    timings["visualize_refined_s"] = round(seconds, 1)
    return (result, sub, sub_result), timings


def describe(bank) -> dict:
    return {
        "importance": np.round(bank.importance, 3).tolist(),
        "error": np.round(bank.importance_error, 3).tolist(),
        "settings": bank.importance_settings,
        "nmf_error": round(bank.error, 3),
    }


def compare(banks: dict) -> dict:
    """For each count, its importances and, for each of its concepts, the best cosine with a
    concept of the 24-photo bank (and which one)."""
    reference = banks[COUNTS[-1]].vectors
    out = {}
    for count, bank in banks.items():
        cosine = bank.vectors @ reference.T
        out[count] = {
            "importance": np.round(bank.importance, 3).tolist(),
            "error": np.round(bank.importance_error, 3).tolist(),
            "best_match_in_24": (cosine.argmax(axis=1) + 1).tolist(),
            "cosine": cosine.max(axis=1).round(2).tolist(),
            "nmf_error": round(bank.error, 3),
        }
    return out


def concept_rows(bank, result, title: str):
    """One row per concept: its MACO picture, its best crops, and its importance bar."""
    import matplotlib.pyplot as plt

    from xmaco.plot import normalize_image

    crops = bank.top_crops.shape[1]
    figure, axes = plt.subplots(
        len(bank),
        crops + 2,
        figsize=(1.3 * (crops + 2.6), 1.35 * len(bank) + 0.4),
        gridspec_kw={"width_ratios": [1.3] + [1] * crops + [1.6]},
        squeeze=False,
    )
    low, high = bank.values_range
    top = float(max(bank.importance.max(), 1e-9))
    for k in range(len(bank)):
        row = axes[k]
        row[0].imshow(normalize_image(result.images[k]))
        row[0].set_title(f"concept {bank.labels[k]}", fontsize=8)
        for j in range(crops):
            row[j + 1].imshow(np.clip((bank.top_crops[k, j] - low) / (high - low), 0, 1))
        bar = row[-1]
        bar.barh([0], [bank.importance[k]], xerr=[bank.importance_error[k]], color="#4a7bb7")
        bar.set_xlim(0, top * 1.3)
        bar.set_ylim(-1, 1)
        bar.set_title(f"{bank.importance[k]:.2f} ± {bank.importance_error[k]:.2f}", fontsize=8)
        for ax in row[:-1]:
            ax.axis("off")
        bar.set_yticks([])
        bar.tick_params(labelsize=6)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    return figure


if __name__ == "__main__":
    main()
