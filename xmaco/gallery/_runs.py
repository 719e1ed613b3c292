"""The batched MACO runs of :func:`xmaco.gallery.generate`, and what each one records.

After every run: the images, then the manifest entries (atomically), then the pages; then
the concepts of the run's classes that have photos. A process killed at any moment loses at
most the run (or the class's concepts) in flight.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xmaco.gallery._pages import duration
from xmaco.gallery.items import Item, batches
from xmaco.gallery.manifest import Manifest, read_all
from xmaco.gallery.site import write_images, write_site

__all__ = ["ENGINE_KEYS", "Job", "Outcome"]

ENGINE_KEYS = (
    "method",
    "spectrum",
    "crop_size",
    "noise",
    "learning_rate",
    "optimizer",
    "model_input_size",
    "values_range",
)


@dataclasses.dataclass
class Outcome:
    """What the runs of one invocation did: item keys computed and failed, seconds."""

    computed: list[str] = dataclasses.field(default_factory=list)
    failed: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0


@dataclasses.dataclass(frozen=True, eq=False)
class Job:
    """Everything the runs of one invocation share.

    ``engine`` holds the keywords of :func:`xmaco.maco` common to every run (the settings,
    the noise, the devices); ``concepts`` is the concept step, or None.
    """

    site: Path
    model: Any
    shown: dict[str, Any]
    digests: dict[str, str]
    engine: dict[str, Any]
    say: Callable[[str], None]
    concepts: Any = None

    def compute(self, manifest: Manifest, pending: list[Item], batch: int) -> Outcome:
        """Visualize ``pending`` in runs of up to ``batch``, recording each run."""
        import xmaco

        outcome = Outcome()
        for run in batches(pending, batch):
            start = time.perf_counter()
            try:
                result = self.visualize(run)
            except xmaco.NonFiniteError as error:
                outcome.failed += [item.key for item in run]
                self.say(f"skipped {_span(run)}: {error}")
                continue
            if result.interrupted:
                raise KeyboardInterrupt
            elapsed = time.perf_counter() - start
            self.record(manifest, run, result, elapsed)
            outcome.computed += [item.key for item in run]
            outcome.seconds += elapsed
            self.progress(run, elapsed, outcome, len(pending))
            if self.concepts is not None:
                self.concepts.run(self.site, run, self.digests, self.say)
        return outcome

    def visualize(self, run: list[Item]) -> Any:
        """One MACO run of consecutive items: item ``k`` gets the seed ``seed + k``."""
        import xmaco

        first = run[0]
        indices = [item.index for item in run]
        if first.kind == "class":
            objective = xmaco.Objective.neuron(self.model, first.layer, indices)
        else:
            objective = xmaco.Objective.channel(self.model, first.layer, indices)
        # Visualization i of the run gets seed + first index + i = base seed + its own index.
        engine = {**self.engine, "seed": self.engine["seed"] + first.index}
        return xmaco.maco(objective, **engine, verbose=False)

    def record(self, manifest: Manifest, run: list[Item], result: Any, elapsed: float) -> None:
        """Write the run's images, then its manifest entries, then the pages."""
        images, maps = result.images01(), result.transparency
        entries = []
        for i, item in enumerate(run):
            digest = self.digests[item.key]
            files = write_images(self.site, f"{item.key}-{digest[:12]}", images[i], maps[i])
            entries.append(_entry(item, digest, result, i, files, self.shown, elapsed))
        replaced = [manifest.entries[item.key] for item in run if item.key in manifest.entries]
        manifest.record(entries, {"keys": [item.key for item in run], "seconds": elapsed})
        _remove_unreferenced(self.site, replaced)
        write_site(self.site)

    def progress(self, run: list[Item], elapsed: float, outcome: Outcome, total: int) -> None:
        done, seconds = len(outcome.computed), outcome.seconds
        left = total - done - len(outcome.failed)
        self.say(
            f"{_span(run)}: {len(run)} in {elapsed:.1f}s ({3600 * done / seconds:.0f}/h); "
            f"{done} done, {left} to go"
            + (f", about {duration(left * seconds / done)} left" if left else "")
        )


def _entry(
    item: Item,
    digest: str,
    result: Any,
    i: int,
    files: dict[str, str],
    shown: dict[str, Any],
    elapsed: float,
) -> dict[str, Any]:
    return {
        "key": item.key,
        "kind": item.kind,
        "layer": item.layer,
        "index": item.index,
        "label": item.label,
        "hash": digest,
        "objective": result.names[i],
        "seed": int(result.seed) + i,
        "settings": shown,
        "engine": {key: result.config.get(key) for key in ENGINE_KEYS},
        "files": files,
        "history": [float(f"{value:.6g}") for value in result.history[:, i]],
        "seconds": elapsed / len(result),
        "batch": len(result),
    }


def _remove_unreferenced(site: Path, replaced: list[dict[str, Any]]) -> None:
    """Delete the files of replaced entries that no manifest refers to any more."""
    if not replaced:
        return
    referenced = {
        name
        for manifest in read_all(site)
        for entry in manifest.entries.values()
        for name in entry["files"].values()
    }
    for entry in replaced:
        for name in entry["files"].values():
            if name not in referenced:
                (site / name).unlink(missing_ok=True)


def _span(run: list[Item]) -> str:
    first, last = run[0], run[-1]
    what = "classes" if first.kind == "class" else f"{first.layer} channels"
    return f"{what} {first.index}" + (f"-{last.index}" if len(run) > 1 else "")
