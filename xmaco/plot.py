"""Figures that show what a run found: overlays, grids, objective curves and spectra.

Every function returns the matplotlib ``Figure`` it drew on, so figures can be saved,
composed or shown. ``matplotlib.pyplot`` is imported only when a figure is created, so
importing xmaco never selects a backend: figures render headless (Agg) in scripts and
inline in notebooks.

The two normalisations used throughout (and by ``xmaco.export``) are public:
``normalize_image`` (percentile clipping, then rescaling to [0, 1]) and
``transparency_alpha`` (channel mean of the raw map, clipped at a percentile, divided by
the maximum).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .color import decorrelate
from .result import Result

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "composite",
    "crop_to_importance",
    "grid",
    "history",
    "normalize_image",
    "overlay",
    "spectrum",
    "transparency_alpha",
]

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
    image = _finite(image, "image")
    low, high = _percentile_pair(percentiles, "percentiles")
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
    values = _finite(transparency, "transparency")
    if values.ndim == 3:
        values = values.mean(axis=-1)
    if values.ndim != 2:
        raise ValueError(
            "Expected transparency of shape (H, W) or (H, W, C). "
            f"Received: transparency.shape={values.shape}"
        )
    top = float(np.percentile(values, _top_percentile(percentile, "percentile")))
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
    image01 = _image(image01, "image01")
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


def overlay(
    result_or_image: Result | np.ndarray,
    transparency: np.ndarray | None = None,
    index: int = 0,
    background: str = "white",
    image_percentiles: tuple[float, float] = (1.0, 99.0),
    transparency_percentile: float = 80.0,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Show a visualization with its transparency map as alpha over a background.

    The image is clipped at ``image_percentiles`` and rescaled to [0, 1]
    (``normalize_image``); the map becomes alpha (``transparency_alpha``); the two are
    blended over the background (``composite``). Where the model never looked, only the
    background shows. Grayscale images are drawn with a grey colour map.

    Parameters
    ----------
    result_or_image
        A ``Result`` (visualization ``index`` is shown) or an image array (H, W, C) / (H, W).
    transparency
        The raw map (H, W, C) or (H, W); required with an image array, ``None`` with a Result.
    index
        Which visualization of a Result (negative values count from the end).
    background
        ``"white"``, ``"black"`` or ``"checkerboard"``.
    image_percentiles
        Percentiles at which the image is clipped before rescaling.
    transparency_percentile
        Percentile at which the map is clipped before division by its maximum.
    ax
        Axes to draw on; a new figure is made when None.
    title
        Axes title; for a Result, defaults to the visualization's name (or ImageNet class).

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the axes. The axes hold one image: (H, W, 3) for RGB, (H, W)
        for grayscale.

    Example
    -------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> fig = overlay(rng.random((16, 16, 3)), transparency=rng.random((16, 16)))
    >>> fig.axes[0].images[0].get_array().shape
    (16, 16, 3)
    """
    display = (background, image_percentiles, transparency_percentile)
    image, blended = _overlaid(result_or_image, transparency, index, *display)
    if title is None and isinstance(result_or_image, Result):
        title = _default_titles(result_or_image)[index]
    fig, ax = _figure_and_axes(ax)
    _show(ax, blended, title)
    return fig


def grid(
    result: Result,
    cols: int | None = None,
    overlay: bool = True,
    titles: Sequence[str] | None = None,
    background: str = "white",
    image_percentiles: tuple[float, float] = (1.0, 99.0),
    transparency_percentile: float = 80.0,
    size: float = 2.5,
) -> Figure:
    """Show every visualization of a Result in a titled grid.

    Parameters
    ----------
    result
        The run to show.
    cols
        Number of columns; defaults to ``min(N, 4)``.
    overlay
        Draw each image with its transparency as alpha (as ``overlay`` does); when False,
        draw the percentile-normalised images alone.
    titles
        One title per visualization. By default the names of the result; when
        ``result.config["classes"]`` holds ImageNet class indices and
        ``xmaco.zoo.imagenet_classes`` is available, the class names.
    background, image_percentiles, transparency_percentile
        As in ``overlay``.
    size
        Side of one cell in inches.

    Returns
    -------
    matplotlib.figure.Figure
        A figure with exactly N axes, one image each.

    Example
    -------
    >>> import numpy as np
    >>> from xmaco.result import Result
    >>> r = Result(images=np.random.rand(3, 8, 8, 3).astype("float32"),
    ...            transparency=np.random.rand(3, 8, 8, 3).astype("float32"),
    ...            history=np.zeros((2, 3), "float32"), names=["a", "b", "c"], config={})
    >>> [ax.get_title() for ax in grid(r).axes]
    ['a', 'b', 'c']
    """
    result = _result(result, "result")
    count = len(result)
    if cols is None:
        cols = min(count, 4)
    if not _is_int(cols) or cols < 1:
        raise ValueError(f"Expected cols to be a positive integer or None. Received: cols={cols!r}")
    if not _is_number(size) or size <= 0:
        raise ValueError(f"Expected size to be a positive number. Received: size={size!r}")
    if titles is None:
        titles = _default_titles(result)
    elif isinstance(titles, str) or len(titles) != count:
        raise ValueError(
            f"Expected titles to be a sequence of {count} strings (one per visualization). "
            f"Received: titles={titles!r}"
        )
    _check_display(background, image_percentiles, transparency_percentile)
    cols = min(cols, count)
    rows = math.ceil(count / cols)
    fig = _new_figure((size * cols, size * rows + 0.4 * rows))
    width = max(12, int(size * 9))
    for i in range(count):
        image, raw_map = _select(result, None, i)
        if overlay:
            shown = _blend(image, raw_map, background, image_percentiles, transparency_percentile)
        else:
            shown = normalize_image(image, image_percentiles)
        ax = fig.add_subplot(rows, cols, i + 1)
        _show(ax, shown, "\n".join(textwrap.wrap(str(titles[i]), width)))
    fig.tight_layout()
    return fig


def history(result: Result, ax: Axes | None = None) -> Figure:
    """Plot the objective value of each visualization against the step.

    Parameters
    ----------
    result
        The run; ``result.history`` is (steps_done, N).
    ax
        Axes to draw on; a new figure is made when None.

    Returns
    -------
    matplotlib.figure.Figure
        One line per visualization, labelled with its name in the legend. The title says
        when the run was interrupted.

    Example
    -------
    >>> import numpy as np
    >>> from xmaco.result import Result
    >>> r = Result(images=np.zeros((2, 4, 4, 3), "float32"),
    ...            transparency=np.zeros((2, 4, 4, 3), "float32"),
    ...            history=np.cumsum(np.ones((5, 2), "float32"), axis=0),
    ...            names=["a", "b"], config={})
    >>> len(history(r).axes[0].lines)
    2
    """
    from matplotlib.ticker import MaxNLocator

    result = _result(result, "result")
    fig, ax = _figure_and_axes(ax, figsize=(6.0, 4.0))
    steps = np.arange(result.history.shape[0])
    for i, name in enumerate(result.names):
        ax.plot(steps, result.history[:, i], label=name)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("step")
    ax.set_ylabel("objective")
    title = "Objective per step"
    if result.interrupted:
        title += f" (interrupted after {result.history.shape[0]} steps)"
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", ncol=max(1, math.ceil(len(result) / 8)))
    return fig


def spectrum(
    image_or_result: Result | np.ndarray,
    index: int = 0,
    magnitude: np.ndarray | None = None,
) -> Figure:
    """Compare the Fourier magnitude of a visualization with the one MACO constrained it to.

    Three panels: the log-magnitude spectrum of the visualization, the natural-image
    magnitude, and the radial profile of both on log-log axes. The visualization's spectrum
    is taken in the decorrelated colour space (``xmaco.color.decorrelate``) for RGB, after
    removing each channel's mean, and averaged over channels, like the constraint. Both
    spectra are scaled to a mean of 1 over the non-zero frequencies: MACO standardises the
    image after the inverse FFT, so only the shape of the magnitude matters. The 2-D panels
    show the full plane (rebuilt from the Hermitian half), zero frequency at the centre,
    on one shared colour scale.

    Parameters
    ----------
    image_or_result
        A ``Result`` (visualization ``index``) or an image array (H, W, C) / (H, W).
    index
        Which visualization of a Result.
    magnitude
        The magnitude the run was constrained to, (C', H, W // 2 + 1) in ``rfft2`` layout;
        defaults to ``xmaco.spectrum.natural(H, W, C)``.

    Returns
    -------
    matplotlib.figure.Figure
        A figure with three axes: two (H, W) images and the radial profiles (two lines).

    Example
    -------
    >>> import numpy as np
    >>> image = np.random.default_rng(0).random((16, 16, 3))
    >>> fig = spectrum(image, magnitude=np.ones((3, 16, 9), "float32"))
    >>> len(fig.axes), fig.axes[0].images[0].get_array().shape
    (3, (16, 16))
    """
    from matplotlib.ticker import NullFormatter

    image, _ = _select(image_or_result, None, index)
    height, width, channels = image.shape
    if magnitude is None:
        from .spectrum import natural

        magnitude = natural(height, width, channels)
    magnitude = _finite(magnitude, "magnitude")
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
    found, target = _unit_mean(found), _unit_mean(target)

    fig = _new_figure((13.0, 4.2))
    axes = [fig.add_subplot(1, 3, i + 1) for i in range(3)]
    # The zero frequency was removed with the mean: it is masked (drawn blank).
    centre = np.zeros((height, width), bool)
    centre[height // 2, width // 2] = True
    planes = [
        np.ma.masked_array(np.log10(_full_plane(half_plane, width) + 1e-6), mask=centre)
        for half_plane in (found, target)
    ]
    vmin, vmax = np.percentile(np.concatenate([p.compressed() for p in planes]), [1.0, 99.9])
    labels = ("visualization", "natural images (constraint)")
    for ax, plane, label in zip(axes[:2], planes, labels, strict=True):
        ax.imshow(plane, cmap="magma", vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(f"log10 |F|: {label}", fontsize="medium")
        ax.set_xticks([])
        ax.set_yticks([])
    for half_plane, label in zip((found, target), labels, strict=True):
        frequency, profile = _radial_profile(half_plane, height, width)
        axes[2].loglog(frequency, profile, label=label)
    axes[2].set_xlabel("frequency (cycles per pixel)")
    axes[2].set_ylabel("mean magnitude")
    axes[2].set_title("radial profile", fontsize="medium")
    axes[2].legend(fontsize="small")
    axes[2].grid(True, which="both", alpha=0.3)
    axes[2].xaxis.set_minor_formatter(NullFormatter())
    if isinstance(image_or_result, Result):
        fig.suptitle(_default_titles(image_or_result)[index])
    fig.tight_layout()
    return fig


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
    image = _image(image, "image")
    mass = _finite(transparency, "transparency")
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
    if not _is_number(quantile) or not 0.0 < quantile <= 1.0:
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


def _radial_profile(half_plane: np.ndarray, height: int, width: int) -> tuple[np.ndarray, ...]:
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


def _overlaid(
    result_or_image: Any,
    transparency: Any,
    index: Any,
    background: str,
    image_percentiles: tuple[float, float],
    transparency_percentile: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The image named by the public arguments, and the same blended with its transparency
    map (which an image array must come with)."""
    image, raw_map = _select(result_or_image, transparency, index)
    if raw_map is None:
        raise ValueError(
            "Expected transparency (H, W) or (H, W, C) when result_or_image is an image array. "
            "Received: transparency=None"
        )
    return image, _blend(image, raw_map, background, image_percentiles, transparency_percentile)


def _blend(
    image: np.ndarray,
    raw_map: np.ndarray,
    background: str,
    image_percentiles: tuple[float, float],
    transparency_percentile: float,
) -> np.ndarray:
    _check_display(background, image_percentiles, transparency_percentile)
    alpha = transparency_alpha(raw_map, transparency_percentile)
    return composite(normalize_image(image, image_percentiles), alpha, background)


def _check_display(background: Any, image_percentiles: Any, transparency_percentile: Any) -> None:
    """Validate the display settings under the names the public functions give them."""
    _background(background, (1, 1))
    _percentile_pair(image_percentiles, "image_percentiles")
    _top_percentile(transparency_percentile, "transparency_percentile")


def _select(
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
        if not _is_int(index) or not -count <= index < count:
            raise ValueError(
                f"Expected index to be an integer in [{-count}, {count}) (the result holds "
                f"{count} visualizations). Received: index={index!r}"
            )
        index = index % count
        return (
            _image(result_or_image.images[index], "result.images"),
            np.asarray(result_or_image.transparency[index]),
        )
    if not isinstance(result_or_image, np.ndarray | list | tuple):
        raise TypeError(
            "Expected an xmaco Result or an image array (H, W, C). Received: "
            f"{type(result_or_image).__name__}"
        )
    image = _image(result_or_image, "image")
    if transparency is None:
        return image, None
    raw_map = _finite(transparency, "transparency")
    if raw_map.ndim not in (2, 3) or raw_map.shape[:2] != image.shape[:2]:
        raise ValueError(
            f"Expected transparency of shape {image.shape[:2]} or {image.shape[:2]} + (C,) "
            f"(the image's height and width). Received: transparency.shape={raw_map.shape}"
        )
    return image, raw_map


def _default_titles(result: Result) -> list[str]:
    titles = [str(name) for name in result.names]
    classes = result.config.get("classes")
    if not isinstance(classes, list | tuple) or len(classes) != len(titles):
        return titles
    labels = _imagenet_class_names()
    if labels is None:
        return titles
    for i, klass in enumerate(classes):
        if _is_int(klass) and 0 <= klass < len(labels):
            titles[i] = f"{labels[klass]} ({klass})"
    return titles


def _imagenet_class_names() -> list[str] | None:
    """The 1000 ImageNet class names, or None when ``xmaco.zoo`` is not available."""
    try:
        from .zoo import imagenet_classes
    except ImportError:
        return None
    return [str(label) for label in imagenet_classes()]


def _show(ax: Axes, image01: np.ndarray, title: str | None) -> None:
    if image01.shape[-1] == 1:
        ax.imshow(image01[..., 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(image01, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title, fontsize="small")


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


def _figure_and_axes(ax: Any, figsize: tuple[float, float] = (4.0, 4.0)) -> tuple[Figure, Axes]:
    if ax is None:
        fig = _new_figure(figsize)
        return fig, fig.add_subplot(1, 1, 1)
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise TypeError(
            f"Expected ax to be a matplotlib Axes or None. Received: {type(ax).__name__}"
        )
    return ax.figure, ax


def _new_figure(figsize: tuple[float, float]) -> Figure:
    # pyplot (not a bare Figure) so that plt.show() and notebooks display it as usual.
    import matplotlib.pyplot as plt

    return plt.figure(figsize=figsize)


def _result(value: Any, argument: str) -> Result:
    if not isinstance(value, Result):
        raise TypeError(
            f"Expected {argument} to be an xmaco Result. Received: {type(value).__name__}"
        )
    return value


def _image(value: Any, argument: str) -> np.ndarray:
    image = _finite(value, argument)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 3) or min(image.shape[:2]) < 1:
        raise ValueError(
            f"Expected {argument} of shape (H, W, C) with C = 1 or 3, or (H, W). "
            f"Received: {argument}.shape={np.shape(value)}"
        )
    return image


def _finite(value: Any, argument: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise TypeError(
            f"Expected {argument} to be a numeric array. Received: {type(value).__name__}"
        ) from None
    if not np.isfinite(array).all():
        raise ValueError(f"Expected {argument} to hold finite values. Received NaN or inf.")
    return array


def _top_percentile(value: Any, argument: str) -> float:
    if not _is_number(value) or not 0.0 < value <= 100.0:
        raise ValueError(
            f"Expected {argument} to be a number in (0, 100]. Received: {argument}={value!r}"
        )
    return float(value)


def _percentile_pair(value: Any, argument: str) -> tuple[float, float]:
    if (
        not isinstance(value, Sequence)
        or len(value) != 2
        or not all(_is_number(v) for v in value)
        or not 0.0 <= value[0] < value[1] <= 100.0
    ):
        raise ValueError(
            f"Expected {argument} to be (low, high) with 0 <= low < high <= 100. "
            f"Received: {argument}={value!r}"
        )
    return float(value[0]), float(value[1])


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
