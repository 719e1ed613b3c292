"""The HTML of a gallery site: the index with its search, and one page per item.

Pages link relatively, and carry their style (the gallery's stylesheet in :mod:`xmaco._html`)
and their vanilla JavaScript inline: they need no font, CDN or fetch.
"""

from __future__ import annotations

import html
import json
import shlex
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from xmaco._html import GALLERY_CSS, document
from xmaco.gallery._concept_pages import CONCEPTS_STYLE, concepts_reproduce, concepts_section
from xmaco.gallery.manifest import Manifest

__all__ = ["duration", "index_page", "item_page"]

# Small canvases are shown enlarged on their page, so that a 64-pixel test gallery is legible.
_SMALLEST_VIEW = 384

_INDEX_SCRIPT = """
const box = document.getElementById("search");
const cards = Array.from(document.querySelectorAll(".card"));
const groups = Array.from(document.querySelectorAll(".group"));
const count = document.getElementById("count");
function matches(card, word) {
  if (/^\\d+$/.test(word)) {
    return card.dataset.index.startsWith(word) || card.dataset.text.includes(word);
  }
  return card.dataset.text.includes(word);
}
function filter() {
  const words = box.value.toLowerCase().split(/\\s+/).filter(Boolean);
  let shown = 0;
  for (const card of cards) {
    const visible = words.every((word) => matches(card, word));
    card.hidden = !visible;
    shown += visible ? 1 : 0;
  }
  for (const group of groups) {
    group.hidden = !group.querySelector(".card:not([hidden])");
  }
  count.textContent = words.length
    ? `${shown} of ${cards.length} shown`
    : `${cards.length} shown`;
}
box.addEventListener("input", filter);
filter();
"""

_ITEM_SCRIPT = """
const picture = document.getElementById("picture");
const toggle = document.getElementById("toggle");
const caption = document.getElementById("caption");
toggle.addEventListener("click", () => {
  const overlay = toggle.getAttribute("aria-pressed") !== "true";
  picture.src = overlay ? picture.dataset.overlay : picture.dataset.plain;
  toggle.setAttribute("aria-pressed", String(overlay));
  toggle.textContent = overlay ? "Show the plain image" : "Show the transparency overlay";
  caption.textContent = overlay ? caption.dataset.overlay : caption.dataset.plain;
});
document.addEventListener("keydown", (event) => {
  if (event.target.tagName === "INPUT" || event.altKey || event.ctrlKey || event.metaKey) {
    return;
  }
  const link = { ArrowLeft: "prev", ArrowRight: "next" }[event.key];
  const target = link && document.querySelector(`a[rel="${link}"]`);
  if (target) {
    window.location.href = target.href;
  } else if (event.key === "t") {
    toggle.click();
  }
});
"""


def _page(title: str, body: str, script: str, style: str = "") -> str:
    return document(title, body, GALLERY_CSS + style, script=script, viewport=True)


def index_page(
    entries: list[dict[str, Any]], pending: int, manifests: list[Manifest], thumbnail: int
) -> str:
    """The index: a card per finished entry (its ``thumbnail``-pixel image), grouped by layer."""
    models = sorted({entry["settings"]["model"] for entry in entries})
    title = f"xmaco gallery: {', '.join(models) or 'empty'}"
    groups: dict[tuple[str, str], list[str]] = {}
    for entry in entries:
        text = " ".join([str(entry["index"]), entry["label"], entry["kind"], entry["layer"]])
        card = (
            f'<a class="card" href="{_url("items/" + entry["key"] + ".html")}" '
            f'data-index="{entry["index"]}" data-text="{_e(text.lower())}">'
            f'<img src="{_url(entry["files"]["thumb"])}" alt="" loading="lazy" '
            f'width="{thumbnail}" height="{thumbnail}">'
            f'<span class="index">{entry["index"]}</span> '
            f'<span class="name">{_e(entry["label"])}</span></a>'
        )
        groups.setdefault((entry["kind"], entry["layer"]), []).append(card)
    sections = "\n".join(
        f'<section class="group"><h2>{"Classes" if kind == "class" else "Channels"} of '
        f'layer {_e(layer)} <span class="muted">({len(cards)})</span></h2>\n'
        f'<div class="grid">\n' + "\n".join(cards) + "\n</div></section>"
        for (kind, layer), cards in groups.items()
    )
    status = f"{len(entries)} item(s) finished" + (
        f", {pending} pending (being computed or not started)" if pending else ""
    )
    body = f"""<header>
<h1>{_e(title)}</h1>
<p class="muted">{_e(status)}. {_e(_settings_summary(entries))}</p>
<p><input id="search" type="search" placeholder="Filter by name or index, e.g. shark or 13"
 aria-label="Filter items" autocomplete="off" autofocus> <span id="count" class="muted"></span></p>
</header>
<main>
{sections or '<p class="muted">No item is finished yet.</p>'}
</main>
<footer><p class="muted">{_e(_throughput(manifests))}</p></footer>"""
    return _page(title, body, _INDEX_SCRIPT)


def _settings_summary(entries: list[dict[str, Any]]) -> str:
    kinds = sorted(
        {
            (s["steps"], s["crops"], s["image_size"], s["seed"])
            for s in (entry["settings"] for entry in entries)
        }
    )
    return " | ".join(
        f"{steps} steps, {crops} crops, {size}x{size} canvas, seed {seed} + index"
        for steps, crops, size, seed in kinds
    )


def _throughput(manifests: list[Manifest]) -> str:
    runs = [run for manifest in manifests for run in manifest.runs]
    count = sum(len(run["keys"]) for run in runs)
    seconds = sum(run["seconds"] for run in runs)
    if not runs or seconds <= 0:
        return "No MACO run recorded yet."
    names = ", ".join(f"{manifest.name}.json" for manifest in manifests)
    return (
        f"{count} visualization(s) in {len(runs)} MACO run(s), {duration(seconds)} of "
        f"compute: {3600 * count / seconds:.0f} visualizations per hour of compute "
        f"(manifests: {names})."
    )


def item_page(
    entry: dict[str, Any],
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    concepts: dict[str, Any],
) -> str:
    """The page of one entry: picture and overlay, objective curve, concepts (a record of
    :func:`xmaco.gallery.site.concept_record`), how to redo them."""
    settings = entry["settings"]
    what = "class" if entry["kind"] == "class" else "channel"
    title = f"{entry['label']} ({what} {entry['index']})"
    links = ['<a href="../index.html">All items</a>']
    for rel, other, arrow in (("prev", before, "&larr; "), ("next", after, "")):
        if other is not None:
            label = f"{arrow}{_e(other['label'])}{' &rarr;' if rel == 'next' else ''}"
            links.append(f'<a rel="{rel}" href="{_url(other["key"] + ".html")}">{label}</a>')
    plain, overlay = (_url("../" + entry["files"][name]) for name in ("image", "overlay"))
    side = max(settings["image_size"], _SMALLEST_VIEW)
    body = f"""<nav>{" ".join(links)}</nav>
<h1>{_e(entry["label"])} <small>{what} {entry["index"]} of layer {_e(entry["layer"])},
model {_e(settings["model"])}</small></h1>
<div class="layout">
<figure>
<div class="stage"><img id="picture" src="{plain}" data-plain="{plain}" data-overlay="{overlay}"
 width="{side}" height="{side}" alt="MACO visualization of {_e(entry["label"])}"></div>
<figcaption><button id="toggle" type="button" aria-pressed="false"
 title="Keyboard: t">Show the transparency overlay</button>
<span id="caption" class="muted" data-plain="The image MACO optimised."
 data-overlay="Opacity: where the model looked (the accumulated gradient magnitude, clipped at
 its 80th percentile).">The image MACO optimised.</span></figcaption>
</figure>
<section>
<h2>Objective during the optimisation</h2>
{_curve(entry["history"], entry["objective"])}
</section>
</div>
{concepts_section(concepts)}
<section>
<h2>Reproduce</h2>
{_settings_table(entry)}
<p>The same item in a new gallery:</p>
<pre><code>{_e(_gallery_command(entry))}</code></pre>
{_visualize_section(entry)}
{concepts_reproduce(concepts, entry, _gallery_command(entry))}
</section>"""
    style = CONCEPTS_STYLE if concepts.get("concepts") else ""
    return _page(f"{title} - xmaco gallery", body, _ITEM_SCRIPT, style)


def _settings_table(entry: dict[str, Any]) -> str:
    settings, engine = entry["settings"], entry["engine"]
    size, rate = settings["image_size"], engine["learning_rate"]
    model = settings["model"] + (
        f" (sha256 {settings['model_sha256'][:16]}...)" if settings.get("model_sha256") else ""
    )
    rows = [
        ("model", model),
        ("objective", entry["objective"]),
        ("seed", f"{entry['seed']} (base seed {settings['seed']} + index {entry['index']})"),
        ("preset", settings["preset"]),
        ("steps", str(settings["steps"])),
        ("crops", f"{settings['crops']} per step, resized to {engine['model_input_size']}"),
        ("canvas", f"{size}x{size}"),
        ("spectrum", str(engine["spectrum"])),
        ("values range", str(settings["values_range"])),
        ("crop size", json.dumps(engine["crop_size"])),
        ("noise", json.dumps(engine["noise"])),
        ("optimizer", f"{engine['optimizer']}, learning rate {json.dumps(rate)}"),
        ("settings hash", entry["hash"]),
        (
            "computed",
            f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(entry['finished']))} UTC, "
            f"{entry['seconds']:.1f} s (its share of a run of {entry['batch']})",
        ),
    ]
    cells = "\n".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'<table class="settings">\n{cells}\n</table>'


def _common_options(settings: dict[str, Any]) -> list[str]:
    options = [
        "--preset",
        settings["preset"],
        "--steps",
        str(settings["steps"]),
        "--crops",
        str(settings["crops"]),
        "--image-size",
        str(settings["image_size"]),
        "--values-range",
        *(f"{value:g}" for value in settings["values_range"]),
    ]
    return options


def _gallery_command(entry: dict[str, Any]) -> str:
    settings = entry["settings"]
    unit = (
        ["--classes", str(entry["index"]), "--layer", entry["layer"]]
        if entry["kind"] == "class"
        else ["--layer", entry["layer"], "--channels", str(entry["index"])]
    )
    spectrum = ["--spectrum", settings["spectrum"]] if settings.get("spectrum") else []
    words = ["xmaco", "gallery", "--model", settings["model"], *unit, *_common_options(settings)]
    words += ["--seed", str(settings["seed"]), *spectrum, "--out", "gallery-copy"]
    return shlex.join(words)


def _visualize_section(entry: dict[str, Any]) -> str:
    """``xmaco visualize`` makes the same image alone (it has no --spectrum option)."""
    settings = entry["settings"]
    if settings.get("spectrum"):
        return ""
    unit = (
        ["--class", str(entry["index"]), "--layer", entry["layer"]]
        if entry["kind"] == "class"
        else ["--layer", entry["layer"], "--channel", str(entry["index"])]
    )
    words = ["xmaco", "visualize", "--model", settings["model"], *unit]
    words += [*_common_options(settings), "--seed", str(entry["seed"])]
    return (
        f"<p>Alone, with the item's own seed:</p>\n<pre><code>{_e(shlex.join(words))}</code></pre>"
    )


def _curve(values: Sequence[float], name: str, width: int = 520, height: int = 240) -> str:
    """The objective against the step as an inline SVG line chart."""
    left, right, top, bottom = 64, 14, 14, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    low, high = min(values), max(values)
    span = high - low or 1.0
    digits = 4
    while f"{low:.{digits}g}" == f"{high:.{digits}g}" and low != high and digits < 9:
        digits += 1
    last = max(len(values) - 1, 1)
    points = " ".join(
        f"{left + plot_w * i / last:.1f},{top + plot_h * (1 - (v - low) / span):.1f}"
        for i, v in enumerate(values)
    )
    return f"""<svg class="curve" role="img" width="{width}" height="{height}"
 viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">
<title>{_e(name)}: objective at each of {len(values)} steps, from {values[0]:.4g} to
 {values[-1]:.4g}</title>
<path d="M{left},{top} V{top + plot_h} H{left + plot_w}" fill="none" stroke="currentColor"
 stroke-opacity="0.4"/>
<polyline points="{points}" fill="none" stroke="#4a6fd8" stroke-width="2"/>
<text x="{left - 6}" y="{top + 4}" text-anchor="end">{high:.{digits}g}</text>
<text x="{left - 6}" y="{top + plot_h}" text-anchor="end">{low:.{digits}g}</text>
<text x="{left}" y="{height - 18}" text-anchor="middle">0</text>
<text x="{left + plot_w}" y="{height - 18}" text-anchor="middle">{len(values) - 1}</text>
<text x="{left + plot_w / 2}" y="{height - 4}" text-anchor="middle">step</text>
</svg>"""


def duration(seconds: float) -> str:
    """``seconds`` as ``1h02m`` or ``3m07s``."""
    hours, rest = divmod(round(seconds), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _url(path: str) -> str:
    return _e(quote(path))
