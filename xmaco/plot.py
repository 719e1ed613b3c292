"""Figures that show what a run found: overlays, grids, objective curves and spectra.

Every function returns the matplotlib ``Figure`` it drew on, so figures can be saved,
composed or shown. ``matplotlib.pyplot`` is imported only when a figure is created, so
importing xmaco never selects a backend: figures render headless (Agg) in scripts and
inline in notebooks.

The two normalisations used throughout (and by ``xmaco.export``) are public:
``normalize_image`` (percentile clipping, then rescaling to [0, 1]) and
``transparency_alpha`` (channel mean of the raw map, clipped at a percentile, divided by
the maximum). They, ``composite`` and ``crop_to_importance`` are NumPy functions, defined
with the rest of the display maths in ``xmaco._display``; this module only draws.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._checks import is_int, is_number
from ._display import (
    blend,
    check_display,
    composite,
    crop_to_importance,
    log_planes,
    normalize_image,
    overlaid,
    radial_profile,
    select,
    spectra,
    transparency_alpha,
)
from .result import Result

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# In reading order (the API page follows it): the display maths, then the figures.
__all__ = [
    "normalize_image",
    "transparency_alpha",
    "composite",
    "overlay",
    "grid",
    "history",
    "spectrum",
    "crop_to_importance",
]


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
    image, blended = overlaid(result_or_image, transparency, index, *display)
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
    if not is_int(cols) or cols < 1:
        raise ValueError(f"Expected cols to be a positive integer or None. Received: cols={cols!r}")
    if not is_number(size) or size <= 0:
        raise ValueError(f"Expected size to be a positive number. Received: size={size!r}")
    if titles is None:
        titles = _default_titles(result)
    elif isinstance(titles, str) or len(titles) != count:
        raise ValueError(
            f"Expected titles to be a sequence of {count} strings (one per visualization). "
            f"Received: titles={titles!r}"
        )
    check_display(background, image_percentiles, transparency_percentile)
    cols = min(cols, count)
    rows = math.ceil(count / cols)
    fig = _new_figure((size * cols, size * rows + 0.4 * rows))
    width = max(12, int(size * 9))
    for i in range(count):
        image, raw_map = select(result, None, i)
        if overlay:
            shown = blend(image, raw_map, background, image_percentiles, transparency_percentile)
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

    image, _ = select(image_or_result, None, index)
    height, width, _ = image.shape
    found, target = spectra(image, magnitude)
    fig = _new_figure((13.0, 4.2))
    axes = [fig.add_subplot(1, 3, i + 1) for i in range(3)]
    planes, (vmin, vmax) = log_planes((found, target), width)
    labels = ("visualization", "natural images (constraint)")
    for ax, plane, label in zip(axes[:2], planes, labels, strict=True):
        ax.imshow(plane, cmap="magma", vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(f"log10 |F|: {label}", fontsize="medium")
        ax.set_xticks([])
        ax.set_yticks([])
    for half_plane, label in zip((found, target), labels, strict=True):
        frequency, profile = radial_profile(half_plane, height, width)
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


def _default_titles(result: Result) -> list[str]:
    titles = [str(name) for name in result.names]
    classes = result.config.get("classes")
    if not isinstance(classes, list | tuple) or len(classes) != len(titles):
        return titles
    labels = _imagenet_class_names()
    if labels is None:
        return titles
    for i, klass in enumerate(classes):
        if is_int(klass) and 0 <= klass < len(labels):
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
