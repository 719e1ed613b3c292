"""The static site of a gallery: images, an index page with search, a page per item.

Layout of a site folder::

    index.html                      thumbnails, names, indices, a search box
    items/<key>.html                one page per finished item
    images/<key>-<hash>.webp        the visualization (lossy WebP)
    images/<key>-<hash>-overlay.webp   the same with the transparency map as alpha (WebP)
    images/<key>-<hash>-thumb.jpg   thumbnail (JPEG)
    manifests/<name>.json           what is finished (see :mod:`xmaco.gallery.manifest`)
    concepts/<key>/concepts.json    optional concept visualizations of an item (read only)

Pages use relative links, inline CSS (the gallery's stylesheet in :mod:`xmaco._html`) and
inline vanilla JavaScript only (no fonts, no CDN, no fetch), so the site works from
``file://`` as from any static web server. Every file is written atomically, and a page is
rewritten only when its content changes; the index links only items whose entry and files
are complete.

Concepts are read from ``concepts/<key>/concepts.json``::

    {"concepts": [{"image": "0.webp", "importance": 0.42, "label": "fins"}, ...]}

``image`` is a file in the same folder (PNG, JPEG or WebP); ``importance`` (a number, e.g. the
concept's share of the class score) and ``label`` are optional. :func:`write_concepts` writes
that folder from the MACO visualizations of a class's concepts
(``xmaco.concepts.visualize_concepts``, or any :class:`xmaco.Result`).
"""

from __future__ import annotations

import html
import json
import os
import re
import shlex
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import cv2
import numpy as np

from xmaco._html import GALLERY_CSS, document
from xmaco.gallery._io import write_readable
from xmaco.gallery.manifest import Manifest, finished, read_all
from xmaco.plot import transparency_alpha

__all__ = [
    "CONCEPTS",
    "THUMBNAIL",
    "read_concepts",
    "remove_stale_temporary_files",
    "write_concepts",
    "write_images",
    "write_site",
]

CONCEPTS = "concepts"
THUMBNAIL = 160
_WEBP_QUALITY = 90
# WebP keeps the alpha channel lossless; the accumulated gradient is noisy at the pixel level,
# and 64 opacity levels (invisible steps of 1.6 %) make the overlay a quarter smaller.
_ALPHA_LEVELS = 64
_JPEG_QUALITY = 85
_KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
_FOLDERS = ("", "items", "images", "manifests")
# Small canvases are shown enlarged on their page, so that a 64-pixel test gallery is legible.
_SMALLEST_VIEW = 384


def write_images(
    site: str | os.PathLike,
    stem: str,
    image01: np.ndarray,
    transparency: np.ndarray,
) -> dict[str, str]:
    """Write the image, its overlay and its thumbnail of one item, atomically.

    Parameters
    ----------
    site
        The site folder.
    stem
        File name stem, ``<key>-<hash prefix>``: a file name never changes meaning.
    image01
        The image (H, W, C) in [0, 1], C = 1 or 3 (e.g. ``result.images01()[i]``).
    transparency
        Its raw transparency map (H, W, C); the overlay's alpha channel is
        ``xmaco.plot.transparency_alpha(transparency)`` in 64 levels.

    Returns
    -------
    dict
        ``{"image": ..., "overlay": ..., "thumb": ...}``, paths relative to ``site``.

    Example
    -------
    >>> import numpy as np, tempfile, cv2, os
    >>> site = tempfile.mkdtemp()
    >>> files = write_images(site, "class-0001-abc", np.random.rand(32, 32, 3),
    ...                      np.random.rand(32, 32, 3))
    >>> files["overlay"], cv2.imread(os.path.join(site, files["overlay"]),
    ...                              cv2.IMREAD_UNCHANGED).shape
    ('images/class-0001-abc-overlay.webp', (32, 32, 4))
    """
    pixels = np.clip(np.asarray(image01, np.float32), 0.0, 1.0)
    if pixels.ndim != 3 or pixels.shape[-1] not in (1, 3):
        raise ValueError(
            f"Expected image01 of shape (H, W, 1) or (H, W, 3). Received: shape {pixels.shape}"
        )
    rgb = np.rint(255 * np.repeat(pixels, 3 // pixels.shape[-1], axis=-1)).astype(np.uint8)
    levels = _ALPHA_LEVELS - 1
    alpha = np.rint(np.rint(levels * transparency_alpha(transparency)) * 255 / levels)
    alpha = alpha.astype(np.uint8)
    side = min(THUMBNAIL, *rgb.shape[:2])
    thumb = cv2.resize(rgb, (side, side), interpolation=cv2.INTER_AREA)
    files = {
        "image": f"images/{stem}.webp",
        "overlay": f"images/{stem}-overlay.webp",
        "thumb": f"images/{stem}-thumb.jpg",
    }
    quality = [cv2.IMWRITE_WEBP_QUALITY, _WEBP_QUALITY]
    _write_encoded(Path(site) / files["image"], rgb, ".webp", quality)
    _write_encoded(Path(site) / files["overlay"], np.dstack([rgb, alpha]), ".webp", quality)
    _write_encoded(
        Path(site) / files["thumb"], thumb, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY]
    )
    return files


def _write_encoded(path: Path, rgb: np.ndarray, suffix: str, parameters: list[int]) -> None:
    order = [2, 1, 0, 3][: rgb.shape[-1]]  # OpenCV wants BGR(A)
    ok, encoded = cv2.imencode(suffix, np.ascontiguousarray(rgb[..., order]), parameters)
    if not ok:
        raise RuntimeError(f"OpenCV could not encode {path.name} ({suffix}, {rgb.shape})")
    write_readable(path, encoded.tobytes())


def remove_stale_temporary_files(site: str | os.PathLike, older_than: float = 60.0) -> int:
    """Remove the temporary files left by writes killed part way (SIGKILL, power loss).

    ``xmaco.files.atomic_write`` writes ``.<name>.<random>.tmp`` beside its target and
    renames it when complete; a killed process leaves it behind. A write lasts milliseconds,
    so files older than ``older_than`` seconds belong to no live writer, even when other
    shards write into the same site.

    Returns
    -------
    int
        The number of files removed.

    Example
    -------
    >>> import os, pathlib, tempfile, time
    >>> site = pathlib.Path(tempfile.mkdtemp())
    >>> (site / ".index.html.k2x9.tmp").write_text("<!DOCTYPE ht")
    12
    >>> os.utime(site / ".index.html.k2x9.tmp", (time.time() - 600, time.time() - 600))
    >>> remove_stale_temporary_files(site)
    1
    """
    limit = time.time() - older_than
    removed = 0
    for folder in _FOLDERS:
        directory = Path(site) / folder
        if not directory.is_dir():
            continue
        for path in directory.glob(".*.tmp"):
            try:
                if path.stat().st_mtime < limit:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
    return removed


def read_concepts(site: str | os.PathLike, key: str) -> list[dict[str, Any]]:
    """The concept visualizations recorded for item ``key``, or ``[]``.

    Reads ``<site>/concepts/<key>/concepts.json`` (format in the module docstring). A file
    that does not follow the format is reported with a warning and shows no concepts: a bad
    concepts file never breaks a page.

    Returns
    -------
    list of dict
        ``{"image": path relative to site, "importance": float | None, "label": str}``,
        in the file's order, only for images that exist.

    Example
    -------
    >>> import tempfile
    >>> read_concepts(tempfile.mkdtemp(), "class-0001")
    []
    """
    folder = Path(site) / CONCEPTS / key
    path = folder / "concepts.json"
    if not path.is_file():
        return []
    try:
        listed = json.loads(path.read_text(encoding="utf-8"))["concepts"]
        concepts = []
        for number, concept in enumerate(listed):
            name = str(concept["image"])
            importance = concept.get("importance")
            if Path(name).name != name or Path(name).suffix.lower() not in _IMAGE_SUFFIXES:
                raise ValueError(f"image {name!r} is not a PNG, JPEG or WebP file name")
            if importance is not None and not isinstance(importance, int | float):
                raise ValueError(f"importance {importance!r} is not a number")
            if (folder / name).is_file():
                concepts.append(
                    {
                        "image": f"{CONCEPTS}/{key}/{name}",
                        "importance": None if importance is None else float(importance),
                        "label": str(concept.get("label") or f"concept {number}"),
                    }
                )
        return concepts
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        warnings.warn(
            f"Ignoring {path}: expected {{'concepts': [{{'image': 'file.webp', 'importance': "
            f"0.4, 'label': '...'}}, ...]}}. Received: {type(error).__name__}: {error}",
            RuntimeWarning,
            stacklevel=2,
        )
        return []


def write_concepts(
    site: str | os.PathLike,
    key: str,
    result: Any,
    importance: Sequence[float] | None = None,
) -> Path:
    """Put the visualizations of an item's concepts into the site, for its page to show.

    Writes ``concepts/<key>/<i>.webp`` and ``concepts/<key>/concepts.json``; the item page
    shows them the next time the site is written (after the next batch, or at once with
    :func:`write_site` or ``xmaco gallery --assemble``).

    Parameters
    ----------
    site
        The site folder.
    key
        The item key, e.g. ``"class-0001"`` (:attr:`xmaco.gallery.Item.key`).
    result
        A :class:`xmaco.Result` with one visualization per concept, most important first,
        e.g. from ``xmaco.concepts.visualize_concepts``; its names label the concepts.
    importance
        One number per concept; None: ``result.config["concepts"]["importance"]`` when
        recorded (``visualize_concepts`` records it), else no importance is shown.

    Returns
    -------
    pathlib.Path
        The ``concepts.json`` written.

    Example
    -------
    >>> import numpy as np, tempfile
    >>> from xmaco import Result
    >>> result = Result(images=np.random.rand(2, 32, 32, 3).astype("float32"),
    ...                 transparency=np.ones((2, 32, 32, 3), "float32"),
    ...                 history=np.zeros((1, 2), "float32"), names=["fins", "eye"], config={})
    >>> site = tempfile.mkdtemp()
    >>> _ = write_concepts(site, "class-0001", result, importance=[0.7, 0.3])
    >>> [(c["label"], c["importance"]) for c in read_concepts(site, "class-0001")]
    [('fins', 0.7), ('eye', 0.3)]
    """
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValueError(
            "Expected key to be an item key such as 'class-0001' (letters, digits, '_', '.' and "
            f"'-', not starting with '.'). Received: key={key!r}"
        )
    if importance is None:
        importance = (result.config.get("concepts") or {}).get("importance")
    if importance is not None and len(importance) != len(result):
        raise ValueError(
            f"Expected one importance per concept ({len(result)}). Received: "
            f"{len(importance)} values"
        )
    folder = Path(site) / CONCEPTS / key
    listed = []
    for i, image in enumerate(result.images01()):
        rgb = np.rint(255 * np.repeat(image, 3 // image.shape[-1], axis=-1)).astype(np.uint8)
        quality = [cv2.IMWRITE_WEBP_QUALITY, _WEBP_QUALITY]
        _write_encoded(folder / f"{i}.webp", rgb, ".webp", quality)
        listed.append(
            {
                "image": f"{i}.webp",
                "importance": None if importance is None else float(importance[i]),
                "label": result.names[i],
            }
        )
    path = folder / "concepts.json"
    write_readable(path, json.dumps({"concepts": listed}, indent=1).encode("utf-8"))
    return path


def write_site(site: str | os.PathLike) -> Path:
    """Write the index and the item pages from every manifest in ``site``.

    Only items whose entry is recorded and whose files exist appear; items selected by some
    manifest but not finished are counted as pending. Pages whose content did not change are
    left untouched.

    Returns
    -------
    pathlib.Path
        The index page.

    Example
    -------
    >>> import tempfile
    >>> write_site(tempfile.mkdtemp()).name
    'index.html'
    """
    site = Path(site)
    manifests = read_all(site)
    entries = sorted(
        finished(manifests, site).values(), key=lambda e: (e["kind"], e["layer"], e["index"])
    )
    selected = {key for manifest in manifests for key in manifest.requested}
    pending = len(selected - {entry["key"] for entry in entries})
    for number, entry in enumerate(entries):
        before = entries[number - 1] if number > 0 else None
        after = entries[number + 1] if number + 1 < len(entries) else None
        page = _item_page(entry, before, after, read_concepts(site, entry["key"]))
        _write_if_changed(site / "items" / f"{entry['key']}.html", page)
    index = site / "index.html"
    _write_if_changed(index, _index_page(entries, pending, manifests))
    return index


def _write_if_changed(path: Path, text: str) -> None:
    data = text.encode("utf-8")
    try:
        if path.read_bytes() == data:
            return
    except FileNotFoundError:
        pass
    write_readable(path, data)


# ------------------------------------------------------------------------------ pages
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


def _page(title: str, body: str, script: str) -> str:
    return document(title, body, GALLERY_CSS, script=script, viewport=True)


def _index_page(entries: list[dict[str, Any]], pending: int, manifests: list[Manifest]) -> str:
    models = sorted({entry["settings"]["model"] for entry in entries})
    title = f"xmaco gallery: {', '.join(models) or 'empty'}"
    groups: dict[tuple[str, str], list[str]] = {}
    for entry in entries:
        text = " ".join([str(entry["index"]), entry["label"], entry["kind"], entry["layer"]])
        card = (
            f'<a class="card" href="{_url("items/" + entry["key"] + ".html")}" '
            f'data-index="{entry["index"]}" data-text="{_e(text.lower())}">'
            f'<img src="{_url(entry["files"]["thumb"])}" alt="" loading="lazy" '
            f'width="{THUMBNAIL}" height="{THUMBNAIL}">'
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
        f"{count} visualization(s) in {len(runs)} MACO run(s), {_duration(seconds)} of "
        f"compute: {3600 * count / seconds:.0f} visualizations per hour of compute "
        f"(manifests: {names})."
    )


def _item_page(
    entry: dict[str, Any],
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    concepts: list[dict[str, Any]],
) -> str:
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
{_concepts_section(concepts)}
<section>
<h2>Reproduce</h2>
{_settings_table(entry)}
<p>The same item in a new gallery:</p>
<pre><code>{_e(_gallery_command(entry))}</code></pre>
{_visualize_section(entry)}
</section>"""
    return _page(f"{title} - xmaco gallery", body, _ITEM_SCRIPT)


def _concepts_section(concepts: list[dict[str, Any]]) -> str:
    if not concepts:
        return ""
    figures = "\n".join(
        f'<figure><img src="{_url("../" + concept["image"])}" alt="{_e(concept["label"])}" '
        f'loading="lazy"><figcaption>{_e(concept["label"])}'
        + (
            ""
            if concept["importance"] is None
            else f' <span class="muted">importance {concept["importance"]:.3g}</span>'
        )
        + "</figcaption></figure>"
        for concept in concepts
    )
    return f'<section>\n<h2>Concepts</h2>\n<div class="concepts">\n{figures}\n</div>\n</section>'


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


def _duration(seconds: float) -> str:
    hours, rest = divmod(round(seconds), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _url(path: str) -> str:
    return _e(quote(path))
