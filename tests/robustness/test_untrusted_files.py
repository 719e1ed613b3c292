"""Files from strangers: weights, saved results, spectra and model files.

Every reader must answer a damaged or hostile file with a ``ValueError`` (or a subclass) and
must never run code from it. Each hostile payload would create a marker file if it ran; the
marker must never appear. The fuzz loops are seeded and bounded, so a failure replays exactly.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import random
import struct
import subprocess
import sys
import time
import types
import warnings
import zipfile
from pathlib import Path
from unittest import mock

import keras
import numpy as np
import pytest

from xmaco import Result, spectrum, zoo
from xmaco.zoo.torch_legacy import UnsafePickleError, load_state_dict

MUTATIONS = 200
MAGIC = 0x1950A86A20F9469CFC6C


# --------------------------------------------------------------------------- a legacy writer
# torch.save(..., _use_new_zipfile_serialization=False) writes five pickles and the raw data.
# The pickles are made by the standard pickler against stand-in `torch` modules, so they hold
# the opcodes torch would write; a payload can be put at any place of any of them.


def _stand_in_torch() -> dict[str, types.ModuleType]:
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise AssertionError("pickled only")

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = (
        "torch._utils",
        ("_rebuild_tensor_v2"),
    )
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch._utils = utils
    torch.FloatStorage = type("FloatStorage", (), {"__module__": "torch"})
    return {"torch": torch, "torch._utils": utils}


class _Storage:
    def __init__(self, key: str, values: np.ndarray, location: object = "cpu"):
        self.key, self.values, self.location = key, values.astype(np.float32), location


class _Tensor:
    def __init__(self, storage: _Storage, size: tuple, stride: tuple, hooks: object = None):
        self.storage, self.size, self.stride = storage, size, stride
        self.hooks = collections.OrderedDict() if hooks is None else hooks

    def __reduce__(self):
        rebuild = sys.modules["torch._utils"]._rebuild_tensor_v2
        return rebuild, (self.storage, 0, self.size, self.stride, False, self.hooks)


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            torch = sys.modules["torch"]
            return ("storage", torch.FloatStorage, obj.key, obj.location, obj.values.size)
        return None


def legacy_file(
    state: object = None,
    keys: object = None,
    magic: object = MAGIC,
    sys_info: object = None,
    storages: list[_Storage] | None = None,
) -> bytes:
    """A legacy state dict; any of its parts may be replaced (by a payload)."""
    if state is None:
        weights = _Storage("0", np.arange(6))
        state = collections.OrderedDict(w=_Tensor(weights, (2, 3), (3, 1)))
        storages = [weights]
    storages = storages or []
    out = io.BytesIO()
    with mock.patch.dict(sys.modules, _stand_in_torch()):
        for header in (magic, 1001, sys_info or {"protocol_version": 1001, "little_endian": True}):
            pickle.dump(header, out, protocol=2)
        _Pickler(out, protocol=2).dump(state)
        pickle.dump([s.key for s in storages] if keys is None else keys, out, protocol=2)
    for storage in storages:
        out.write(struct.pack("<q", storage.values.size) + storage.values.tobytes())
    return out.getvalue()


# --------------------------------------------------------------------------------- payloads
class Payload:
    """Unpickling this object calls ``function(*arguments)``."""

    def __init__(self, function, *arguments):
        self.function, self.arguments = function, arguments

    def __reduce__(self):
        return self.function, self.arguments


def payloads(marker: Path) -> dict[str, object]:
    """Objects whose unpickling would create ``marker``."""
    touch = f"open({str(marker)!r}, 'w').close()"
    return {
        "os.system": Payload(os.system, f"touch {marker}"),
        "subprocess.Popen": Payload(subprocess.Popen, ["touch", str(marker)]),
        "builtins.exec": Payload(exec, touch),
        "builtins.eval": Payload(eval, touch),
        "builtins.open": Payload(open, str(marker), "w"),
    }


def raw_payloads(marker: Path) -> dict[str, bytes]:
    """Hand-written pickles: protocol 0 text, a getattr chain, a dotted name, an import."""
    command = f"touch {marker}".encode()
    return {
        "protocol-0 posix.system": b"cposix\nsystem\n(S'" + command + b"'\ntR.",
        "getattr chain": (
            b"cbuiltins\ngetattr\n(cbuiltins\n__import__\n(S'os'\ntRS'system'\ntR(S'"
            + command
            + b"'\ntR."
        ),
        "dotted name in an allowed module": (
            b"\x80\x04\x8c\x0bcollections\x8c\x14OrderedDict.fromkeys\x93)R."
        ),
        "torch function that is not a storage": b"\x80\x02ctorch\nload\n(S'x'\ntR.",
        "module with side effects on import": b"\x80\x02cthis\ns\n.",
    }


def assert_never_ran(marker: Path) -> None:
    time.sleep(0.05)  # a spawned process, had one started, would have touched it by now
    assert not marker.exists(), "a payload ran"


# ------------------------------------------------------------------------ the weights reader
PLACES = {
    "first pickle": lambda p: legacy_file(magic=p),
    "system information": lambda p: legacy_file(sys_info=p),
    "a state dict value": lambda p: legacy_file(state={"w": p}),
    "a state dict key": lambda p: legacy_file(state={p: 1}),
    "the backward hooks of a tensor": lambda p: legacy_file(
        state={"w": _Tensor(_Storage("0", np.ones(2)), (2,), (1,), hooks=p)},
        storages=[_Storage("0", np.ones(2))],
    ),
    "a storage location": lambda p: legacy_file(
        state={"w": _Tensor(_Storage("0", np.ones(2), location=p), (2,), (1,))},
        storages=[_Storage("0", np.ones(2))],
    ),
    "the list of storage keys": lambda p: legacy_file(keys=[p]),
}


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize(
    "kind", ["os.system", "subprocess.Popen", "builtins.exec", "builtins.eval"]
)
def test_the_weights_reader_refuses_payloads_anywhere(tmp_path, place, kind):
    marker = tmp_path / "ran"
    path = tmp_path / "weights.pth"
    path.write_bytes(PLACES[place](payloads(marker)[kind]))
    with pytest.raises(UnsafePickleError) as caught:
        load_state_dict(path)
    assert isinstance(caught.value, ValueError)
    assert str(path) in str(caught.value) and "Allowed:" in str(caught.value)
    assert_never_ran(marker)


@pytest.mark.parametrize("kind", list(raw_payloads(Path("m"))))
def test_the_weights_reader_refuses_hand_written_pickles(tmp_path, kind):
    marker = tmp_path / "ran"
    path = tmp_path / "weights.pth"
    path.write_bytes(raw_payloads(marker)[kind])
    imported_before = "this" in sys.modules
    with pytest.raises(UnsafePickleError):
        load_state_dict(path)
    assert_never_ran(marker)
    if not imported_before:
        assert "this" not in sys.modules  # refused before anything was imported


def test_the_stand_in_writer_makes_files_the_reader_accepts(tmp_path):
    path = tmp_path / "weights.pth"
    path.write_bytes(legacy_file())
    assert np.array_equal(load_state_dict(path)["w"], np.arange(6, dtype=np.float32).reshape(2, 3))


def _mutate(data: bytes, rng: random.Random, splice: bytes) -> bytes:
    """One of: flip bytes, truncate, delete a chunk, duplicate a chunk, splice hostile bytes."""
    data = bytearray(data)
    kind = rng.randrange(5)
    if kind == 0:
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == 1:
        del data[rng.randrange(len(data)) :]
    elif kind == 2:
        start = rng.randrange(len(data))
        del data[start : start + rng.randint(1, 16)]
    elif kind == 3:
        start = rng.randrange(len(data))
        data[start:start] = data[start : start + rng.randint(1, 16)]
    else:
        at = rng.randrange(len(data))
        data[at:at] = splice
    return bytes(data)


def test_seeded_mutations_of_a_weights_file_give_arrays_or_a_value_error(tmp_path):
    marker = tmp_path / "ran"
    valid = legacy_file()
    splice = raw_payloads(marker)["protocol-0 posix.system"][:-1]  # without STOP
    rng = random.Random(20240611)
    path = tmp_path / "fuzzed.pth"
    outcomes = collections.Counter()
    for _ in range(MUTATIONS):
        path.write_bytes(_mutate(valid, rng, splice))
        try:
            weights = load_state_dict(path)
        except ValueError as error:
            assert "fuzzed.pth" in str(error)
            outcomes[type(error).__name__] += 1
        else:
            assert all(isinstance(array, np.ndarray) for array in weights.values())
            outcomes["read"] += 1
    assert_never_ran(marker)
    assert outcomes["ValueError"] > MUTATIONS // 2, outcomes  # the mutations do damage


# ------------------------------------------------------------------------------ saved results
@pytest.fixture
def saved(tmp_path) -> tuple[bytes, bytes]:
    rng = np.random.default_rng(0)
    result = Result(
        images=rng.random((2, 8, 8, 3), np.float32),
        transparency=rng.random((2, 8, 8, 3), np.float32),
        history=rng.random((3, 2), np.float32),
        names=["a", "b"],
        config={"steps": 3, "values_range": [0.0, 1.0]},
        seed=1,
    )
    result.save(tmp_path / "good")
    return (tmp_path / "good.npz").read_bytes(), (tmp_path / "good.json").read_bytes()


def _load_or_value_error(base: Path) -> str:
    try:
        loaded = Result.load(base)
    except ValueError as error:
        assert f"path='{base}'" in str(error)
        return "refused"
    assert loaded.images.shape == (2, 8, 8, 3) and len(loaded.names) == 2
    return "read"


def test_seeded_mutations_of_a_result_give_the_result_or_a_value_error(tmp_path, saved):
    npz, meta = saved
    rng = random.Random(7)
    base = tmp_path / "fuzzed"
    outcomes = collections.Counter()
    for _ in range(MUTATIONS):
        damage_npz = rng.random() < 0.6
        hostile = _mutate(npz, rng, b"\x80\x02cos\nsystem\n") if damage_npz else npz
        base.with_suffix(".npz").write_bytes(hostile)
        base.with_suffix(".json").write_bytes(meta if damage_npz else _mutate(meta, rng, b"{["))
        outcomes[_load_or_value_error(base)] += 1
    assert outcomes["refused"] > MUTATIONS // 2, outcomes


def _npz(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(f"{name}.npy", data)
    return out.getvalue()


def _unclosed_header() -> bytes:
    """A version 1.0 .npy header whose dict never closes (NumPy tokenizes it to repair it)."""
    text = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 16,"
    text += " " * (-(10 + len(text) + 1) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode()


def _npy_header(shape: tuple, descr: str = "<f4") -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        out, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return out.getvalue()


def test_an_object_array_in_a_result_is_refused_unrun(tmp_path, saved):
    marker = tmp_path / "ran"
    out = io.BytesIO()
    hostile = np.array([payloads(marker)["os.system"]], dtype=object)
    np.savez(out, images=hostile, transparency=np.zeros(1), history=np.zeros(1))
    (tmp_path / "evil.npz").write_bytes(out.getvalue())
    (tmp_path / "evil.json").write_bytes(saved[1])
    with pytest.raises(ValueError, match="path="):
        Result.load(tmp_path / "evil")
    assert_never_ran(marker)


@pytest.mark.parametrize(
    "damage",
    [
        "huge declared shape",
        "corrupt deflate stream",
        "endless nesting in the json",
        "json that is a list",
        "empty files",
    ],
)
def test_hostile_results_are_refused_with_a_value_error(tmp_path, saved, damage):
    npz, meta = saved
    if damage == "huge declared shape":
        header = _npy_header((10**6, 10**6)) + b"\0" * 64
        npz = _npz({name: header for name in ("images", "transparency", "history")})
    elif damage == "corrupt deflate stream":
        # the deflate data of the first member: its bytes after the local header
        name_length, extra_length = struct.unpack("<HH", npz[26:30])
        start = 30 + name_length + extra_length + 8
        npz = npz[:start] + bytes(b ^ 0x5A for b in npz[start : start + 40]) + npz[start + 40 :]
    elif damage == "endless nesting in the json":
        meta = b"[" * 200_000
    elif damage == "json that is a list":
        meta = b"[1, 2, 3]"
    else:
        npz = meta = b""
    (tmp_path / "bad.npz").write_bytes(npz)
    (tmp_path / "bad.json").write_bytes(meta)
    with pytest.raises(ValueError, match=r"path='.*bad'"):
        Result.load(tmp_path / "bad")


# ----------------------------------------------------------------------------------- spectra


def test_seeded_mutations_of_a_spectrum_give_a_spectrum_or_a_value_error(tmp_path):
    valid = tmp_path / "valid.npy"
    spectrum.save(valid, spectrum.natural(16, 16))
    data = valid.read_bytes()
    rng = random.Random(3)
    path = tmp_path / "fuzzed.npy"
    outcomes = collections.Counter()
    for _ in range(MUTATIONS):
        path.write_bytes(_mutate(data, rng, b"cos\nsystem\n"))
        try:
            magnitude = spectrum.load(path)
        except ValueError as error:
            assert "fuzzed.npy" in str(error)
            outcomes["refused"] += 1
        else:
            assert magnitude.dtype == np.float32 and np.isfinite(magnitude).all()
            outcomes["read"] += 1
    assert outcomes["refused"] > MUTATIONS // 4, outcomes


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"3 16 9\n1 2 3\n", id="text"),
        pytest.param(b"\x93NUMPY\x01\x00\x76\x00{'descr': '<f4'", id="cut-in-the-header"),
        pytest.param(_npz({"a": _npy_header((3, 16, 9))}), id="an-npz-archive"),
        pytest.param(_npy_header((3, 16, 9)) + b"\0" * 10, id="data-missing"),
        pytest.param(_npy_header((3, 16, 9), "|O"), id="object-array"),
        pytest.param(_npy_header((3, 10**6, 10**6)) + b"\0" * 64, id="huge-declared-shape"),
        pytest.param(_unclosed_header(), id="unclosed-header"),
    ],
)
def test_garbage_spectrum_files_are_refused_naming_the_path(tmp_path, content):
    path = tmp_path / "garbage.npy"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"path='.*garbage\.npy'"):
        spectrum.load(path)


def test_a_pickled_spectrum_is_refused_unrun(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.npy"
    np.save(path, np.array([payloads(marker)["subprocess.Popen"]], dtype=object))
    with pytest.raises(ValueError, match="path="):
        spectrum.load(path)
    with pytest.raises(ValueError, match="spectrum="):
        spectrum.resolve(path, 16, 16, 3)
    assert_never_ran(marker)


# ----------------------------------------------------------------------------- model files
def test_a_model_file_with_python_code_is_refused_unrun(tmp_path):
    marker = tmp_path / "ran"
    # self-contained, as Keras stores the code of a lambda, not its closure
    touch = eval(f"lambda t: (__import__('pathlib').Path({str(marker)!r}).touch(), t)[1]")
    inputs = keras.Input((16, 16, 3))
    hidden = keras.layers.Lambda(touch, name="hidden")(inputs)
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3, name="conv")(hidden))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras' notes on the legacy .h5 format
        for suffix in (".keras", ".h5"):
            model.save(tmp_path / f"evil{suffix}")
    marker.unlink()  # building the model ran the function, here, on purpose
    for suffix in (".keras", ".h5"):
        with pytest.raises(ValueError, match=rf"evil\{suffix}'.*arbitrary code execution"):
            zoo.load(tmp_path / f"evil{suffix}")
        assert_never_ran(marker)
