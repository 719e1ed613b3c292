"""Fit the constants of ``xmaco.spectrum.natural`` to real photographs.

The default magnitude of xmaco is an analytic model (see ``xmaco/spectrum/_natural.py``). This
script measures the average magnitude of a few colour photographs with ``xmaco.spectrum.estimate``,
after bringing each photograph to the size of an average ImageNet photo (140,000 pixels, about
400 x 350) and then bilinearly to the 512 x 512 canvas, as ImageNet photos are; it then fits
the model to that average and prints the constants to paste into ``xmaco/spectrum/_natural.py``.

By default it uses the colour photographs of everyday scenes that ship with matplotlib,
scikit-image and scikit-learn (scikit-image and scikit-learn are not dependencies of xmaco:
``pip install scikit-image==0.26.0 scikit-learn==1.9.1`` to rerun with the same photos).
Other photos can be given on the command line. ``--reference`` prints, as a check only, the
per-band accuracy of the fitted model against a reference spectrum ``(3, 512, 257)``.

A handful of photos pins down the shape of the spectrum (the power laws, the extra energy on
the axes, the mean colours) but not two properties of a large photo collection: the balance of
energy between the decorrelated channels and how much the collection's resampling and JPEG
compression soften the highest octave, nor the mean colours' magnitude (the zero frequency:
eight photos' mean colours say little about a million's). ``--calibrate AVERAGE.npy`` refits
just those eight constants (the three channel scales, the roll-off frequency and its order,
the three zero-frequency magnitudes, set to the collection's share of the energy) to the
average magnitude of a photo collection, keeping everything else from the photos. The shipped
default was calibrated on the ImageNet average magnitude (3, 512, 257); nothing of that array
is shipped, only the eight numbers.

Usage::

    python tools/make_default_spectrum.py [--calibrate AVERAGE.npy] [--reference REF.npy] \
        [PHOTO ...]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

from xmaco.spectrum import estimate, resize
from xmaco.spectrum._natural import analytic_model

CANVAS = 512
# Average ImageNet photo, about 400 x 350 pixels: photos are shrunk to this many pixels first.
SOURCE_PIXELS = 140_000
# Half-octave bands for the fit, in cycles per pixel, from one cycle per canvas to Nyquist.
FIT_EDGES = 2.0 ** np.arange(-9.0, -0.99, 0.5)
# Above this frequency the photos' axes carry the step between opposite edges of the canvas,
# which the FFT sees as periodic; the axis gain is fitted below it, on the image content.
AXIS_FIT_LIMIT = 1 / 8
# Octave bands of the accuracy check: [f, 2f) for f = 1/256 .. 1/8, and [1/4, 1/2).
CHECK_BANDS = [2.0**-k for k in range(8, 1, -1)]

PHOTOS = {
    "matplotlib": ["mpl-data/sample_data/grace_hopper.jpg"],
    "skimage": [
        "data/astronaut.png",
        "data/chelsea.png",
        "data/coffee.png",
        "data/rocket.jpg",
        "data/motorcycle_left.png",
    ],
    "sklearn": ["datasets/images/china.jpg", "datasets/images/flower.jpg"],
}


def default_photos() -> list[Path]:
    """The photographs shipped with matplotlib, scikit-image and scikit-learn."""
    paths = []
    for package, names in PHOTOS.items():
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            sys.exit(f"{package} is not installed: install it or pass photos on the command line")
        root = Path(list(spec.submodule_search_locations)[0])
        paths.extend(root / name for name in names)
    return paths


def imagenet_like(paths: list[Path]) -> Iterator[np.ndarray]:
    """Yield each photo in RGB, shrunk (area interpolation) to SOURCE_PIXELS pixels."""
    for path in paths:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            sys.exit(f"cannot read {path} as an image")
        height, width = image.shape[:2]
        factor = min(1.0, np.sqrt(SOURCE_PIXELS / (height * width)))
        size = (round(width * factor), round(height * factor))
        yield cv2.resize(image, size, interpolation=cv2.INTER_AREA)[:, :, ::-1]


def frequencies(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Radial frequency (cycles per pixel) of each rfft2 bin, and whether it lies on an axis."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    return np.hypot(fx, fy), (fx == 0) | (fy == 0)


def unpack(theta: np.ndarray) -> dict:
    return {
        "scale": np.exp(theta[0:3]),
        "exponent": theta[3:6],
        "offset": float(np.exp(theta[6])),
        "axis_gain": float(np.exp(theta[7])),
        "rolloff": float(np.exp(theta[8])),
        "rolloff_order": float(np.exp(theta[9])),
    }


def fit(measured: np.ndarray) -> dict:
    """Fit the model to ``measured`` (3, CANVAS, CANVAS // 2 + 1): log band means, least squares.

    The bands are half octaves, separately off the axes (up to Nyquist) and on them (up to
    AXIS_FIT_LIMIT). The zero-frequency term is measured directly, not fitted.
    """
    frequency, on_axis = frequencies(CANVAS, CANVAS)
    band = np.digitize(frequency, FIT_EDGES) - 1
    valid = (frequency > 0) & (band >= 0) & (band < len(FIT_EDGES) - 1)
    valid &= ~on_axis | (frequency < AXIS_FIT_LIMIT)
    label = np.where(valid, band * 2 + on_axis, -1).ravel()
    keep = label >= 0
    label = label[keep]
    counts = np.bincount(label)
    used = counts > 0

    def band_means(magnitude: np.ndarray) -> np.ndarray:
        flat = magnitude.reshape(3, -1)[:, keep]
        sums = np.stack([np.bincount(label, weights=row, minlength=counts.size) for row in flat])
        return np.log(sums[:, used] / counts[used])

    target = band_means(measured.astype(np.float64))
    dc = measured[:, 0, 0].astype(np.float64) / CANVAS**2

    def loss(theta: np.ndarray) -> float:
        model = analytic_model(CANVAS, CANVAS, dc=dc, **unpack(theta))
        return float(np.sum((band_means(model) - target) ** 2))

    sixteenth = (frequency > 1 / 16 / np.sqrt(2)) & (frequency < 1 / 16 * np.sqrt(2)) & ~on_axis
    level = measured[:, sixteenth].mean(axis=1) / CANVAS / 16.0**1.2
    theta = np.concatenate([np.log(level), [1.2] * 3, np.log([1e-3, 1.5, 0.25, 2.0])])
    best = np.inf
    step = 0.3
    while True:
        theta, value = nelder_mead(loss, theta, step)
        if best - value < 1e-9:
            break
        best, step = value, 0.05
    return {**unpack(theta), "dc": dc, "loss": best}


def nelder_mead(
    function: Callable[[np.ndarray], float], start: np.ndarray, step: float, iterations=4000
) -> tuple[np.ndarray, float]:
    """Minimise ``function`` with the Nelder-Mead simplex, starting around ``start``."""
    simplex = [start] + [start + step * axis for axis in np.eye(start.size)]
    values = [function(point) for point in simplex]
    for _ in range(iterations):
        order = np.argsort(values)
        simplex = [simplex[i] for i in order]
        values = [values[i] for i in order]
        if values[-1] - values[0] < 1e-12:
            break
        centre = np.mean(simplex[:-1], axis=0)
        reflected = centre + (centre - simplex[-1])
        reflected_value = function(reflected)
        if reflected_value < values[0]:
            expanded = centre + 2.0 * (centre - simplex[-1])
            expanded_value = function(expanded)
            if expanded_value < reflected_value:
                simplex[-1], values[-1] = expanded, expanded_value
            else:
                simplex[-1], values[-1] = reflected, reflected_value
        elif reflected_value < values[-2]:
            simplex[-1], values[-1] = reflected, reflected_value
        else:
            contracted = centre + 0.5 * (simplex[-1] - centre)
            contracted_value = function(contracted)
            if contracted_value < values[-1]:
                simplex[-1], values[-1] = contracted, contracted_value
            else:
                simplex = [simplex[0]] + [simplex[0] + 0.5 * (p - simplex[0]) for p in simplex[1:]]
                values = [values[0]] + [function(point) for point in simplex[1:]]
    return simplex[0], values[0]


def calibrate(constants: dict, average: np.ndarray) -> dict:
    """Refit the channel scales, the roll-off and the zero frequency to ``average``
    (3, CANVAS, CANVAS // 2 + 1).

    The loss is the squared log error of the energy-normalised octave band means
    (CHECK_BANDS), the accuracy measure of the tests; each candidate's zero frequency is set
    to carry the average's share of the energy (:func:`dc_ratio`), since it is part of that
    normalisation. The other constants stay as fitted to the photos.
    """
    fixed = {
        k: v
        for k, v in constants.items()
        if k not in ("loss", "scale", "rolloff", "rolloff_order", "dc")
    }
    target = dc_ratio(average)

    def calibrated(theta: np.ndarray) -> dict:
        scale = np.exp(theta[:3])
        rolloff, rolloff_order = float(np.exp(theta[3])), float(np.exp(theta[4]))
        shape = {"scale": scale, "rolloff": rolloff, "rolloff_order": rolloff_order}
        # with DC c the ratio is c * CANVAS**2 / sqrt(other energy): solve for c
        other = analytic_model(CANVAS, CANVAS, **shape, **fixed, dc=np.zeros(3))
        dc = target * np.sqrt(np.sum(other.astype(np.float64) ** 2)) / CANVAS**2
        return {**shape, "dc": dc}

    def loss(theta: np.ndarray) -> float:
        candidate = analytic_model(CANVAS, CANVAS, **calibrated(theta), **fixed)
        return float(np.sum(np.log1p(band_errors(candidate, average)) ** 2))

    start = np.log([*constants["scale"], constants["rolloff"], constants["rolloff_order"]])
    theta, value = nelder_mead(loss, start, 0.1)
    return {**constants, **calibrated(theta), "loss": value}


def dc_ratio(magnitude: np.ndarray) -> np.ndarray:
    """Each channel's zero-frequency magnitude over the root of all the other energy: what
    sets the mean colours' share of a standardised image."""
    energy = magnitude.astype(np.float64) ** 2
    other = energy.sum() - energy[:, 0, 0].sum()
    return magnitude[:, 0, 0].astype(np.float64) / np.sqrt(other)


def band_errors(candidate: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Relative error per channel and CHECK_BANDS band of the energy-normalised band means."""
    frequency, _ = frequencies(candidate.shape[1], 2 * (candidate.shape[2] - 1))
    rows = []
    for array in (candidate, reference):
        normalised = array.astype(np.float64) / np.sqrt(np.sum(array.astype(np.float64) ** 2))
        rows.append(
            [
                [channel[(frequency >= low) & (frequency < 2 * low)].mean() for low in CHECK_BANDS]
                for channel in normalised
            ]
        )
    return np.array(rows[0]) / np.array(rows[1]) - 1.0


def table(errors: np.ndarray) -> str:
    header = "| channel | " + " | ".join(
        f"[1/{round(1 / b)}, 1/{round(0.5 / b)})" for b in CHECK_BANDS
    )
    lines = [header + " |", "|---" * (len(CHECK_BANDS) + 1) + "|"]
    for index, row in enumerate(errors):
        lines.append(f"| {index} | " + " | ".join(f"{100 * e:+.0f}%" for e in row) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="*", type=Path, help="photos (default: see module doc)")
    parser.add_argument("--reference", type=Path, help="reference (3, 512, 257), checked only")
    parser.add_argument(
        "--calibrate", type=Path, help="average magnitude (3, 512, 257) to calibrate on"
    )
    arguments = parser.parse_args()
    photos = arguments.photos or default_photos()
    for path in photos:
        print(f"photo: {path}")
    measured = estimate(imagenet_like(photos), CANVAS, CANVAS)
    constants = fit(measured)
    print(f"fit loss (sum of squared log band errors): {constants['loss']:.4f}")
    if arguments.calibrate:
        average = np.load(arguments.calibrate, allow_pickle=False)
        constants = calibrate(constants, resize(average, CANVAS, CANVAS))
        print(f"calibrated on {arguments.calibrate}: loss {constants['loss']:.4f}")
    print(f"_SCALE = ({', '.join(f'{v:.5g}' for v in constants['scale'])})")
    print(f"_EXPONENT = ({', '.join(f'{v:.4f}' for v in constants['exponent'])})")
    print(f"_OFFSET = {constants['offset']:.4g}")
    print(f"_AXIS_GAIN = {constants['axis_gain']:.4f}")
    print(f"_ROLLOFF = {constants['rolloff']:.4f}")
    print(f"_ROLLOFF_ORDER = {constants['rolloff_order']:.4f}")
    print(f"_DC = ({', '.join(f'{v:.4f}' for v in constants['dc'])})")
    model = analytic_model(CANVAS, CANVAS, **{k: v for k, v in constants.items() if k != "loss"})
    print("\nFitted model against the photos (energy-normalised band means):")
    print(table(band_errors(model, measured)))
    if arguments.reference:
        reference = np.load(arguments.reference, allow_pickle=False)
        for size in (512, 224):
            candidate = analytic_model(
                size, size, **{k: v for k, v in constants.items() if k != "loss"}
            )
            print(f"\nFitted model against the reference at {size} x {size}:")
            print(table(band_errors(candidate, resize(reference, size, size))))


if __name__ == "__main__":
    main()
