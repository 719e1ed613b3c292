"""The photos of ``--concepts-from DIR``: one folder per class, named by index or class name.

``DIR/<class>/`` holds photos of one class (``.jpg``, ``.jpeg``, ``.png``, ``.bmp``,
``.webp``, ``.tif``), where ``<class>`` is the class index (``1``, ``0001``) or, for a model
with the 1000 ImageNet classes, its name (``goldfish``, ``great_white_shark``). Hidden
folders and plain files in ``DIR`` are ignored. Every folder is checked before any work.

Example
-------
>>> import cv2, numpy as np, os, tempfile
>>> root = tempfile.mkdtemp()
>>> os.makedirs(os.path.join(root, "2"))
>>> _ = cv2.imwrite(os.path.join(root, "2", "a.png"), np.zeros((8, 8, 3), np.uint8))
>>> {index: folder.name for index, folder in photo_folders(root, classes=3).items()}
{2: '2'}
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["PHOTO_SUFFIXES", "photo_folders", "photos_digest"]

#: The file suffixes read as photos (as :func:`xmaco.concepts.load_images` reads them).
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def photo_folders(root: str | os.PathLike, classes: int) -> dict[int, Path]:
    """The folder of photos of each class under ``root``, by class index.

    Parameters
    ----------
    root
        The ``--concepts-from`` folder.
    classes
        The number of classes of the model; with 1000, folders may be named by ImageNet
        class name (as :func:`xmaco.zoo.class_index` reads names).

    Returns
    -------
    dict
        Class index -> folder, sorted by index.

    Raises
    ------
    ValueError
        When ``root`` is not a folder or holds no class folder, a folder is neither a class
        index nor a known class name (with the close matches), two folders name the same
        class, or a folder holds no photo.

    Example
    -------
    >>> import tempfile, os
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "9"))
    >>> photo_folders(root, classes=3)
    Traceback (most recent call last):
    ...
    ValueError: Expected the folders of --concepts-from to be class indices in [0, 2]...
    """
    base = Path(root)
    if not base.is_dir():
        raise ValueError(
            "Expected --concepts-from to be a folder holding one folder of photos per class. "
            f"Received: --concepts-from='{root}' (no such folder)"
        )
    folders: dict[int, Path] = {}
    for folder in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
        index = _class_of(folder, classes)
        if index in folders:
            raise ValueError(
                f"Expected one folder per class in --concepts-from. Received: '{folders[index]}' "
                f"and '{folder}' both name class {index}"
            )
        if not any(_is_photo(path) for path in folder.iterdir()):
            raise ValueError(
                f"Expected photos ({', '.join(PHOTO_SUFFIXES)}) in every class folder of "
                f"--concepts-from. Received: '{folder}' holds none"
            )
        folders[index] = folder
    if not folders:
        raise ValueError(
            "Expected --concepts-from to hold one folder of photos per class (named by class "
            f"index or name). Received: '{root}' holds no folder"
        )
    return dict(sorted(folders.items()))


def photos_digest(folder: str | os.PathLike) -> str:
    """SHA-256 of a class folder's photos (their names and contents): what the concepts read.

    Example
    -------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.jpg").write_bytes(b"...")
    >>> before = photos_digest(folder)
    >>> _ = (folder / "notes.txt").write_text("not a photo")
    >>> photos_digest(folder) == before
    True
    """
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).iterdir() if _is_photo(p)):
        digest.update(path.name.encode("utf-8") + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _is_photo(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in PHOTO_SUFFIXES


def _class_of(folder: Path, classes: int) -> int:
    name = folder.name
    if name.isascii() and name.isdigit():
        if int(name) < classes:
            return int(name)
        raise ValueError(
            f"Expected the folders of --concepts-from to be class indices in [0, {classes - 1}]"
            f"{' or ImageNet class names' if classes == 1000 else ''}. Received: '{folder}'"
        )
    if classes != 1000:
        raise ValueError(
            f"Expected the folders of --concepts-from to be class indices in [0, {classes - 1}] "
            f"(the model's classes have no names). Received: '{folder}'"
        )
    from xmaco import zoo

    try:
        return zoo.class_index(name)
    except ValueError as error:  # its message names the close matches, or the ambiguity
        raise ValueError(
            "Expected the folders of --concepts-from to be named by class index or ImageNet "
            f"class name. Received: '{folder}' ({error})"
        ) from None
