"""The files of a class's concepts in a gallery: pictures, best crops, attribution overlays.

Every file of one computation is named ``<hash prefix>-<label>...``: a new computation
never overwrites the files that the current ``concepts.json`` names. ``concepts.json`` is
written last, atomically; then the files it no longer names are removed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from xmaco.gallery._io import write_encoded, write_readable

__all__ = ["ConceptFiles", "finished_record"]

_CROP_SIDE = 128  # the page shows crops at 96 CSS pixels: 128 stays sharp on most screens
_PHOTO_SIDE = 320  # the attribution overlay is shown at 240 CSS pixels
_WEBP = 90
_JPEG = 85


class ConceptFiles:
    """Writes the files of one computation of a class's concepts into ``folder``."""

    def __init__(self, folder: Path, stem: str, values_range: tuple[float, float]) -> None:
        self.folder = folder
        self.stem = stem
        self.low, self.high = (float(v) for v in values_range)

    def concepts(
        self, bank: Any, result: Any, maps: np.ndarray | None = None, photos: Any = None
    ) -> list[dict[str, Any]]:
        """Each concept's picture, best crops and (with ``maps``, from
        :func:`xmaco.concepts.attribution_maps` of the ``photos`` folder) where it lies in the
        photo that holds it most; the ``concepts`` list of ``concepts.json`` naming them."""
        import cv2

        listed = []
        for i, image in enumerate(result.images01()):
            name = f"{self.stem}-{bank.labels[i]}"
            self._write(f"{name}.webp", _rgb(image), ".webp", [cv2.IMWRITE_WEBP_QUALITY, _WEBP])
            crops = []
            for j, crop in enumerate(bank.top_crops[i]):
                crops.append(f"{name}-crop-{j + 1}.jpg")
                pixels = _rgb((np.asarray(crop, np.float32) - self.low) / (self.high - self.low))
                self._write(crops[-1], _small(pixels, _CROP_SIDE), ".jpg", _jpeg())
            listed.append(
                {
                    "image": f"{name}.webp",
                    "importance": round(float(bank.importance[i]), 6),
                    "importance_text": bank.describe_importance(i),
                    "label": result.names[i],
                    "crops": crops,
                }
            )
        if maps is not None:
            self._attributions(listed, bank, maps, photos)
        return listed

    def _attributions(
        self, listed: list[dict[str, Any]], bank: Any, maps: np.ndarray, photos: Any
    ) -> None:
        from xmaco import concepts

        pictures = concepts.load_images(
            photos, maps.shape[2:4], (self.low, self.high), int(bank.top_crops.shape[-1])
        )
        for k, concept in enumerate(listed):
            # the photo where the concept is most present
            where = int(np.argmax(np.maximum(maps[:, k], 0.0).sum(axis=(1, 2))))
            overlay = concepts.attribution_overlay(
                pictures[where], maps[where, k], (self.low, self.high)
            )
            concept["attribution"] = f"{self.stem}-{bank.labels[k]}-attribution.jpg"
            concept["attribution_photo"] = where
            self._write(concept["attribution"], _small(_rgb(overlay), _PHOTO_SIDE), ".jpg", _jpeg())

    def finish(self, record: dict[str, Any]) -> None:
        """Write ``concepts.json``, then remove the files it does not name."""
        text = json.dumps(record, indent=1).encode("utf-8")
        write_readable(self.folder / "concepts.json", text)
        named = {"concepts.json"}

        def collect(concepts: list[dict[str, Any]]) -> None:
            for concept in concepts:
                named.update([concept["image"], *concept.get("crops", [])])
                named.update([concept["attribution"]] if concept.get("attribution") else [])
                collect(concept.get("children", []))

        collect(record["concepts"])
        for path in self.folder.iterdir():
            if path.is_file() and not path.name.startswith(".") and path.name not in named:
                path.unlink(missing_ok=True)

    def _write(self, name: str, rgb: np.ndarray, suffix: str, parameters: list[int]) -> None:
        write_encoded(self.folder / name, rgb, suffix, parameters)


def finished_record(folder: Path, digest: str) -> bool:
    """Whether ``folder/concepts.json`` has the hash ``digest`` and every file it names exists.

    Example
    -------
    >>> import pathlib, tempfile
    >>> finished_record(pathlib.Path(tempfile.mkdtemp()), "0" * 64)
    False
    """
    try:
        record = json.loads((folder / "concepts.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(record, dict) or record.get("hash") != digest:
        return False

    def whole(concepts: list[dict[str, Any]]) -> bool:
        return all(
            all((folder / name).is_file() for name in [c["image"], *c.get("crops", [])])
            and (not c.get("attribution") or (folder / c["attribution"]).is_file())
            and whole(c.get("children", []))
            for c in concepts
        )

    return whole(record.get("concepts", []))


def _rgb(image: np.ndarray) -> np.ndarray:
    pixels = np.clip(np.asarray(image, np.float32), 0.0, 1.0)
    return np.rint(255 * np.repeat(pixels, 3 // pixels.shape[-1], axis=-1)).astype(np.uint8)


def _small(rgb: np.ndarray, side: int) -> np.ndarray:
    import cv2

    height, width = rgb.shape[:2]
    scale = side / max(height, width)
    if scale >= 1:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def _jpeg() -> list[int]:
    import cv2

    return [cv2.IMWRITE_JPEG_QUALITY, _JPEG]
