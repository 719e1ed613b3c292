"""The static site of a gallery: images, an index page with search, a page per item.

Layout of a site folder::

    index.html                      thumbnails, names, indices, a search box
    items/<key>.html                one page per finished item
    images/<key>-<hash>.webp        the visualization (lossy WebP)
    images/<key>-<hash>-overlay.webp   the same with the transparency map as alpha (WebP)
    images/<key>-<hash>-thumb.jpg   thumbnail (JPEG)
    manifests/<name>.json           what is finished (see :mod:`xmaco.gallery.manifest`)
    concepts/<key>/concepts.json    optional concept visualizations of an item (read only)

The pages (made by :mod:`xmaco.gallery._pages`) use relative links, inline CSS and inline
vanilla JavaScript only (no fonts, no CDN, no fetch), so the site works from ``file://`` as
from any static web server. Every file is written atomically, and a page is rewritten only
when its content changes; the index links only items whose entry and files are complete.

Concepts are read from ``concepts/<key>/concepts.json``::

    {"concepts": [{"image": "0.webp", "importance": 0.42, "label": "fins",
                   "importance_text": "Sobol index 0.42 ± 0.03", "crops": ["0-1.jpg", ...],
                   "attribution": "0-where.jpg", "children": [...]}, ...],
     "about": {...}}

``image`` is a file in the same folder (PNG, JPEG or WebP); the other fields are optional:
``importance`` (a number, e.g. the concept's Sobol index), its text, ``label``, ``crops`` and
``attribution`` (files in the same folder), ``children`` (sub-concepts, the same fields) and
``about`` (how they were found, for the commands that reproduce them). ``xmaco gallery
--concepts-from`` writes them (:mod:`xmaco.gallery.class_concepts`); :func:`write_concepts`
writes that folder from the MACO visualizations of a class's concepts
(``xmaco.concepts.visualize_concepts``, or any :class:`xmaco.Result`).
"""

from __future__ import annotations

import json
import os
import re
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from xmaco.gallery._io import write_encoded, write_readable
from xmaco.gallery._pages import index_page, item_page
from xmaco.gallery.manifest import finished, read_all
from xmaco.plot import transparency_alpha

__all__ = [
    "CONCEPTS",
    "THUMBNAIL",
    "concept_record",
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
    write_encoded(Path(site) / files["image"], rgb, ".webp", quality)
    write_encoded(Path(site) / files["overlay"], np.dstack([rgb, alpha]), ".webp", quality)
    write_encoded(
        Path(site) / files["thumb"], thumb, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY]
    )
    return files


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
    concepts = Path(site) / CONCEPTS
    folders = [*_FOLDERS, *(p.relative_to(site) for p in concepts.glob("*") if p.is_dir())]
    for folder in folders:
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
        ``{"image": path relative to site, "importance": float | None, "label": str,
        "crops": [paths], "attribution": path | None, "children": [concepts]}``, in the
        file's order, only for images that exist.

    Example
    -------
    >>> import tempfile
    >>> read_concepts(tempfile.mkdtemp(), "class-0001")
    []
    """
    return concept_record(site, key)["concepts"]


def concept_record(site: str | os.PathLike, key: str) -> dict[str, Any]:
    """The whole ``concepts.json`` of item ``key``: its concepts (as :func:`read_concepts`
    gives them) and the other fields as written (``hash``, ``about``...); no concepts if none.

    Example
    -------
    >>> import tempfile
    >>> concept_record(tempfile.mkdtemp(), "class-0001")
    {'concepts': []}
    """
    folder = Path(site) / CONCEPTS / key
    path = folder / "concepts.json"
    if not path.is_file():
        return {"concepts": []}
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record, dict):
            raise TypeError(f"the file holds a {type(record).__name__}, not an object")
        return {**record, "concepts": _listed(record["concepts"], folder, key)}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        warnings.warn(
            f"Ignoring {path}: expected {{'concepts': [{{'image': 'file.webp', 'importance': "
            f"0.4, 'label': '...'}}, ...]}}. Received: {type(error).__name__}: {error}",
            RuntimeWarning,
            stacklevel=2,
        )
        return {"concepts": []}


def _listed(listed: list[Any], folder: Path, key: str) -> list[dict[str, Any]]:
    """The concepts of a ``concepts.json`` list (recursively, their children)."""
    if not isinstance(listed, list):
        raise TypeError(f"'concepts' is a {type(listed).__name__}, not a list")

    def file(name: Any) -> str:
        name = str(name)
        if Path(name).name != name or Path(name).suffix.lower() not in _IMAGE_SUFFIXES:
            raise ValueError(f"image {name!r} is not a PNG, JPEG or WebP file name")
        return name

    concepts = []
    for number, concept in enumerate(listed):
        name = file(concept["image"])
        importance = concept.get("importance")
        if importance is not None and not isinstance(importance, int | float):
            raise ValueError(f"importance {importance!r} is not a number")
        crops = [file(crop) for crop in concept.get("crops", [])]
        attribution = concept.get("attribution")
        attribution = None if attribution is None else file(attribution)
        if (folder / name).is_file():
            concepts.append(
                {
                    "image": f"{CONCEPTS}/{key}/{name}",
                    "importance": None if importance is None else float(importance),
                    "label": str(concept.get("label") or f"concept {number}"),
                    "importance_text": str(concept.get("importance_text") or ""),
                    "crops": [f"{CONCEPTS}/{key}/{c}" for c in crops if (folder / c).is_file()],
                    "attribution": (
                        f"{CONCEPTS}/{key}/{attribution}"
                        if attribution and (folder / attribution).is_file()
                        else None
                    ),
                    "children": _listed(concept.get("children", []), folder, key),
                }
            )
    return concepts


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
        write_encoded(folder / f"{i}.webp", rgb, ".webp", quality)
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
        page = item_page(entry, before, after, concept_record(site, entry["key"]))
        _write_if_changed(site / "items" / f"{entry['key']}.html", page)
    index = site / "index.html"
    _write_if_changed(index, index_page(entries, pending, manifests, THUMBNAIL))
    return index


def _write_if_changed(path: Path, text: str) -> None:
    data = text.encode("utf-8")
    try:
        if path.read_bytes() == data:
            return
    except FileNotFoundError:
        pass
    write_readable(path, data)
