"""The concepts of a class, from photos, on its gallery page (``--concepts-from DIR``).

For each class of the run's shard that has a folder of photos (:mod:`xmaco.gallery.photos`),
:func:`xmaco.concepts.discover` finds the class's concepts at a layer and ranks them by
importance, :func:`xmaco.concepts.visualize_concepts` renders them with MACO at the gallery's
settings, and the pictures, the best crops of each concept and ``concepts.json`` go to
``<site>/concepts/<key>/`` (:mod:`xmaco.gallery.site` reads them into the class's page).

Resuming: ``concepts.json`` is written last and atomically, and records a hash of everything
the concepts depend on (the class's settings hash, the concept settings, the photos' names
and contents); a class whose ``concepts.json`` has the same hash and whose files exist is
finished. Files are named by that hash, so a new computation never overwrites the files of
the record in place; those no longer referenced are removed after it.

Example
-------
>>> ConceptSettings("photos", layer="conv2", rank=4).top
8
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xmaco._checks import check_count
from xmaco.gallery._concept_files import ConceptFiles, finished_record
from xmaco.gallery.items import Item
from xmaco.gallery.photos import PHOTO_SUFFIXES, photo_folders, photos_digest
from xmaco.gallery.site import CONCEPTS

__all__ = ["FORMAT", "ConceptSettings", "ConceptStep"]

FORMAT = "xmaco.gallery.concepts/1"
# xmaco.concepts.refine's defaults: the regions of a concept decomposed again, crops of each.
_REGIONS = 16
_REGION_CROPS = 8


@dataclasses.dataclass(frozen=True)
class ConceptSettings:
    """What defines the concepts of the classes of a gallery (``--concept-*`` options).

    Attributes
    ----------
    photos
        The ``--concepts-from`` folder: ``<photos>/<class index or name>/*.jpg``.
    layer
        The layer factorised (non-negative activations, e.g. after a ReLU).
    rank
        Concepts per class.
    image_crops
        Random crops per photo for the factorisation.
    top
        Best crops shown per concept.
    designs
        Rows of each Sobol matrix of the importance (total-order Sobol indices, as CRAFT), a
        power of two.
    refine_layer
        An earlier layer at which the most important concepts are split into sub-concepts
        (:func:`xmaco.concepts.refine`); None: no sub-concepts.
    refine_top
        How many of the most important concepts are split.
    sub_rank
        Sub-concepts per split concept.

    Example
    -------
    >>> ConceptSettings("photos").layer
    'head_activation'
    >>> ConceptSettings("photos", rank=0)
    Traceback (most recent call last):
    ...
    ValueError: Expected rank to be a positive integer. Received: rank=0
    """

    photos: str | os.PathLike
    layer: str = "head_activation"
    rank: int = 10
    image_crops: int = 32
    top: int = 8
    designs: int = 32
    refine_layer: str | None = None
    refine_top: int = 1
    sub_rank: int = 3

    def __post_init__(self) -> None:
        for name in ("rank", "image_crops", "top", "designs", "refine_top", "sub_rank"):
            check_count(getattr(self, name), name, minimum=1)
        if not isinstance(self.layer, str) or not self.layer:
            raise ValueError(f"Expected layer to be a layer name. Received: layer={self.layer!r}")
        if self.designs < 2 or self.designs & (self.designs - 1):
            raise ValueError(
                "Expected designs to be a power of two >= 2 (the rows of a Sobol matrix). "
                f"Received: designs={self.designs!r}"
            )
        if self.refine_layer is not None and not isinstance(self.refine_layer, str):
            raise ValueError(
                "Expected refine_layer to be None or a layer name. Received: "
                f"refine_layer={self.refine_layer!r}"
            )

    def options(self) -> list[str]:
        """The command-line options that give these settings.

        Example
        -------
        >>> ConceptSettings("photos", layer="conv2").options()[:4]
        ['--concepts-from', 'photos', '--concept-layer', 'conv2']
        """
        return [
            "--concepts-from",
            str(self.photos),
            "--concept-layer",
            self.layer,
            "--concept-rank",
            str(self.rank),
            "--concept-image-crops",
            str(self.image_crops),
            "--concept-top",
            str(self.top),
            "--concept-designs",
            str(self.designs),
        ] + (
            []
            if self.refine_layer is None
            else [
                "--concept-refine-layer",
                self.refine_layer,
                "--concept-refine-top",
                str(self.refine_top),
                "--concept-sub-rank",
                str(self.sub_rank),
            ]
        )


@dataclasses.dataclass
class ConceptStep:
    """The concepts of one gallery run: which classes have photos, and their computation.

    Built by :meth:`prepare`, which checks the photos, the layers and the ranks before any
    MACO run; :meth:`run` computes what is not finished among the items given.

    Example
    -------
    >>> import keras, tempfile
    >>> model = keras.Sequential([keras.Input((8, 8, 3)),
    ...     keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
    ...     keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2, name="logits")])
    >>> ConceptStep.prepare(ConceptSettings(tempfile.mkdtemp(), layer="conv"), model, [], {})
    Traceback (most recent call last):
    ...
    ValueError: Expected --concepts-from to hold one folder of photos per class ...
    """

    settings: ConceptSettings
    model: Any
    layer: str
    folders: dict[int, Path]
    engine: dict[str, Any]
    refine_layer: str | None = None
    digests: dict[int, str] = dataclasses.field(default_factory=dict)
    computed: list[str] = dataclasses.field(default_factory=list)
    failed: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    @classmethod
    def prepare(
        cls, settings: ConceptSettings, model: Any, items: list[Item], engine: dict[str, Any]
    ) -> ConceptStep:
        """Check the photos, the layers and the ranks; ``engine``: the keywords of the MACO
        runs of the concept pictures (``steps``, ``crops``, ``image_size``, ``preset``...)."""
        classes = int(model.get_layer(items[0].layer).output.shape[-1]) if items else None
        folders = photo_folders(settings.photos, classes or _class_count(model))
        layer, channels = _layer(model, settings.layer)
        for folder in folders.values():
            photos = sum(1 for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
            _check_rank("--concept-rank", settings.rank, channels, layer, folder, photos, settings)
        refine_layer = None
        if settings.refine_layer is not None:
            refine_layer, channels = _layer(model, settings.refine_layer)
            if settings.sub_rank > min(channels, _REGIONS * _REGION_CROPS):
                raise ValueError(
                    f"Expected --concept-sub-rank to be at most {min(channels, 128)} (the "
                    f"channels of {refine_layer}, and {_REGIONS} regions x {_REGION_CROPS} "
                    f"crops). Received: --concept-sub-rank {settings.sub_rank}"
                )
        return cls(settings, model, layer, folders, engine, refine_layer)

    def describe(self, items: list[Item], selected: list[Item]) -> str:
        """How many of ``items`` (this shard's) have photos, and which classes with photos
        the whole selection leaves out: ``"; concepts of 2 class(es) with photos ..."``."""
        mine = sum(item.index in self.folders for item in items)
        left = sorted(set(self.folders) - {item.index for item in selected})
        return f"; concepts of {mine} class(es) with photos" + (
            f" (photos of class(es) {', '.join(map(str, left))} are not among --classes)"
            if left
            else ""
        )

    def digest(self, item: Item, item_hash: str) -> str:
        """The hash of everything the concepts of ``item`` depend on."""
        if item.index not in self.digests:
            self.digests[item.index] = photos_digest(self.folders[item.index])
        payload = {
            **dataclasses.asdict(self.settings),
            "format": FORMAT,
            "item": item_hash,
            "layer": self.layer,
            "refine_layer": self.refine_layer,
            "photos": self.digests[item.index],
        }
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def run(
        self,
        site: Path,
        items: list[Item],
        hashes: dict[str, str],
        say: Callable[[str], None],
        force: bool = False,
    ) -> None:
        """Compute and write the concepts of the ``items`` that have photos and are not
        finished (all of them with ``force``); a run that goes non-finite is skipped."""
        import xmaco

        for item in items:
            if item.index not in self.folders:
                continue
            digest = self.digest(item, hashes[item.key])
            if not force and finished_record(site / CONCEPTS / item.key, digest):
                continue
            start = time.perf_counter()
            try:
                about = self.compute(site / CONCEPTS / item.key, item, digest)
            except xmaco.NonFiniteError as error:
                self.failed.append(item.key)
                say(f"skipped the concepts of {item.label}: {error}")
                continue
            elapsed = time.perf_counter() - start
            self.computed.append(item.key)
            self.seconds += elapsed
            say(
                f"concepts of {item.label}: {about['rank']} from {about['photos']} photo(s) "
                f"in {elapsed:.1f}s"
            )

    def compute(self, folder: Path, item: Item, digest: str) -> dict[str, Any]:
        """Find, rank, split and picture the concepts of ``item``; write ``folder``."""
        from xmaco import concepts

        seed = self.engine["seed"] + item.index  # the class's own seed, as its picture
        common = {"seed": seed, "values_range": self.engine["values_range"]}
        photos = self.folders[item.index]
        bank = concepts.discover(
            self.model,
            self.layer,
            photos,
            item.index,
            rank=self.settings.rank,
            crops=self.settings.image_crops,
            top=self.settings.top,
            class_layer=item.layer,
            designs=self.settings.designs,
            **common,
        )
        writer = ConceptFiles(folder, digest[:12], bank.values_range)
        # unweighted: where each concept is present, also for one of no importance
        maps = concepts.attribution_maps(
            bank, self.model, photos, weighted=False, values_range=common["values_range"]
        )
        listed = writer.concepts(bank, self.visualize(bank, seed), maps, photos)
        for k in range(min(self.settings.refine_top, len(bank)) if self.refine_layer else 0):
            sub = concepts.refine(
                bank,
                k,
                self.model,
                self.refine_layer,
                photos,
                rank=self.settings.sub_rank,
                regions=min(_REGIONS, len(bank.boxes)),
                top=self.settings.top,
                designs=self.settings.designs,
                class_layer=item.layer,
                **common,
            )
            listed[k]["children"] = writer.concepts(sub, self.visualize(sub, seed))
        about = _about(bank, seed, photos, self.settings)
        writer.finish({"format": FORMAT, "hash": digest, "concepts": listed, "about": about})
        return about

    def visualize(self, bank: Any, seed: int) -> Any:
        """The MACO pictures of a bank's concepts at the gallery's settings."""
        from xmaco import concepts

        result = concepts.visualize_concepts(
            bank, self.model, **{**self.engine, "seed": seed}, verbose=False
        )
        if result.interrupted:  # Ctrl-C: nothing of this class is recorded
            raise KeyboardInterrupt
        return result


def _about(bank: Any, seed: int, photos: Path, settings: ConceptSettings) -> dict[str, Any]:
    return {
        "layer": bank.layer,
        "rank": len(bank),
        "photos": int(bank.owners.max()) + 1,
        "crops": len(bank.boxes),
        "importance_method": bank.importance_method,
        "importance_settings": dict(bank.importance_settings),
        "error": round(float(bank.error), 6),
        "seed": seed,
        "folder": str(photos),
        "settings": dataclasses.asdict(settings) | {"photos": str(settings.photos)},
    }


def _layer(model: Any, name: str) -> tuple[str, int]:
    """The layer's name (validated with the close matches, a stage alias resolved) and its
    channels."""
    from xmaco.objectives import Objective

    layer = Objective.channel(model, name, 0).layers[0]
    return layer, int(model.get_layer(layer).output.shape[-1])


def _check_rank(option, rank, channels, layer, folder, photos, settings) -> None:
    most = min(channels, photos * settings.image_crops)
    if rank > most:
        raise ValueError(
            f"Expected {option} to be at most {most} for '{folder}' (min(channels of {layer} = "
            f"{channels}, {photos} photo(s) x --concept-image-crops {settings.image_crops})). "
            f"Received: {option} {rank}"
        )


def _class_count(model: Any) -> int:
    from xmaco.gallery.items import class_layer

    return int(model.get_layer(class_layer(model)).output.shape[-1])
