"""The 1000 ImageNet classes, by index and by name, shipped with the package."""

from __future__ import annotations

import difflib
import functools
import json
import operator
from pathlib import Path

__all__ = ["class_index", "imagenet_classes", "imagenet_wnids"]

_DATA = Path(__file__).with_name("imagenet_classes.json")


@functools.cache
def _table() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(WordNet ids, names), read once on first use."""
    rows = json.loads(_DATA.read_text(encoding="utf-8"))["classes"]
    return tuple(row[0] for row in rows), tuple(row[1] for row in rows)


def imagenet_classes() -> list[str]:
    """The 1000 ImageNet-1k class names, in the order of the models' outputs.

    Names are the short Keras names with spaces instead of underscores. Two names occur twice,
    with different WordNet ids: ``"crane"`` (134, the bird; 517, the machine) and
    ``"maillot"`` (638, 639).

    Returns
    -------
    list[str]
        A new list of 1000 names; index ``i`` names logit ``i``.

    Example
    -------
    >>> names = imagenet_classes()
    >>> len(names), names[2], names[652]
    (1000, 'great white shark', 'military uniform')
    """
    return list(_table()[1])


def imagenet_wnids() -> list[str]:
    """The 1000 WordNet ids (``"n01440764"``, ...), aligned with :func:`imagenet_classes`.

    Example
    -------
    >>> imagenet_wnids()[1]
    'n01443537'
    """
    return list(_table()[0])


def _normalize(name: str) -> str:
    return " ".join(name.replace("_", " ").split()).casefold()


@functools.cache
def _indices_by_name() -> dict[str, list[int]]:
    indices: dict[str, list[int]] = {}
    for index, name in enumerate(_table()[1]):
        indices.setdefault(_normalize(name), []).append(index)
    return indices


def class_index(name_or_index: int | str) -> int:
    """The index of an ImageNet class given by index, numeric string or name.

    Parameters
    ----------
    name_or_index
        An integer in [0, 999], the same as a string (``"652"``), or a class name, matched
        ignoring case, underscores and repeated spaces (``"Great_White_Shark"``).

    Returns
    -------
    int
        The class index, in [0, 999].

    Raises
    ------
    TypeError
        If ``name_or_index`` is neither an integer nor a string.
    ValueError
        If the index is out of range, the name is unknown (with the close matches) or the
        name is shared by two classes (``"crane"``, ``"maillot"``), whose indices it lists.

    Example
    -------
    >>> class_index("great_white_shark"), class_index("Military Uniform"), class_index("281")
    (2, 652, 281)
    >>> try:
    ...     class_index("great white shak")
    ... except ValueError as error:
    ...     print(str(error).split(". ")[-1])
    Close matches: 'great white shark'
    """
    if isinstance(name_or_index, str):
        text = name_or_index.strip()
        if not (text.isascii() and text.isdigit()):
            return _index_of_name(name_or_index)
        index = int(text)
    elif isinstance(name_or_index, bool) or not hasattr(name_or_index, "__index__"):
        raise TypeError(
            "Expected class to be an ImageNet class index (0-999) or name. "
            f"Received: class={name_or_index!r} of type {type(name_or_index).__name__}"
        )
    else:
        # operator.index also accepts NumPy integers, e.g. from np.argmax.
        index = operator.index(name_or_index)
    if not 0 <= index < 1000:
        raise ValueError(
            "Expected class to be an ImageNet class index (0-999) or name. "
            f"Received: class={name_or_index!r}"
        )
    return index


def _index_of_name(name: str) -> int:
    indices = _indices_by_name().get(_normalize(name))
    if indices is None:
        names = _table()[1]
        by_normalized = {_normalize(known): known for known in names}
        close = difflib.get_close_matches(_normalize(name), by_normalized)
        suggestion = ", ".join(repr(by_normalized[match]) for match in close) or "none"
        raise ValueError(
            "Expected class to be an ImageNet class index (0-999) or name. "
            f"Received: class={name!r}. Close matches: {suggestion}"
        )
    if len(indices) > 1:
        raise ValueError(
            f"Expected class to name a single ImageNet class, but {name!r} names classes "
            f"{' and '.join(map(str, indices))}; pass the index instead. Received: class={name!r}"
        )
    return indices[0]
