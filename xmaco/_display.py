"""What the figures and the exported files show, computed with NumPy: value-range scaling,
the transparency as alpha, blending over a background, the box that holds the importance,
and the spectra of a visualization.

``xmaco.plot`` draws these arrays and ``xmaco.export`` writes them, so a figure and a file
of the same visualization hold the same pixels. The four public functions are documented
(and imported) as ``xmaco.plot.normalize_image``, ``transparency_alpha``, ``composite`` and
``crop_to_importance``; the rest check and select the arguments those modules share.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._checks import is_int, is_number
from .color import decorrelate
from .result import Result

# The public four; the other functions serve xmaco.plot and xmaco.export.
__all__ = ["composite", "crop_to_importance", "normalize_image", "transparency_alpha"]

_BACKGROUNDS = ("white", "black", "checkerboard")


def normalize_image(
    image: np.ndarray, percentiles: tuple[float, float] = (1.0, 99.0)
) -> np.ndarray:
    """Clip an image at two percentiles of its values and rescale it to [0, 1].

    The percentiles are taken over all channels together, so colours keep their balance.

    Parameters
    ----------
    image
        Array (H, W, C) or (H, W), any finite values.
    percentiles
        ``(low, high)`` with ``0 <= low < high <= 100``. ``(0, 100)`` is a plain min-max
        rescaling.

    Returns
    -------
    np.ndarray
        float32 array of the same shape, in [0, 1]. A constant image maps to zeros.

    Example
    -------
    >>> import numpy as np
    >>> normalize_image(np.array([[0.0, 5.0], [10.0, 1000.0]]), (0, 100)).max()
    np.float32(1.0)
    """
    image = finite_array(image, "image")
    low, high = percentile_pair(percentiles, "percentiles")
    lo, hi = np.percentile(image, [low, high])
    scale = hi - lo if hi > lo else 1.0
    return np.clip((image - lo) / scale, 0.0, 1.0).astype(np.float32)


def transparency_alpha(transparency: np.ndarray, percentile: float = 80.0) -> np.ndarray:
    """Turn a raw transparency map into an alpha channel in [0, 1].

    The channel mean of the map is clipped at its ``percentile``-th percentile and divided
    by that value, so the top ``100 - percentile`` percent of pixels are fully opaque.

    Parameters
    ----------
    transparency
        Raw map (H, W, C) or (H, W), e.g. ``Result.transparency[i]``.
    percentile
        In (0, 100]. 80 (the default) follows the MACO paper.

    Returns
    -------
    np.ndarray
        float32 array (H, W) in [0, 1]; all zeros when the map is zero everywhere.

    Example
    -------
    >>> import numpy as np
    >>> alpha = transparency_alpha(np.arange(10.0).reshape(2, 5), percentile=50)
    >>> float(alpha.min()), float(alpha.max())
    (0.0, 1.0)
    """
    values = finite_array(transparency, "transparency")
    if values.ndim == 3:
        values = values.mean(axis=-1)
    if values.ndim != 2:
        raise ValueError(
            "Expected transparency of shape (H, W) or (H, W, C). "
            f"Received: transparency.shape={values.shape}"
        )
    top = float(np.percentile(values, top_percentile(percentile, "percentile")))
    if top <= 0.0:
        return np.zeros(values.shape, np.float32)
    return np.clip(values / top, 0.0, 1.0).astype(np.float32)


def composite(image01: np.ndarray, alpha: np.ndarray, background: str = "white") -> np.ndarray:
    """Blend an image in [0, 1] over a background with an alpha map: ``a*image + (1-a)*bg``.

    Parameters
    ----------
    image01
        Array (H, W, C) in [0, 1]; C is 1 (grayscale) or 3 (RGB).
    alpha
        Array (H, W) in [0, 1], e.g. from ``transparency_alpha``.
    background
        ``"white"``, ``"black"`` or ``"checkerboard"`` (grey squares, about 16 per side).

    Returns
    -------
    np.ndarray
        float32 array (H, W, C) in [0, 1].

    Example
    -------
    >>> import numpy as np
    >>> out = composite(np.zeros((2, 2, 1)), np.array([[0.0, 1.0], [0.5, 0.0]]), "white")
    >>> out[..., 0].tolist()
    [[1.0, 0.0], [0.5, 1.0]]
    """
    image01 = image_array(image01, "image01")
    alpha = np.asarray(alpha, dtype=np.float32)
    if alpha.shape != image01.shape[:2]:
        raise ValueError(
            f"Expected alpha of shape {image01.shape[:2]} (the image's height and width). "
            f"Received: alpha.shape={alpha.shape}"
        )
    alpha = alpha[..., None]
    return (alpha * image01 + (1.0 - alpha) * _background(background, image01.shape[:2])).astype(
        np.float32
    )


def crop_to_importance(
    image: np.ndarray,
    transparency: np.ndarray,
    quantile: float = 0.9,
    return_image: bool = False,
) -> tuple[int, int, int, int] | tuple[tuple[int, int, int, int], np.ndarray]:
    """Find a tight box that holds at least ``quantile`` of the transparency mass.

    The mass is the channel mean of the map. The search runs in two stages:

    1. On each axis separately, the shortest window of the marginal mass (row sums, column
       sums) that holds at least ``(1 + quantile) / 2`` of it. The product of the two
       windows then holds at least ``quantile`` of the total mass, since the mass left out
       is at most ``(1 - quantile) / 2`` per axis.
    2. Greedy trimming: while possible, remove the border row or column of the box with
       the least mass, as long as the box still holds at least ``quantile`` of the total.

    The box is always guaranteed to hold ``quantile`` of the mass; it is tight but not
    necessarily the smallest such box. A map that is zero everywhere gives the whole image.

    Parameters
    ----------
    image
        The visualization (H, W, C) or (H, W); only cropped, never inspected.
    transparency
        Its raw map (H, W, C) or (H, W), non-negative.
    quantile
        Share of the mass to keep, in (0, 1].
    return_image
        Also return the crop ``image[y0:y1, x0:x1]`` (float32, (h, w, C); a 2-D image gets
        C = 1).

    Returns
    -------
    tuple
        ``(y0, y1, x0, x1)``, half-open bounds, so the crop is ``image[y0:y1, x0:x1]``;
        with ``return_image=True``, ``((y0, y1, x0, x1), crop)``.

    Example
    -------
    >>> import numpy as np
    >>> heat = np.zeros((32, 32)); heat[8:12, 20:30] = 1.0
    >>> crop_to_importance(np.zeros((32, 32, 3)), heat, quantile=1.0)
    (8, 12, 20, 30)
    """
    image = image_array(image, "image")
    mass = finite_array(transparency, "transparency")
    if mass.ndim == 3:
        mass = mass.mean(axis=-1)
    if mass.shape != image.shape[:2]:
        raise ValueError(
            f"Expected transparency of shape {image.shape[:2]} or {image.shape[:2]} + (C,) "
            f"(the image's height and width). Received: transparency.shape={np.shape(transparency)}"
        )
    if (mass < 0).any():
        raise ValueError(
            "Expected transparency to be non-negative (a sum of gradient magnitudes). "
            f"Received: minimum {float(mass.min())}"
        )
    if not is_number(quantile) or not 0.0 < quantile <= 1.0:
        raise ValueError(
            f"Expected quantile to be a number in (0, 1]. Received: quantile={quantile!r}"
        )
    box = _importance_box(mass.astype(np.float64), float(quantile))
    if return_image:
        y0, y1, x0, x1 = box
        return box, image[y0:y1, x0:x1].copy()
    return box


def _importance_box(mass: np.ndarray, quantile: float) -> tuple[int, int, int, int]:
    height, width = mass.shape
    total = mass.sum()
    if total <= 0.0:
        return 0, height, 0, width
    # Relative tolerance: a box holding exactly the quantile must not fail on rounding.
    need = quantile * total * (1.0 - 1e-9)
    share = (1.0 + quantile) / 2.0
    y0, y1 = _shortest_window(mass.sum(axis=1), share)
    x0, x1 = _shortest_window(mass.sum(axis=0), share)
    integral = np.zeros((height + 1, width + 1))
    integral[1:, 1:] = mass.cumsum(axis=0).cumsum(axis=1)

    def box_mass(a: int, b: int, c: int, d: int) -> float:
        return integral[b, d] - integral[a, d] - integral[b, c] + integral[a, c]

    inside = box_mass(y0, y1, x0, x1)
    while True:
        trims = []
        if y1 - y0 > 1:
            trims += [(box_mass(y0, y0 + 1, x0, x1), (y0 + 1, y1, x0, x1))]
            trims += [(box_mass(y1 - 1, y1, x0, x1), (y0, y1 - 1, x0, x1))]
        if x1 - x0 > 1:
            trims += [(box_mass(y0, y1, x0, x0 + 1), (y0, y1, x0 + 1, x1))]
            trims += [(box_mass(y0, y1, x1 - 1, x1), (y0, y1, x0, x1 - 1))]
        if not trims:
            break
        lost, smaller = min(trims, key=lambda trim: trim[0])
        if inside - lost < need:
            break
        inside -= lost
        y0, y1, x0, x1 = smaller
    return int(y0), int(y1), int(x0), int(x1)


def _shortest_window(marginal: np.ndarray, share: float) -> tuple[int, int]:
    """The shortest [start, stop) whose sum is at least ``share`` of the total."""
    prefix = np.concatenate([[0.0], np.cumsum(marginal)])
    need = share * prefix[-1] * (1.0 - 1e-9)
    # For each start, the first stop whose prefix reaches prefix[start] + need.
    stops = np.searchsorted(prefix, prefix[:-1] + need, side="left")
    valid = stops <= len(marginal)
    starts = np.flatnonzero(valid)
    lengths = stops[valid] - starts
    best = int(np.argmin(lengths))
    return int(starts[best]), int(stops[valid][best])


def overlaid(
    result_or_image: Any,
    transparency: Any,
    index: Any,
    background: str,
    image_percentiles: tuple[float, float],
    transparency_percentile: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The image named by the public arguments, and the same blended with its transparency
    map (which an image array must come with)."""
    image, raw_map = select(result_or_image, transparency, index)
    if raw_map is None:
        raise ValueError(
            "Expected transparency (H, W) or (H, W, C) when result_or_image is an image array. "
            "Received: transparency=None"
        )
    return image, blend(image, raw_map, background, image_percentiles, transparency_percentile)


def blend(
    image: np.ndarray,
    raw_map: np.ndarray,
    background: str,
    image_percentiles: tuple[float, float],
    transparency_percentile: float,
) -> np.ndarray:
    check_display(background, image_percentiles, transparency_percentile)
    alpha = transparency_alpha(raw_map, transparency_percentile)
    return composite(normalize_image(image, image_percentiles), alpha, background)


def check_display(background: Any, image_percentiles: Any, transparency_percentile: Any) -> None:
    """Validate the display settings under the names the public functions give them."""
    _background(background, (1, 1))
    percentile_pair(image_percentiles, "image_percentiles")
    top_percentile(transparency_percentile, "transparency_percentile")


def select(
    result_or_image: Any, transparency: Any, index: Any
) -> tuple[np.ndarray, np.ndarray | None]:
    """The image and the raw map (or None) named by the public arguments."""
    if isinstance(result_or_image, Result):
        if transparency is not None:
            raise ValueError(
                "Expected transparency=None when a Result is given (it carries its own map). "
                f"Received: transparency of shape {np.shape(transparency)}"
            )
        count = len(result_or_image)
        if not is_int(index) or not -count <= index < count:
            raise ValueError(
                f"Expected index to be an integer in [{-count}, {count}) (the result holds "
                f"{count} visualizations). Received: index={index!r}"
            )
        index = index % count
        return (
            image_array(result_or_image.images[index], "result.images"),
            np.asarray(result_or_image.transparency[index]),
        )
    if not isinstance(result_or_image, np.ndarray | list | tuple):
        raise TypeError(
            "Expected an xmaco Result or an image array (H, W, C). Received: "
            f"{type(result_or_image).__name__}"
        )
    image = image_array(result_or_image, "image")
    if transparency is None:
        return image, None
    raw_map = finite_array(transparency, "transparency")
    if raw_map.ndim not in (2, 3) or raw_map.shape[:2] != image.shape[:2]:
        raise ValueError(
            f"Expected transparency of shape {image.shape[:2]} or {image.shape[:2]} + (C,) "
            f"(the image's height and width). Received: transparency.shape={raw_map.shape}"
        )
    return image, raw_map


def spectra(image: np.ndarray, magnitude: Any) -> tuple[np.ndarray, np.ndarray]:
    """The Fourier magnitude of ``image`` (H, W, C) and the ``magnitude`` it was constrained
    to (C', H, W // 2 + 1; None: ``xmaco.spectrum.natural``), both as (H, W // 2 + 1) in
    ``rfft2`` layout, averaged over channels and scaled to a mean of 1 over the non-zero
    frequencies. The image's is taken after removing each channel's mean, in the
    decorrelated colour space for RGB, as the constraint is.

    Example
    -------
    >>> found, target = spectra(np.zeros((8, 8, 1)), np.ones((1, 8, 5)))
    >>> found.shape, float(target[0, 0]), float(target[0, 1])
    ((8, 5), 0.0, 1.0)
    """
    height, width, channels = image.shape
    if magnitude is None:
        from .spectrum import natural

        magnitude = natural(height, width, channels)
    magnitude = finite_array(magnitude, "magnitude")
    half = width // 2 + 1
    if magnitude.ndim != 3 or magnitude.shape[1:] != (height, half):
        raise ValueError(
            f"Expected magnitude of shape (C, {height}, {half}) (rfft2 layout of the "
            f"{height}x{width} image). Received: magnitude.shape={magnitude.shape}"
        )
    centred = image - image.mean(axis=(0, 1))
    if channels == 3:
        centred = decorrelate(centred)
    found = np.abs(np.fft.rfft2(centred, axes=(0, 1))).mean(axis=-1)
    target = magnitude.mean(axis=0)
    return _unit_mean(found), _unit_mean(target)


def log_planes(
    half_planes: Sequence[np.ndarray], width: int
) -> tuple[list[np.ma.MaskedArray], tuple[float, float]]:
    """Each (H, W // 2 + 1) magnitude as the full (H, W) plane of ``log10``, zero frequency
    at the centre and masked (removed with the mean), and one colour scale for all: the 1st
    and 99.9th percentiles of their values.

    Example
    -------
    >>> planes, (low, high) = log_planes([np.ones((4, 3))], width=4)
    >>> planes[0].shape, int(planes[0].count()), round(float(low), 3), round(float(high), 3)
    ((4, 4), 15, 0.0, 0.0)
    """
    height = half_planes[0].shape[0]
    centre = np.zeros((height, width), bool)
    centre[height // 2, width // 2] = True
    planes = [
        np.ma.masked_array(np.log10(_full_plane(half_plane, width) + 1e-6), mask=centre)
        for half_plane in half_planes
    ]
    vmin, vmax = np.percentile(np.concatenate([p.compressed() for p in planes]), [1.0, 99.9])
    return planes, (vmin, vmax)


def radial_profile(half_plane: np.ndarray, height: int, width: int) -> tuple[np.ndarray, ...]:
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    side = max(height, width)
    bins = np.rint(np.sqrt(fy**2 + fx**2) * side).astype(int)
    counts = np.bincount(bins.ravel())
    sums = np.bincount(bins.ravel(), weights=half_plane.ravel())
    keep = np.flatnonzero(counts > 0)
    keep = keep[keep > 0]
    return keep / side, sums[keep] / counts[keep]


def _full_plane(half_plane: np.ndarray, width: int) -> np.ndarray:
    """Rebuild the (H, W) magnitude from its rfft2 half and centre the zero frequency."""
    height = half_plane.shape[0]
    full = np.empty((height, width), half_plane.dtype)
    half = half_plane.shape[1]
    full[:, :half] = half_plane
    # |F(u, v)| = |F(-u, -v)| for a real image.
    columns = np.arange(half, width)
    rows = (-np.arange(height)) % height
    full[:, half:] = half_plane[rows][:, width - columns]
    return np.fft.fftshift(full)


def _unit_mean(half_plane: np.ndarray) -> np.ndarray:
    scaled = np.asarray(half_plane, np.float64).copy()
    scaled[0, 0] = 0.0
    mean = scaled.sum() / max(scaled.size - 1, 1)
    return scaled / mean if mean > 0 else scaled


def _background(background: Any, shape: tuple[int, int]) -> np.ndarray:
    if background == "white":
        return np.ones((*shape, 1), np.float32)
    if background == "black":
        return np.zeros((*shape, 1), np.float32)
    if background == "checkerboard":
        square = max(2, round(max(shape) / 16))
        rows = (np.arange(shape[0]) // square)[:, None]
        cols = (np.arange(shape[1]) // square)[None, :]
        return np.where((rows + cols) % 2 == 0, 0.9, 0.7).astype(np.float32)[..., None]
    raise ValueError(
        f"Expected background to be one of {_BACKGROUNDS}. Received: background={background!r}"
    )


def image_array(value: Any, argument: str) -> np.ndarray:
    image = finite_array(value, argument)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 3) or min(image.shape[:2]) < 1:
        raise ValueError(
            f"Expected {argument} of shape (H, W, C) with C = 1 or 3, or (H, W). "
            f"Received: {argument}.shape={np.shape(value)}"
        )
    return image


def finite_array(value: Any, argument: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise TypeError(
            f"Expected {argument} to be a numeric array. Received: {type(value).__name__}"
        ) from None
    if not np.isfinite(array).all():
        raise ValueError(f"Expected {argument} to hold finite values. Received NaN or inf.")
    return array


def top_percentile(value: Any, argument: str) -> float:
    if not is_number(value) or not 0.0 < value <= 100.0:
        raise ValueError(
            f"Expected {argument} to be a number in (0, 100]. Received: {argument}={value!r}"
        )
    return float(value)


def percentile_pair(value: Any, argument: str) -> tuple[float, float]:
    if (
        not isinstance(value, Sequence)
        or len(value) != 2
        or not all(is_number(v) for v in value)
        or not 0.0 <= value[0] < value[1] <= 100.0
    ):
        raise ValueError(
            f"Expected {argument} to be (low, high) with 0 <= low < high <= 100. "
            f"Received: {argument}={value!r}"
        )
    return float(value[0]), float(value[1])
