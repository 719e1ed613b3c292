"""Item selection from the command line, sharding and batching."""

from __future__ import annotations

import keras
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xmaco import zoo
from xmaco.gallery.items import Item, batches, parse_selection, parse_shard, select, shard


def test_all_ranges_lists_and_names():
    assert parse_selection("all", 4, "--classes") == [0, 1, 2, 3]
    assert parse_selection(" ALL ", 2, "--classes") == [0, 1]
    assert parse_selection("0-99", 1000, "--classes") == list(range(100))
    assert parse_selection("1,2,130", 1000, "--classes") == [1, 2, 130]
    assert parse_selection("130, 2 ,1,2, 0 - 1", 1000, "--classes") == [0, 1, 2, 130]
    names = "goldfish,great white shark, Military_Uniform"
    assert parse_selection(names, 1000, "--classes", zoo.class_index) == [1, 2, 652]
    # A name with a hyphen is a name, not a range.
    assert parse_selection("black-and-tan coonhound", 1000, "--classes", zoo.class_index) == [
        zoo.class_index("black-and-tan coonhound")
    ]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "'all' or comma-separated"),
        ("5-2", "runs backwards"),
        ("0-10", "goes past 9"),
        ("10", "is past 9"),
        ("1,,2", "is empty"),
        ("conv", "these units have no names"),
    ],
)
def test_bad_selections_name_the_option_and_the_part(text, why):
    with pytest.raises(ValueError, match="--channels") as error:
        parse_selection(text, 10, "--channels")
    assert why in str(error.value)


def test_unknown_names_get_close_matches():
    with pytest.raises(ValueError, match="great white shark"):
        parse_selection("great white shak", 1000, "--classes", zoo.class_index)


@pytest.fixture(scope="module")
def imagenet_like():
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(1000, name="logits")(x))


def test_select_classes_by_name_on_a_1000_class_model(imagenet_like):
    items = select(imagenet_like, classes="130,goldfish,great white shark")
    assert [(i.kind, i.layer, i.index, i.label) for i in items] == [
        ("class", "logits", 1, "goldfish"),
        ("class", "logits", 2, "great white shark"),
        ("class", "logits", 130, "flamingo"),
    ]
    assert [i.key for i in items] == ["class-0001", "class-0002", "class-0130"]
    assert len(select(imagenet_like, classes="all")) == 1000


def test_select_channels(imagenet_like):
    items = select(imagenet_like, channels="all", layer="conv")
    assert [(i.kind, i.index, i.label) for i in items][-1] == ("channel", 3, "conv:channel 3")
    assert [i.index for i in select(imagenet_like, channels=[2, 0], layer="conv")] == [0, 2]
    assert items[0].key == "conv-channel-0000"


def test_select_resolves_a_stage_alias_to_the_layer_name():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(2, 3, name="conv1_1")(inputs)
    x = keras.layers.Conv2D(5, 3, name="conv1_2")(x)
    model = keras.Model(inputs, x)
    items = select(model, channels="3-4", layer="conv1")
    assert [(i.layer, i.label) for i in items] == [
        ("conv1_2", "conv1_2:channel 3"),
        ("conv1_2", "conv1_2:channel 4"),
    ]


def test_select_errors_name_what_is_wrong(imagenet_like):
    with pytest.raises(ValueError, match="exactly one of classes"):
        select(imagenet_like)
    with pytest.raises(ValueError, match="--layer NAME"):
        select(imagenet_like, channels="all")
    with pytest.raises(ValueError, match="Close matches: 'conv'"):
        select(imagenet_like, channels="all", layer="conf")
    with pytest.raises(ValueError, match=r"past 3"):
        select(imagenet_like, channels="0-4", layer="conv")
    with pytest.raises(ValueError, match="one score per class"):
        select(imagenet_like, classes="0", layer="conv")


def test_shard_option():
    assert parse_shard("0/1") == (0, 1)
    assert parse_shard(" 3 / 8 ") == (3, 8)
    for bad in ("4/4", "1", "-1/4", "a/b", "1/0"):
        with pytest.raises(ValueError, match="Expected --shard to be i/n"):
            parse_shard(bad)


@given(
    indices=st.sets(st.integers(0, 300), max_size=60),
    count=st.integers(1, 7),
    block=st.integers(1, 9),
)
def test_shards_partition_the_items(indices, count, block):
    items = [Item("class", "logits", i, str(i)) for i in sorted(indices)]
    shares = [shard(items, s, count, block) for s in range(count)]
    keys = [item.key for share in shares for item in share]
    assert sorted(keys) == sorted(item.key for item in items)
    assert len(keys) == len(set(keys))
    # Whatever the order the items come in, a shard is the same set.
    assert shard(items[::-1], 0, count, block) == sorted(shard(items, 0, count, block))[::-1]


@given(indices=st.sets(st.integers(0, 200), max_size=50), size=st.integers(1, 9))
def test_batches_hold_consecutive_indices_of_one_block(indices, size):
    items = [Item("channel", "conv", i, str(i)) for i in indices]
    runs = batches(items, size)
    assert sorted(item for run in runs for item in run) == sorted(items)
    for run in runs:
        assert 1 <= len(run) <= size
        assert [item.index for item in run] == list(range(run[0].index, run[-1].index + 1))
        assert len({item.index // size for item in run}) == 1


def test_a_shard_runs_the_batches_of_an_unsharded_run():
    items = [Item("class", "logits", i, str(i)) for i in range(10)]
    whole = batches(items, 3)
    sharded = [run for s in range(2) for run in batches(shard(items, s, 2, block=3), 3)]
    assert sorted(sharded) == sorted(whole)


def test_batches_never_mix_layers():
    items = [Item("channel", "a", 0, "a0"), Item("channel", "b", 1, "b1")]
    assert len(batches(items, 4)) == 2
