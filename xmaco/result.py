"""The outcome of a run: images, transparency maps, history and the settings that made them."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .files import atomic_write

__all__ = ["Result"]

_ARRAYS = ("images", "transparency", "history")


@dataclasses.dataclass(frozen=True, eq=False)
class Result:
    """Everything a visualization run produced.

    Attributes
    ----------
    images
        float32 array (N, H, W, C), in the model's value range (``config["values_range"]``).
    transparency
        float32 array (N, H, W, C): the sum over steps of ``|dLoss/dImage|`` at canvas
        resolution, raw (not normalised). Where the model looked.
    history
        float32 array (steps_done, N): the objective value of each visualization at each step
        (mean over the crops of that step).
    names
        One readable name per visualization, e.g. ``"logits[2] + 0.5*conv5:channel 12"``.
    config
        The full configuration of the run (JSON-serialisable), enough to reproduce it.
    seed
        The base seed; visualization ``i`` used ``seed + i``.
    interrupted
        True when the run was stopped early (Ctrl-C, a callback, or non-finite values).
    stats
        Timings and counters (``seconds``, ``steps_per_second``, ``traces``).

    Example
    -------
    >>> import numpy as np, tempfile, os
    >>> r = Result(images=np.zeros((1, 8, 8, 3), "float32"),
    ...            transparency=np.ones((1, 8, 8, 3), "float32"),
    ...            history=np.zeros((4, 1), "float32"), names=["logits[2]"],
    ...            config={"steps": 4}, seed=0)
    >>> path = r.save(os.path.join(tempfile.mkdtemp(), "run"))
    >>> Result.load(path).names
    ['logits[2]']
    """

    images: np.ndarray
    transparency: np.ndarray
    history: np.ndarray
    names: list[str]
    config: dict[str, Any]
    seed: int | None = None
    interrupted: bool = False
    stats: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def values_range(self) -> tuple[float, float]:
        """The (low, high) range of ``images``."""
        low, high = self.config.get("values_range", (0.0, 1.0))
        return float(low), float(high)

    def images01(self) -> np.ndarray:
        """The images rescaled from ``values_range`` to [0, 1] (float32)."""
        low, high = self.values_range
        return np.clip((self.images - low) / (high - low), 0.0, 1.0).astype(np.float32)

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``<path>.npz`` (arrays) and ``<path>.json`` (everything else), atomically.

        Returns the path of the ``.npz`` file. ``Result.load`` reads it back exactly.
        """
        npz_path, json_path = _paths(path)
        problem = _problem({name: np.asarray(getattr(self, name)) for name in _ARRAYS}, self.names)
        if problem:  # never write what load would refuse
            raise ValueError(
                f"Expected a Result that Result.load can read back. Received: {problem}"
            )
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **{name: getattr(self, name) for name in _ARRAYS})
        arrays = buffer.getvalue()
        with atomic_write(npz_path) as handle:
            handle.write(arrays)
        meta = {
            "format": "xmaco.Result/1",
            # Ties the pair together: a save killed between the two files is detected on load.
            "npz_sha256": hashlib.sha256(arrays).hexdigest(),
            "names": list(self.names),
            "config": self.config,
            "seed": self.seed,
            "interrupted": bool(self.interrupted),
            "stats": self.stats,
        }
        with atomic_write(json_path, "w") as handle:
            json.dump(meta, handle, indent=2, sort_keys=True, default=_json_default)
        return npz_path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Result:
        """Read a result written by ``save``; ``path`` may name the .npz, the .json or neither.

        Never unpickles: the arrays are read with ``allow_pickle=False`` and checked.

        Raises
        ------
        ValueError
            If a file is missing, truncated, corrupted or does not hold a result.
        """
        npz_path, json_path = _paths(path)
        for file in (npz_path, json_path):
            if not file.is_file():
                raise ValueError(
                    f"Expected path to name a saved Result (.npz + .json). Received: "
                    f"path='{path}' ('{file}' does not exist)"
                )
        try:
            meta = json.loads(json_path.read_text(encoding="utf-8"))
            raw = npz_path.read_bytes()
            with np.load(io.BytesIO(raw), allow_pickle=False) as data:
                arrays = {name: np.array(data[name]) for name in _ARRAYS}
        except Exception as e:
            # A damaged or hostile file makes zipfile, zlib, lzma, NumPy or json raise almost
            # anything (BadZipFile, zlib.error, NotImplementedError for an unknown zip version,
            # MemoryError for a header declaring a huge array, RecursionError for endless
            # nesting); to the caller they all mean the same.
            raise ValueError(
                f"Expected path to name a readable saved Result. Received: path='{path}' "
                f"({type(e).__name__}: {e})"
            ) from None
        _check_pair(meta, raw, path)
        _check_loaded(meta, arrays, path)
        return cls(
            images=arrays["images"],
            transparency=arrays["transparency"],
            history=arrays["history"],
            names=[str(n) for n in meta["names"]],
            config=meta["config"],
            seed=meta.get("seed"),
            interrupted=bool(meta.get("interrupted", False)),
            stats=dict(meta.get("stats") or {}),
        )


def _paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """The .npz and .json of ``path``; a suffix other than those two is part of the name
    (``run.v2`` gives ``run.v2.npz``, never ``run.npz``)."""
    path = Path(path)
    base = path.with_suffix("") if path.suffix in (".npz", ".json") else path
    return base.with_name(base.name + ".npz"), base.with_name(base.name + ".json")


def _check_pair(meta: Any, raw: bytes, path: Any) -> None:
    # Results saved before the digest existed have none: nothing to compare.
    expected = meta.get("npz_sha256") if isinstance(meta, dict) else None
    if expected is not None and expected != hashlib.sha256(raw).hexdigest():
        raise ValueError(
            f"Expected path to name a saved Result whose .npz and .json belong together. "
            f"Received: path='{path}' (they come from different saves: was a save "
            "interrupted?)"
        )


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _check_loaded(meta: Any, arrays: dict[str, np.ndarray], path: Any) -> None:
    def fail(why: str) -> None:
        raise ValueError(
            f"Expected path to name a valid saved Result. Received: path='{path}' ({why})"
        )

    if not isinstance(meta, dict) or meta.get("format") != "xmaco.Result/1":
        fail("the .json is not an xmaco result")
    if not isinstance(meta.get("names"), list) or not isinstance(meta.get("config"), dict):
        fail("the .json lacks names or config")
    problem = _problem(arrays, meta["names"])
    if problem:
        fail(problem)


def _problem(arrays: dict[str, np.ndarray], names: Any) -> str | None:
    """What keeps these arrays and names from being a valid result, or None."""
    images, transparency, history = arrays["images"], arrays["transparency"], arrays["history"]
    for name, array in arrays.items():
        if array.dtype.kind != "f":
            return f"{name} has dtype {array.dtype}, expected floating point"
    if images.ndim != 4 or transparency.shape != images.shape:
        return f"images {images.shape} and transparency {transparency.shape} must be equal NHWC"
    if history.ndim != 2 or history.shape[1] != images.shape[0]:
        return f"history {history.shape} must be (steps, {images.shape[0]})"
    if len(names) != images.shape[0]:
        return f"{len(names)} names for {images.shape[0]} images"
    return None
