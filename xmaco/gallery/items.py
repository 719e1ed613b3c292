"""What a gallery shows: items (classes or channels), their selection, shards and batches.

An :class:`Item` is one unit of a model, visualized once: a class (a neuron of the layer
holding the class scores) or a channel of a layer. Its ``index`` is also its identity for
seeding (item seed = base seed + index) and for sharding, so neither depends on which other
items are computed alongside it.

Example
-------
>>> parse_selection("0-2,7", 10, "--classes")
[0, 1, 2, 7]
>>> items = [Item("class", "logits", i, f"class {i}") for i in range(6)]
>>> [item.index for item in shard(items, 1, 2, block=2)]
[2, 3]
>>> [[item.index for item in batch] for batch in batches(items[:1] + items[3:], 4)]
[[0], [3], [4, 5]]
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "KINDS",
    "Item",
    "batches",
    "class_layer",
    "parse_selection",
    "parse_shard",
    "select",
    "shard",
]

KINDS = ("class", "channel")
_RANGE = re.compile(r"^(\d+)\s*-\s*(\d+)$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclasses.dataclass(frozen=True, order=True)
class Item:
    """One unit of a model to visualize.

    Attributes
    ----------
    kind
        ``"class"`` (a unit of the layer holding the class scores) or ``"channel"``.
    layer
        The layer read.
    index
        The class or channel index; the item's seed is the base seed plus this index.
    label
        A readable name, e.g. ``"goldfish"`` or ``"block3_out:channel 12"``.

    Example
    -------
    >>> Item("class", "logits", 1, "goldfish").key
    'class-0001'
    >>> Item("channel", "block3/out", 12, "block3/out:channel 12").key
    'block3_out-channel-0012'
    """

    kind: str
    layer: str
    index: int
    label: str = dataclasses.field(compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Expected kind to be one of {KINDS}. Received: kind={self.kind!r}")
        if isinstance(self.index, bool) or not isinstance(self.index, int) or self.index < 0:
            raise ValueError(
                f"Expected index to be a non-negative integer. Received: index={self.index!r}"
            )

    @property
    def key(self) -> str:
        """A file-name-safe identity, unique within a gallery (``class-0001``)."""
        if self.kind == "class":
            return f"class-{self.index:04d}"
        return f"{_UNSAFE.sub('_', self.layer)}-channel-{self.index:04d}"


def class_layer(model: Any) -> str:
    """The layer holding the class scores: ``"logits"`` when the model has one, else the last.

    Example
    -------
    >>> import keras
    >>> class_layer(keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="out")]))
    'out'
    """
    names = [layer.name for layer in model.layers]
    return "logits" if "logits" in names else names[-1]


def select(
    model: Any,
    classes: str | Sequence[int] | None = None,
    channels: str | Sequence[int] | None = None,
    layer: str | None = None,
) -> list[Item]:
    """The items of ``model`` to visualize: classes, or channels of ``layer``.

    Parameters
    ----------
    model
        A Keras model.
    classes
        A selection for :func:`parse_selection` (``"all"``, ``"0-99"``, ``"goldfish,2"``) or a
        list of indices. Names are ImageNet class names, accepted when the class layer has
        1000 units.
    channels
        The same for the channels (last axis) of ``layer``.
    layer
        Required with ``channels``; with ``classes``, the layer holding the class scores
        (default: :func:`class_layer`).

    Returns
    -------
    list of Item
        Sorted by index.

    Example
    -------
    >>> import keras
    >>> inputs = keras.Input((8, 8, 3))
    >>> x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    >>> model = keras.Model(inputs, keras.layers.Dense(2, name="logits")(x))
    >>> [item.label for item in select(model, channels="1-2", layer="conv")]
    ['conv:channel 1', 'conv:channel 2']
    """
    from xmaco import zoo
    from xmaco.objectives import Objective

    if (classes is None) == (channels is None):
        raise ValueError(
            "Expected exactly one of classes (--classes) or channels (--channels). Received: "
            f"classes={classes!r}, channels={channels!r}"
        )
    if channels is not None:
        if layer is None:
            raise ValueError("Expected a layer (--layer NAME) with channels. Received: layer=None")
        # Validates the layer (naming close matches) and resolves a stage alias ("conv5").
        layer = Objective.channel(model, layer, 0).layers[0]
        count = int(model.get_layer(layer).output.shape[-1])
        indices = parse_selection(_text(channels), count, "--channels")
        return [Item("channel", layer, i, f"{layer}:channel {i}") for i in indices]
    layer = class_layer(model) if layer is None else layer
    layer = Objective.neuron(model, layer, 0).layers[0]
    shape = tuple(model.get_layer(layer).output.shape)
    if len(shape) != 2:
        raise ValueError(
            f"Expected the class layer to output one score per class, (batch, classes). "
            f"Received: layer {layer!r} with output shape {shape} (name it with --layer)"
        )
    count = int(shape[-1])
    names = zoo.imagenet_classes() if count == len(zoo.imagenet_classes()) else None
    lookup = zoo.class_index if names else None
    indices = parse_selection(_text(classes), count, "--classes", lookup)
    return [Item("class", layer, i, names[i] if names else f"class {i}") for i in indices]


def _text(selection: str | Sequence[int]) -> str:
    return selection if isinstance(selection, str) else ",".join(str(i) for i in selection)


def parse_selection(
    text: str,
    count: int,
    argument: str,
    lookup: Callable[[str], int] | None = None,
) -> list[int]:
    """Parse ``"all"``, indices, inclusive ranges and names, comma-separated, into indices.

    Parameters
    ----------
    text
        E.g. ``"all"``, ``"0-99"``, ``"1,2,130"``, ``"goldfish,great white shark"``.
    count
        The number of units (indices run from 0 to ``count - 1``).
    argument
        The option name used in error messages, e.g. ``"--classes"``.
    lookup
        Maps a name to its index (raising ``ValueError`` for unknown names); None when the
        units have no names.

    Returns
    -------
    list of int
        Sorted, without duplicates.

    Raises
    ------
    ValueError
        Naming ``argument``, the accepted forms and the offending part.

    Example
    -------
    >>> parse_selection("all", 3, "--channels")
    [0, 1, 2]
    >>> parse_selection("5, 1-3 ,2", 8, "--channels")
    [1, 2, 3, 5]
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(
            f"Expected {argument} to be 'all' or comma-separated indices, ranges such as 0-99"
            f"{' or names' if lookup else ''}. Received: {argument}={text!r}"
        )

    def fail(part: str, why: str) -> ValueError:
        return ValueError(
            f"Expected {argument} to be 'all' or comma-separated indices in [0, {count - 1}], "
            f"ranges such as 0-{min(99, count - 1)}{' or names' if lookup else ''}. Received: "
            f"{argument}={text!r} ({part!r} {why})"
        )

    if text.strip().casefold() == "all":
        return list(range(count))
    chosen: set[int] = set()
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            raise fail(raw, "is empty")
        bounds = _RANGE.match(part)
        if bounds:
            first, last = int(bounds.group(1)), int(bounds.group(2))
            if first > last:
                raise fail(part, "runs backwards")
            if last >= count:
                raise fail(part, f"goes past {count - 1}")
            chosen.update(range(first, last + 1))
        elif part.isascii() and part.isdigit():
            if int(part) >= count:
                raise fail(part, f"is past {count - 1}")
            chosen.add(int(part))
        elif lookup is None:
            raise fail(part, "is not an index or a range, and these units have no names")
        else:
            try:
                chosen.add(lookup(part))
            except ValueError as error:
                raise fail(part, f"is not a known name: {error}") from None
    return sorted(chosen)


def parse_shard(text: str) -> tuple[int, int]:
    """Parse ``"i/n"`` (shard ``i`` of ``n``, counted from 0) into ``(i, n)``.

    Example
    -------
    >>> parse_shard("2/8")
    (2, 8)
    """
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text) if isinstance(text, str) else None
    if match is None or not int(match.group(1)) < int(match.group(2)):
        raise ValueError(
            "Expected --shard to be i/n with 0 <= i < n (e.g. 0/4 ... 3/4, as a Slurm array "
            f"index or a Kubernetes completion index). Received: --shard={text!r}"
        )
    return int(match.group(1)), int(match.group(2))


def shard(items: Sequence[Item], index: int, count: int, block: int) -> list[Item]:
    """The items of shard ``index`` of ``count``: round-robin over blocks of indices.

    Block ``k`` holds the indices ``[k * block, (k + 1) * block)``; shard ``index`` takes the
    blocks with ``k % count == index``. The shards partition ``items`` whatever their
    order, and with ``block`` equal to the batch size, each batch of a shard is the batch an
    unsharded run computes (identical images, not only identical seeds).

    Example
    -------
    >>> items = [Item("channel", "conv", i, str(i)) for i in range(7)]
    >>> [[item.index for item in shard(items, s, 2, block=2)] for s in (0, 1)]
    [[0, 1, 4, 5], [2, 3, 6]]
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"Expected count to be a positive integer. Received: count={count!r}")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
        raise ValueError(
            f"Expected index in [0, {count - 1}]. Received: index={index!r}, count={count}"
        )
    if not isinstance(block, int) or block < 1:
        raise ValueError(f"Expected block to be a positive integer. Received: block={block!r}")
    return [item for item in items if (item.index // block) % count == index]


def batches(items: Sequence[Item], size: int) -> list[list[Item]]:
    """Group items into MACO runs of at most ``size`` consecutive indices of one layer.

    Runs are aligned on blocks of ``size`` indices (as :func:`shard`) and hold consecutive
    indices only, because the engine seeds visualization ``i`` of a run with ``seed + i``:
    a run of indices ``a, a+1, ...`` started with seed ``base + a`` gives every item its own
    seed ``base + index``.

    Example
    -------
    >>> items = [Item("class", "logits", i, str(i)) for i in (0, 1, 2, 3, 5, 6, 9)]
    >>> [[item.index for item in run] for run in batches(items, 4)]
    [[0, 1, 2, 3], [5, 6], [9]]
    """
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(f"Expected size to be a positive integer. Received: size={size!r}")
    runs: list[list[Item]] = []
    for item in sorted(items):
        last = runs[-1][-1] if runs else None
        if (
            last is not None
            and (last.kind, last.layer) == (item.kind, item.layer)
            and item.index == last.index + 1
            and item.index // size == last.index // size
        ):
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs
