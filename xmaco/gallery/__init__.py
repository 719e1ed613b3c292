"""A browsable gallery of a whole model: every class, or every channel of a layer.

``xmaco gallery`` (or :func:`generate`) visualizes the items in batched MACO runs and writes a
static site (:mod:`xmaco.gallery.site`). Progress is recorded in manifests
(:mod:`xmaco.gallery.manifest`): rerunning resumes, a killed run loses at most its batch in
flight, changed settings invalidate only the items they affect. ``--shard i/n`` splits the
items between cluster jobs (``--shard auto`` reads it from Slurm's or Kubernetes' variables,
:mod:`xmaco.gallery.environment`) and :func:`assemble` builds the site from all of them.
``--concepts-from DIR`` adds the concepts of classes with photos to their pages
(:mod:`xmaco.gallery.class_concepts`).

Example
-------
>>> from xmaco import gallery
>>> gallery.parse_selection("0-2,130", 1000, "--classes")
[0, 1, 2, 130]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xmaco._lazy import attach

if TYPE_CHECKING:
    from xmaco.cli.gallery import add_gallery_command
    from xmaco.gallery.class_concepts import ConceptSettings
    from xmaco.gallery.environment import shard_from_environment
    from xmaco.gallery.items import Item, batches, parse_selection, parse_shard, select, shard
    from xmaco.gallery.manifest import Manifest, read_all, settings_hash
    from xmaco.gallery.runner import Settings, Summary, assemble, generate, load_model
    from xmaco.gallery.site import read_concepts, write_site

__all__ = [
    "ConceptSettings",
    "Item",
    "Manifest",
    "Settings",
    "Summary",
    "add_gallery_command",
    "assemble",
    "batches",
    "generate",
    "load_model",
    "parse_selection",
    "parse_shard",
    "read_all",
    "read_concepts",
    "select",
    "settings_hash",
    "shard",
    "shard_from_environment",
    "write_site",
]

# Public name -> module defining it, imported on first access: the command line reads the
# selection and shard parsers without the runner and the site writer (OpenCV, NumPy).
__getattr__, __dir__ = attach(
    __name__,
    {
        "add_gallery_command": "xmaco.cli.gallery",
        "ConceptSettings": ".class_concepts",
        "shard_from_environment": ".environment",
        **dict.fromkeys(
            ("Item", "batches", "parse_selection", "parse_shard", "select", "shard"), ".items"
        ),
        **dict.fromkeys(("Manifest", "read_all", "settings_hash"), ".manifest"),
        **dict.fromkeys(("Settings", "Summary", "assemble", "generate", "load_model"), ".runner"),
        **dict.fromkeys(("read_concepts", "write_site"), ".site"),
    },
)
