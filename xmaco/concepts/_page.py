"""The HTML page of a class's concepts: visualizations, overlays and top crops, ranked."""

from __future__ import annotations

import html
import os
from pathlib import Path
from urllib.parse import quote

from .._html import CONCEPTS_CSS, document
from ..export import save_overlay, save_png
from ..files import atomic_write, ensure_writable_dir
from ..result import Result
from ._bank import ConceptBank

__all__ = ["write_page"]


def write_page(
    directory: str | os.PathLike, bank: ConceptBank, result: Result, title: str | None = None
) -> Path:
    """Write a self-contained HTML page of a class's concepts, ranked by importance.

    For each concept: its MACO visualization, the visualization with its transparency
    overlay, and its top crops, written as PNGs beside ``index.html`` and linked relatively
    (the folder can be moved or served as is; the style is inline).

    Parameters
    ----------
    directory
        Created if needed.
    bank
        From :func:`discover`.
    result
        From :func:`visualize_concepts` on ``bank`` (one visualization per concept).
    title
        Page title; default ``"Concepts of <class name>"``.

    Returns
    -------
    pathlib.Path
        The ``index.html`` written.

    Example
    -------
    >>> import keras, numpy as np, tempfile
    >>> from xmaco.concepts import discover, visualize_concepts
    >>> model = keras.Sequential([keras.Input((16, 16, 3)),
    ...     keras.layers.Conv2D(6, 3, activation="relu", name="features"),
    ...     keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
    >>> images = np.random.default_rng(0).random((4, 32, 32, 3))
    >>> bank = discover(model, "features", images, class_index=1, rank=2, crops=8, top=2)
    >>> result = visualize_concepts(bank, model, steps=2, crops=2, image_size=32, seed=0)
    >>> write_page(tempfile.mkdtemp(), bank, result).name
    'index.html'
    """
    if not isinstance(bank, ConceptBank):
        raise TypeError(
            f"Expected bank to be a ConceptBank (from discover). Received: {type(bank).__name__}"
        )
    if not isinstance(result, Result) or len(result) != len(bank):
        raise ValueError(
            f"Expected result to be the Result of visualize_concepts on this bank ({len(bank)} "
            f"visualizations). Received: {type(result).__name__} of length "
            f"{len(result) if isinstance(result, Result) else 'n/a'}"
        )
    directory = ensure_writable_dir(directory, argument="directory")
    title = title or f"Concepts of {bank.class_name}"
    cards = [_card(directory, bank, result, i) for i in range(len(bank))]
    details = (
        f"layer <code>{html.escape(bank.layer)}</code>, class {bank.class_index}, "
        f"{len(bank)} concepts from {len(bank.boxes)} crops (NMF relative error "
        f"{bank.error:.3f}), importance by {html.escape(bank.importance_method)}; "
        f"{result.config.get('method', 'maco')} visualizations, "
        f"{len(result.history)} steps, seed {result.seed}"
    )
    body = f"""<h1>{html.escape(title)}</h1>
<p class="details">{details}</p>
{"".join(cards)}"""
    path = directory / "index.html"
    with atomic_write(path, "w") as handle:
        handle.write(document(title, body, CONCEPTS_CSS))
    return path


def _card(directory: Path, bank: ConceptBank, result: Result, i: int) -> str:
    """Concept ``i``'s section; writes its visualization, overlay and top crops as PNGs."""
    stem = f"concept_{i + 1:02d}"
    image = save_png(directory / f"{stem}.png", result.images[i], result.values_range)
    overlay = save_overlay(directory / f"{stem}_overlay.png", result, index=i)
    crops = [
        save_png(directory / f"{stem}_crop_{j + 1}.png", crop, bank.values_range)
        for j, crop in enumerate(bank.top_crops[i])
    ]
    strip = "\n".join(
        f'<img class="crop" src="{_href(path)}" alt="crop {j + 1} of concept {i + 1}">'
        for j, path in enumerate(crops)
    )
    return f"""<section class="concept">
<h2>Concept {i + 1} <span class="share">{html.escape(bank.describe_importance(i))}</span></h2>
<div class="row">
<figure><img src="{_href(image)}" alt="MACO visualization of concept {i + 1}">
<figcaption>MACO visualization</figcaption></figure>
<figure><img src="{_href(overlay)}" alt="visualization and transparency of concept {i + 1}">
<figcaption>with its transparency</figcaption></figure>
</div>
<p>Crops that express it most:</p>
<div class="crops">
{strip}
</div>
</section>"""


def _href(path: Path) -> str:
    return quote(path.name)
