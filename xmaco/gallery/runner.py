"""Generate a gallery: batched MACO runs, resumable, shardable, safe against SIGKILL.

:func:`generate` visualizes the selected items in MACO runs of up to ``batch`` items. After
every run it writes the images, then the manifest entry of each item (atomically), then the
pages; a process killed at any moment loses at most the run in flight. Rerunning the same
command skips every item whose manifest entry has the same settings hash and whose files exist.
:func:`assemble` rebuilds the site from the manifests of all shards.

Example
-------
>>> settings = Settings(steps=128, crops=6, image_size=256)  # the demo's setting
>>> settings.model, settings.seed
('efficientnet_lite0', 0)
"""

from __future__ import annotations

import dataclasses
import hashlib
import numbers
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from xmaco import presets
from xmaco.gallery._runs import Job
from xmaco.gallery.class_concepts import ConceptSettings, ConceptStep
from xmaco.gallery.items import Item, select, shard
from xmaco.gallery.manifest import Manifest, finished, manifest_name, read_all, settings_hash
from xmaco.gallery.site import remove_stale_temporary_files, write_site

__all__ = ["NOISE", "ConceptSettings", "Settings", "Summary", "assemble", "generate", "load_model"]

#: Crop noise of every gallery run (the MACO reference value), part of the settings hash.
NOISE = 0.08
_EMBEDDED = "efficientnet_lite0"


@dataclasses.dataclass(frozen=True)
class Settings:
    """What defines every visualization of a gallery.

    Attributes
    ----------
    model
        A name from ``xmaco.zoo.available()`` or the path of a ``.keras``/``.h5`` file.
    steps, crops
        As in :func:`xmaco.maco`; None: the preset's.
    image_size
        As in :func:`xmaco.maco` (the canvas is square).
    seed
        Base seed: item ``k`` (class or channel ``k``) uses ``seed + k``, whichever items
        are computed alongside it.
    values_range
        The model's input range; None: the range recorded on catalogue models, else (0, 1).
    spectrum
        None (the natural default) or the path of a ``.npy`` magnitude.
    preset
        A name from :data:`xmaco.presets.PRESETS`: the steps, crops and crop schedule (see
        :func:`xmaco.maco`); :data:`xmaco.presets.DEFAULT` (``"fast"``) by default.

    Example
    -------
    >>> Settings(steps=64, crops=6, image_size=256).seed
    0
    >>> settings = Settings(preset="reference")
    >>> settings.steps, settings.crops
    (256, 32)
    """

    model: str = _EMBEDDED
    steps: int | None = None
    crops: int | None = None
    image_size: int = 512
    seed: int = 0
    values_range: tuple[float, float] | None = None
    spectrum: str | None = None
    preset: str = presets.DEFAULT

    def __post_init__(self) -> None:
        chosen = presets.get(self.preset)
        # Frozen: the preset's values are filled in once, here.
        object.__setattr__(self, "steps", chosen.steps if self.steps is None else self.steps)
        object.__setattr__(self, "crops", chosen.crops if self.crops is None else self.crops)
        if not isinstance(self.model, str | os.PathLike) or not str(self.model):
            raise ValueError(
                "Expected model to be a catalogue name or the path of a .keras or .h5 file. "
                f"Received: model={self.model!r}"
            )
        for name, minimum in (("steps", 1), ("crops", 1), ("image_size", 8), ("seed", 0)):
            value = getattr(self, name)
            integral = isinstance(value, numbers.Integral) and not isinstance(value, bool)
            if not integral or value < minimum:
                raise ValueError(
                    f"Expected {name} to be an integer >= {minimum}. Received: {name}={value!r}"
                )
        if self.spectrum is not None and not Path(self.spectrum).is_file():
            raise ValueError(
                "Expected spectrum to be None or the path of a .npy file. Received: spectrum="
                f"{str(self.spectrum)!r} (no such file)"
            )


@dataclasses.dataclass(frozen=True)
class Summary:
    """What an invocation did.

    Attributes
    ----------
    site
        The index page.
    selected
        Item keys this invocation was responsible for (its shard's share, or all finished
        and pending items for :func:`assemble`).
    computed
        Item keys visualized by this invocation, in order.
    skipped
        Number of selected items already finished with the same settings.
    failed
        Item keys whose run went non-finite (not recorded; a rerun retries them).
    missing
        For :func:`assemble`: keys selected by some manifest and not finished.
    seconds
        Time spent in MACO runs of the items.
    concepts
        Item keys whose concepts this invocation computed (``concepts=`` of :func:`generate`).
    concept_seconds
        Time spent on them: discovery, importance and MACO runs of the concepts.

    Example
    -------
    >>> import pathlib
    >>> summary = Summary(site=pathlib.Path("site/index.html"), selected=["class-0000"],
    ...                   computed=["class-0000"], skipped=0, failed=[], missing=[], seconds=30.0)
    >>> summary.per_hour
    120.0
    """

    site: Path
    selected: list[str]
    computed: list[str]
    skipped: int
    failed: list[str]
    missing: list[str]
    seconds: float
    concepts: list[str] = dataclasses.field(default_factory=list)
    concept_seconds: float = 0.0

    @property
    def per_hour(self) -> float:
        """Visualizations per hour of MACO runs (0 when nothing was computed)."""
        return 3600.0 * len(self.computed) / self.seconds if self.seconds > 0 else 0.0


def load_model(spec: str | os.PathLike) -> Any:
    """Load a catalogue model with raw class scores (logits), or a saved Keras file.

    Keras applications end in a softmax unless asked otherwise; a class objective needs the
    logits, which :func:`xmaco.zoo.load` gives by default (``classifier_activation=None``).

    Example
    -------
    >>> load_model("efficientnet_lite0").get_layer("logits").output.shape
    (None, 1000)
    """
    from xmaco import zoo

    canonical = _catalogue_name(spec)
    # zoo.load builds catalogue classifiers with their logits (classifier_activation=None).
    return zoo.load(canonical if canonical is not None else spec)


def _catalogue_name(spec: str | os.PathLike) -> str | None:
    from xmaco import zoo

    def key(name: str) -> str:
        return "".join(c for c in name.casefold() if c not in "-_ ")

    if not isinstance(spec, str):
        return None
    return {key(name): name for name in zoo.available()}.get(key(spec))


def _file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _identity(settings: Settings, model: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the settings as recorded and shown, the part of them that is hashed).

    A file is identified by its content, not its path: the same model or spectrum copied
    elsewhere (another node of a cluster) keeps every item valid.
    """
    from xmaco.engine import values_range_of

    low, high = settings.values_range or values_range_of(model) or (0.0, 1.0)
    canonical = _catalogue_name(settings.model)
    model_sha = None if canonical else _file_sha256(settings.model)
    spectrum_sha = _file_sha256(settings.spectrum) if settings.spectrum else None
    shown = {
        "model": canonical or str(settings.model),
        "model_sha256": model_sha,
        "steps": int(settings.steps),
        "crops": int(settings.crops),
        "image_size": int(settings.image_size),
        "seed": int(settings.seed),
        "values_range": [float(low), float(high)],
        "spectrum": None if settings.spectrum is None else str(settings.spectrum),
        "spectrum_sha256": spectrum_sha,
        "noise": NOISE,
        "method": "maco",
        "preset": settings.preset,
    }
    hashed = dict(shown)
    # the preset's values, not only its name: items made before a preset changed are redone
    hashed["preset"] = presets.get(settings.preset).describe()
    if model_sha:
        hashed.pop("model")
    if spectrum_sha:
        hashed.pop("spectrum")
    return shown, hashed


def generate(
    out: str | os.PathLike,
    settings: Settings,
    *,
    classes: str | Sequence[int] | None = None,
    channels: str | Sequence[int] | None = None,
    layer: str | None = None,
    batch: int = 8,
    shard_spec: tuple[int, int] | None = None,
    force: bool = False,
    batch_size: int | None = None,
    jit_compile: bool = False,
    strategy: Any = None,
    command: str = "",
    log: Callable[[str], None] | None = None,
    concepts: ConceptSettings | None = None,
) -> Summary:
    """Visualize the selected items into the site ``out``, resuming where a run stopped.

    Parameters
    ----------
    out
        The site folder, created if needed.
    settings
        The :class:`Settings` of every visualization.
    classes, channels, layer
        The items, as for :func:`xmaco.gallery.items.select`: ``classes="all"``,
        ``"0-99"``, ``"goldfish,2"``; or ``channels="0-63", layer="block3_out"``.
    batch
        Visualizations per MACO run; runs hold consecutive indices within aligned blocks
        of ``batch`` (see :func:`xmaco.gallery.items.batches`).
    shard_spec
        ``(i, n)``: compute only shard ``i`` of ``n`` (blocks of ``batch`` indices dealt
        round-robin), recorded in its own manifest ``shard-<i>-of-<n>.json``.
    force
        Recompute the selected items even when they are finished.
    batch_size
        Images per model call inside a run (micro-batches bound the memory; same images).
    jit_compile
        Compile the step with XLA.
    strategy
        A ``tf.distribute.Strategy`` (e.g. ``tf.distribute.MirroredStrategy()`` for the GPUs of
        this host): every step's crops are split across its replicas (see :func:`xmaco.maco`).
        The images are the same as on one device, so finished items stay valid.
    command
        The command line, recorded in the manifest.
    log
        Called with one line per finished run (None: silent).
    concepts
        :class:`ConceptSettings`: for each selected class of this shard with a folder of
        photos, its concepts, their importance, pictures and best crops on its page
        (:mod:`xmaco.gallery.class_concepts`), after the class's run; resumed like the items.

    Returns
    -------
    Summary

    Raises
    ------
    ValueError
        For a bad selection or setting, bad photo folders, or when another process writes the
        same manifest.
    xmaco.OutOfMemoryError
        When a run does not fit in memory (lower ``batch`` or set ``batch_size``).
    KeyboardInterrupt
        On Ctrl-C; finished runs stay recorded.

    Example
    -------
    >>> import keras, tempfile, os
    >>> inputs = keras.Input((16, 16, 3))
    >>> x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.keras")
    >>> keras.Model(inputs, keras.layers.Dense(3, name="logits")(x)).save(path)
    >>> settings = Settings(model=path, steps=2, crops=1, image_size=16)
    >>> site = tempfile.mkdtemp()
    >>> generate(site, settings, classes="0-1").computed
    ['class-0000', 'class-0001']
    >>> generate(site, settings, classes="all").computed  # resumes: only the new one
    ['class-0002']
    """
    from xmaco.files import ensure_writable_dir

    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"Expected batch to be a positive integer. Received: batch={batch!r}")
    site = ensure_writable_dir(out, argument="out")
    model = load_model(settings.model)
    everything = select(model, classes=classes, channels=channels, layer=layer)
    requested = [item.key for item in everything]
    items = everything if shard_spec is None else shard(everything, *shard_spec, block=batch)
    shown, hashed = _identity(settings, model)
    engine = _engine(settings, shown, batch_size, jit_compile, strategy)
    step = _concept_step(concepts, model, items, engine)  # checked before any work
    digests = {item.key: settings_hash(item, hashed) for item in items}
    job = Job(site, model, shown, digests, engine, log or (lambda line: None), step)
    manifest = Manifest.open(site, manifest_name(shard_spec))
    with manifest.lock():
        remove_stale_temporary_files(site)
        manifest = Manifest.open(site, manifest.name)  # re-read under the lock
        selection = [item.key for item in items]
        manifest.begin(shown, selection, requested, command)
        done = finished(read_all(site), site)
        pending = [
            item
            for item in items
            if force or done.get(item.key, {}).get("hash") != digests[item.key]
        ]
        write_site(site)
        job.say(
            f"{len(items)} item(s) selected, {len(items) - len(pending)} already finished, "
            f"{len(pending)} to compute in MACO runs of up to {batch}"
            + (step.describe(items, everything) if step else "")
        )
        outcome = job.compute(manifest, pending, batch)
        if step is not None:  # the classes finished before this invocation
            step.run(site, items, digests, job.say, force=force)
            write_site(site)
    return Summary(
        site=site / "index.html",
        selected=selection,
        computed=outcome.computed,
        skipped=len(items) - len(pending),
        failed=outcome.failed + (step.failed if step else []),
        missing=[],
        seconds=outcome.seconds,
        concepts=step.computed if step else [],
        concept_seconds=step.seconds if step else 0.0,
    )


def _engine(
    settings: Settings, shown: dict[str, Any], batch_size: Any, jit_compile: bool, strategy: Any
) -> dict[str, Any]:
    """The keywords of :func:`xmaco.maco` shared by every run (``seed``: the base seed)."""
    return {
        "steps": settings.steps,
        "crops": settings.crops,
        "image_size": settings.image_size,
        "noise": NOISE,
        "values_range": tuple(shown["values_range"]),
        "spectrum": settings.spectrum,
        "preset": settings.preset,
        "seed": settings.seed,
        "batch_size": batch_size,
        "jit_compile": jit_compile,
        "strategy": strategy,
    }


def _concept_step(
    concepts: ConceptSettings | None, model: Any, items: list[Item], engine: dict[str, Any]
) -> ConceptStep | None:
    if concepts is None:
        return None
    if not isinstance(concepts, ConceptSettings):
        raise TypeError(
            "Expected concepts to be None or a ConceptSettings. Received: "
            f"concepts={type(concepts).__name__}"
        )
    if any(item.kind != "class" for item in items):
        raise ValueError(
            "Expected --classes with --concepts-from (concepts are found for classes). "
            "Received: --channels"
        )
    return ConceptStep.prepare(concepts, model, items, engine)


def assemble(out: str | os.PathLike, log: Callable[[str], None] | None = None) -> Summary:
    """Build the site in ``out`` from the manifests of every shard (and unsharded run).

    Run it once all shards are done (their manifests and images in the same folder: a shared
    file system, or the shard folders copied together; file names never collide). It may
    also run at any time during a run, to look at the progress.

    Returns
    -------
    Summary
        ``missing`` lists the items some manifest selected that are not finished.

    Example
    -------
    >>> import tempfile
    >>> assemble(tempfile.mkdtemp()).missing
    []
    """
    site = Path(out)
    if not site.is_dir():
        raise ValueError(
            f"Expected out to be a gallery folder. Received: out='{out}' (no such folder)"
        )
    remove_stale_temporary_files(site)
    manifests = read_all(site)
    index = write_site(site)
    done = finished(manifests, site)
    selected = sorted({key for manifest in manifests for key in manifest.requested} | set(done))
    missing = [key for key in selected if key not in done]
    say = log or (lambda line: None)
    say(
        f"{len(done)} item(s) finished from {len(manifests)} manifest(s)"
        + (f"; {len(missing)} missing: {', '.join(missing[:10])}" if missing else "")
        + (" ..." if len(missing) > 10 else "")
    )
    return Summary(
        site=index,
        selected=selected,
        computed=[],
        skipped=len(done),
        failed=[],
        missing=missing,
        seconds=0.0,
    )
