"""The concepts of a class on its gallery page, and the commands that reproduce them.

The section reads top to bottom in order of importance: each concept's MACO picture, its
importance as a bar, the crops of the photos that carry it most, where it lies in one photo
(when recorded), and its sub-concepts folded under it (when recorded).
"""

from __future__ import annotations

import html
import shlex
from typing import Any
from urllib.parse import quote

__all__ = ["CONCEPTS_STYLE", "concepts_reproduce", "concepts_section"]

CONCEPTS_STYLE = """
ol.concept-list { list-style: none; padding: 0; }
li.concept { display: flex; gap: 1rem; align-items: flex-start; margin: 0 0 1.25rem; }
li.concept > figure { margin: 0; flex: none; }
li.concept > figure img { width: 160px; height: 160px; image-rendering: auto; }
.concept-body { flex: 1; min-width: 0; }
.importance { display: flex; align-items: center; gap: 0.5rem; margin: 0.25rem 0; }
.importance .track { width: 12rem; height: 0.6rem; background: rgba(127, 127, 127, 0.2); }
.importance .bar { display: block; height: 100%; background: #4a6fd8; }
.importance .bar.negative { background: #d8684a; }
.crops img.crop { width: 96px; height: 96px; object-fit: cover; margin: 0 2px 2px 0; }
figure.attribution img { width: 240px; height: auto; }
details.sub-concepts { margin-top: 0.5rem; }
details.sub-concepts li.concept > figure img { width: 112px; height: 112px; }
details.sub-concepts .crops img.crop { width: 72px; height: 72px; }
"""


def concepts_section(record: dict[str, Any]) -> str:
    """The section of a ``concepts.json`` record (:func:`xmaco.gallery.site.concept_record`)."""
    concepts = record.get("concepts") or []
    if not concepts:
        return ""
    about = record.get("about") or {}
    summary = f'<p class="muted">{_e(_summary(about))}</p>' if about else ""
    return f'<section id="concepts">\n<h2>Concepts</h2>\n{summary}\n{_list(concepts)}\n</section>'


def _summary(about: dict[str, Any]) -> str:
    settings = about.get("importance_settings") or {}
    if about["importance_method"] == "sobol":
        how = (
            f"total-order Sobol indices for the class logit ({settings.get('designs')} "
            "designs, Jansen estimator; ± its bootstrap error)"
        )
    else:
        how = f"their share of the class logit ({about['importance_method']})"
    refine = about["settings"].get("refine_layer")
    top = about["settings"]["refine_top"]
    which = "most important concept is" if top == 1 else f"{top} most important concepts are"
    split = f" The {which} split into sub-concepts at layer {refine}." if refine else ""
    return (
        f"{about['rank']} concepts of layer {about['layer']}, found in {about['crops']} crops "
        f"of {about['photos']} photo(s), ranked by their importance: {how}.{split}"
    )


def _list(concepts: list[dict[str, Any]]) -> str:
    largest = max((abs(c["importance"] or 0.0) for c in concepts), default=0.0) or 1.0
    return (
        '<ol class="concept-list">\n'
        + "\n".join(_card(concept, largest) for concept in concepts)
        + "\n</ol>"
    )


def _card(concept: dict[str, Any], largest: float) -> str:
    label = _e(concept["label"])
    parts = [_importance(concept["importance"], concept.get("importance_text"), largest)]
    if concept.get("crops"):
        strip = "".join(
            f'<img class="crop" src="{_url("../" + crop)}" alt="crop {j + 1} of {label}" '
            'loading="lazy">'
            for j, crop in enumerate(concept["crops"])
        )
        parts.append(f'<div class="crops" title="the crops that carry it most">{strip}</div>')
    if concept.get("attribution"):
        parts.append(
            f'<figure class="attribution"><img src="{_url("../" + concept["attribution"])}" '
            f'alt="where {label} lies in a photo" loading="lazy"><figcaption class="muted">Where '
            "it lies in one photo</figcaption></figure>"
        )
    children = concept.get("children") or []
    if children:
        parts.append(
            f'<details class="sub-concepts"><summary>{len(children)} sub-concepts</summary>\n'
            f"{_list(children)}\n</details>"
        )
    return (
        f'<li class="concept" data-importance="{concept["importance"]}">'
        f'<figure><img src="{_url("../" + concept["image"])}" alt="{label}" loading="lazy">'
        f"<figcaption>{label}</figcaption></figure>\n"
        f'<div class="concept-body">{"".join(parts)}</div></li>'
    )


def _importance(value: float | None, text: str | None, largest: float) -> str:
    if value is None:
        return ""
    text = text or f"importance {value:.3g}"
    width = 100 * abs(value) / largest
    sign = " negative" if value < 0 else ""
    return (
        f'<div class="importance"><span class="track"><span class="bar{sign}" '
        f'style="width: {width:.1f}%"></span></span>'
        f'<span class="muted">{_e(text)}</span></div>'
    )


def concepts_reproduce(record: dict[str, Any], entry: dict[str, Any], gallery: str) -> str:
    """How to compute the concepts again: the gallery command (``gallery``, the class's
    command line without them) with the concept options, and the same in Python."""
    about = record.get("about")
    if not about or not record.get("concepts"):
        return ""
    concept = about["settings"]
    options = [
        "--concepts-from",
        concept["photos"],
        "--concept-layer",
        concept["layer"],
        "--concept-rank",
        str(concept["rank"]),
        "--concept-image-crops",
        str(concept["image_crops"]),
        "--concept-top",
        str(concept["top"]),
        "--concept-designs",
        str(concept["designs"]),
    ]
    if concept.get("refine_layer"):
        options += ["--concept-refine-layer", concept["refine_layer"]]
        options += ["--concept-refine-top", str(concept["refine_top"])]
        options += ["--concept-sub-rank", str(concept["sub_rank"])]
    words = shlex.split(gallery) + options
    return (
        "<p>Its concepts, with the pictures above:</p>\n"
        f"<pre><code>{_e(shlex.join(words))}</code></pre>\n"
        "<p>The same concepts in Python:</p>\n"
        f"<pre><code>{_e(_python(about, entry))}</code></pre>"
    )


def _python(about: dict[str, Any], entry: dict[str, Any]) -> str:
    settings, concept = entry["settings"], about["settings"]
    values = f"values_range=({settings['values_range'][0]!r}, {settings['values_range'][1]!r})"
    spectrum = repr(settings["spectrum"]) if settings.get("spectrum") else "None"
    common = f"class_layer={entry['layer']!r}, designs={concept['designs']}, seed={about['seed']}"
    lines = [
        "from xmaco import concepts, gallery",
        "",
        f"model = gallery.load_model({settings['model']!r})",
        f"photos = {about['folder']!r}",
        f"bank = concepts.discover(model, {about['layer']!r}, photos, {entry['index']},",
        f"    rank={concept['rank']}, crops={concept['image_crops']}, top={concept['top']}, "
        f"{common}, {values})",
        f"pictures = dict(steps={settings['steps']}, crops={settings['crops']}, "
        f"image_size={settings['image_size']}, noise={settings['noise']!r},",
        f"    {values}, spectrum={spectrum}, preset={settings['preset']!r}, seed={about['seed']})",
        "result = concepts.visualize_concepts(bank, model, **pictures)",
        f"maps = concepts.attribution_maps(bank, model, photos, weighted=False, {values})",
    ]
    if concept.get("refine_layer"):
        lines += [
            f"for k in range({concept['refine_top']}):",
            f"    sub = concepts.refine(bank, k, model, {concept['refine_layer']!r}, photos, "
            f"rank={concept['sub_rank']},",
            f"        regions=min(16, len(bank.boxes)), top={concept['top']}, {common}, {values})",
            "    sub_result = concepts.visualize_concepts(sub, model, **pictures)",
        ]
    return "\n".join(lines)


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _url(path: str) -> str:
    return _e(quote(path))
