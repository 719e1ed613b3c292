"""The HTML page of a class's concepts: ranked by importance, with pictures, crops, attribution
on a photo, sub-concepts folded under their parent, and the code that reproduces each."""

from __future__ import annotations

import html
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from .._html import CONCEPTS_CSS, document
from ..export import save_overlay, save_png
from ..files import atomic_write, ensure_writable_dir
from ..result import Result
from ._attribution import attribution_overlay
from ._bank import ConceptBank

__all__ = ["write_page"]


def write_page(
    directory: str | os.PathLike,
    bank: ConceptBank,
    result: Result,
    title: str | None = None,
    refined: Mapping[int, tuple[ConceptBank, Result]] | None = None,
    photo: np.ndarray | None = None,
    maps: np.ndarray | None = None,
) -> Path:
    """Write a self-contained HTML page of a class's concepts, ranked by importance.

    For each concept, in the bank's order (decreasing importance): its importance with a bar,
    its MACO visualization, the visualization with its transparency overlay, where it lies on
    ``photo`` (when given), its top crops, its sub-concepts folded under it (when ``refined``
    has them) and the Python lines that reproduce each of these. PNGs are written beside
    ``index.html`` and linked relatively (the folder can be moved or served as is; the style
    is inline).

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
    refined
        ``{concept index: (sub-bank, its result)}``: sub-concepts from :func:`refine` and
        their :func:`visualize_concepts`, shown folded under their parent (a sub-bank may be
        refined again: its own sub-concepts are not shown).
    photo
        (H, W, C) one photo of the class in ``bank.values_range``, with ``maps``.
    maps
        (k, H, W) the photo's :func:`attribution_maps`.

    Returns
    -------
    pathlib.Path
        The ``index.html`` written.

    Example
    -------
    >>> import keras, numpy as np, tempfile
    >>> from xmaco.concepts import attribution_maps, discover, visualize_concepts
    >>> model = keras.Sequential([keras.Input((16, 16, 3)),
    ...     keras.layers.Conv2D(6, 3, activation="relu", name="features"),
    ...     keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
    >>> images = np.random.default_rng(0).random((4, 32, 32, 3))
    >>> bank = discover(model, "features", images, class_index=1, rank=2, crops=8, top=2)
    >>> result = visualize_concepts(bank, model, steps=2, crops=2, image_size=32, seed=0)
    >>> maps = attribution_maps(bank, model, images[:1])[0]
    >>> write_page(tempfile.mkdtemp(), bank, result, photo=images[0], maps=maps).name
    'index.html'
    """
    _check_pair(bank, result, "bank", "result")
    refined = dict(refined or {})
    for concept, pair in refined.items():
        if not isinstance(concept, int) or not 0 <= concept < len(bank):
            raise ValueError(
                f"Expected refined to map concept indices in [0, {len(bank) - 1}] to (bank, "
                f"result) pairs. Received: key {concept!r}"
            )
        _check_pair(*pair, f"refined[{concept}][0]", f"refined[{concept}][1]")
    if (photo is None) != (maps is None):
        raise ValueError(
            "Expected photo and maps together (maps from attribution_maps on the photo). "
            f"Received: photo={'None' if photo is None else 'an array'}, "
            f"maps={'None' if maps is None else 'an array'}"
        )
    if maps is not None:
        photo, maps = np.asarray(photo, np.float32), np.asarray(maps, np.float32)
        if photo.ndim != 3 or maps.shape != (len(bank), *photo.shape[:2]):
            raise ValueError(
                f"Expected maps of shape {(len(bank), *np.shape(photo)[:2])} (one per concept, "
                f"the photo's size). Received: maps.shape={maps.shape}"
            )
    directory = ensure_writable_dir(directory, argument="directory")
    title = title or f"Concepts of {bank.class_name}"
    cards = []
    for i in range(len(bank)):
        attribution = None if maps is None else (photo, maps[i])
        children = refined.get(i)
        cards.append(_card(directory, bank, result, i, attribution, children))
    body = f"""<h1>{html.escape(title)}</h1>
<p class="details">{_details(bank, result)}</p>
{_commands("Reproduce this page", _page_code(bank, result, refined, maps is not None))}
{"".join(cards)}"""
    path = directory / "index.html"
    with atomic_write(path, "w") as handle:
        handle.write(document(title, body, CONCEPTS_CSS))
    return path


def _check_pair(bank: Any, result: Any, bank_name: str, result_name: str) -> None:
    if not isinstance(bank, ConceptBank):
        raise TypeError(
            f"Expected {bank_name} to be a ConceptBank (from discover). Received: "
            f"{type(bank).__name__}"
        )
    if not isinstance(result, Result) or len(result) != len(bank):
        raise ValueError(
            f"Expected {result_name} to be the Result of visualize_concepts on this bank "
            f"({len(bank)} visualizations). Received: {type(result).__name__} of length "
            f"{len(result) if isinstance(result, Result) else 'n/a'}"
        )


def _details(bank: ConceptBank, result: Result) -> str:
    measured = bank.importance_settings
    how = html.escape(bank.importance_method)
    if bank.importance_method == "sobol":
        how = (
            f"total-order Sobol indices for the {html.escape(str(measured.get('target')))} "
            f"(Jansen estimator, {measured.get('designs')} designs, seed {measured.get('seed')},"
            f" {measured.get('images')} images; ± one standard error)"
        )
    return (
        f"layer <code>{html.escape(bank.layer)}</code>, class {bank.class_index}, "
        f"{len(bank)} concepts from {len(bank.boxes)} crops (NMF relative error "
        f"{bank.error:.3f}), importance by {how}; "
        f"{result.config.get('method', 'maco')} visualizations, "
        f"{len(result.history)} steps, seed {result.seed}"
    )


def _card(
    directory: Path,
    bank: ConceptBank,
    result: Result,
    i: int,
    attribution: tuple[np.ndarray, np.ndarray] | None,
    children: tuple[ConceptBank, Result] | None,
) -> str:
    """Concept ``i``'s section; writes its visualization, overlay, attribution and crops."""
    label = bank.labels[i]
    stem = f"concept_{label.replace('.', '_')}"
    image = save_png(directory / f"{stem}.png", result.images[i], result.values_range)
    overlay = save_overlay(directory / f"{stem}_overlay.png", result, index=i)
    figures = [
        _figure(image, f"MACO visualization of concept {label}", "MACO visualization"),
        _figure(
            overlay, f"visualization and transparency of concept {label}", "with its transparency"
        ),
    ]
    if attribution is not None:
        shown = attribution_overlay(*attribution, values_range=bank.values_range)
        where = save_png(directory / f"{stem}_attribution.png", shown, (0.0, 1.0))
        figures.append(_figure(where, f"where concept {label} lies", "where it lies"))
    crops = [
        save_png(directory / f"{stem}_crop_{j + 1}.png", crop, bank.values_range)
        for j, crop in enumerate(bank.top_crops[i])
    ]
    strip = "\n".join(
        f'<img class="crop" src="{_href(path)}" alt="crop {j + 1} of concept {label}">'
        for j, path in enumerate(crops)
    )
    nested = ""
    if children is not None:
        sub, sub_result = children
        cards = "".join(_card(directory, sub, sub_result, k, None, None) for k in range(len(sub)))
        nested = (
            f'<details class="sub"><summary>{len(sub)} sub-concepts at layer '
            f"<code>{html.escape(sub.layer)}</code>, by importance for the "
            f"{html.escape(str(sub.importance_settings.get('target')))}</summary>\n"
            f"{cards}</details>"
        )
    share = min(max(float(bank.importance[i]), 0.0), 1.0)
    return f"""<section class="concept">
<h2>Concept {label} <span class="share">{html.escape(bank.describe_importance(i))}</span></h2>
<div class="bar" title="importance"><span style="width: {100 * share:.1f}%"></span></div>
<div class="row">
{"".join(figures)}
</div>
<p>Crops that express it most:</p>
<div class="crops">
{strip}
</div>
{_commands("Reproduce", _concept_code(bank, i, attribution is not None))}
{nested}
</section>"""


def _figure(path: Path, alt: str, caption: str) -> str:
    return (
        f'<figure><img src="{_href(path)}" alt="{html.escape(alt)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>\n"
    )


def _commands(summary: str, code: str) -> str:
    return (
        f'<details class="commands"><summary>{html.escape(summary)}</summary>'
        f"<pre><code>{html.escape(code)}</code></pre></details>"
    )


def _arguments(settings: dict[str, Any], names: tuple[str, ...]) -> str:
    return "".join(f", {name}={settings[name]!r}" for name in names if name in settings)


def _discover_line(bank: ConceptBank) -> str:
    settings = bank.settings
    keywords = _arguments(settings, ("rank", "crops", "crop_size", "top", "seed", "importance"))
    keywords += _arguments(settings, ("designs",))
    layer = settings.get("layer", bank.layer)
    return f"bank = concepts.discover(model, {layer!r}, IMAGES, {bank.class_index}{keywords})"


def _refine_line(sub: ConceptBank, parent: str) -> str:
    settings = sub.settings
    names = ("rank", "regions", "crops", "crop_size", "top", "target", "designs", "seed")
    return (
        f"sub = concepts.refine({parent}, {settings.get('concept')}, model, "
        f"{sub.layer!r}, IMAGES{_arguments(settings, names)})"
    )


def _maco_keywords(result: Result) -> str:
    config = result.config
    names = ("steps", "crops", "image_size", "preset")
    return "".join(f", {name}={config[name]!r}" for name in names if config.get(name) is not None)


def _page_code(bank: ConceptBank, result: Result, refined: dict, attribution: bool) -> str:
    lines = [
        "import xmaco",
        "from xmaco import concepts",
        "model = ...  # the model, e.g. xmaco.zoo.efficientnet_lite0()",
        "IMAGES = ...  # the class's images (array or folder), as given to discover",
        _discover_line(bank),
        f"result = concepts.visualize_concepts(bank, model{_maco_keywords(result)}, "
        f"seed={result.seed})",
    ]
    if attribution:
        lines.append("maps = concepts.attribution_maps(bank, model, PHOTO[None])[0]")
    for concept, (sub, sub_result) in sorted(refined.items()):
        lines.append(_refine_line(sub, "bank"))
        lines.append(
            f"refined = {{{concept}: (sub, concepts.visualize_concepts(sub, model"
            f"{_maco_keywords(sub_result)}, seed={sub_result.seed}))}}"
        )
    extra = ", refined=refined" if refined else ""
    extra += ", photo=PHOTO, maps=maps" if attribution else ""
    lines.append(f'concepts.write_page("page", bank, result{extra})')
    return "\n".join(lines)


def _concept_code(bank: ConceptBank, i: int, attribution: bool) -> str:
    name = "sub" if bank.parent else "bank"
    measured = f"{name}.importance[{i}]"
    if bank.importance_error is not None:
        measured += f", {name}.importance_error[{i}]"
    lines = [
        f"{name}.vectors[{i}]  # the direction; {measured}",
        f"result.images[{i}], result.transparency[{i}]  # result = "
        f"concepts.visualize_concepts({name}, model, ...)",
        f"{name}.top_crops[{i}]  # the crops that express it most",
    ]
    if attribution:
        lines.append(f"concepts.attribution_maps({name}, model, PHOTO[None])[0, {i}]")
    if not bank.parent:
        lines.append(f"concepts.refine(bank, {i}, model, EARLIER_LAYER, IMAGES)  # split it")
    return "\n".join(lines)


def _href(path: Path) -> str:
    return quote(path.name)
