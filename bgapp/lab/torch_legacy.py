"""Read a PyTorch state dict saved in the legacy (pre-zip, PyTorch < 1.6) format, without PyTorch.

The file is five pickles and raw bytes in a row:
    magic number, protocol version (1001), system info (endianness, type sizes),
    the state dict itself, whose tensors refer to storages by a persistent id
        ('storage', <dtype class>, key, device, element count, view metadata),
    the sorted list of storage keys,
then, for each key in that order, an int64 element count followed by the storage's raw bytes.

Only the handful of globals that a plain state dict needs are allowed, so reading an untrusted
file cannot run code (a plain ``pickle.load`` would run whatever the file asks for).
"""

from __future__ import annotations

import collections
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

MAGIC = 0x1950A86A20F9469CFC6C
PROTOCOL = 1001
_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class LegacyFormatError(ValueError):
    """The file is not a legacy PyTorch state dict this reader understands."""


@dataclass(frozen=True)
class _StorageType:
    dtype: type


@dataclass
class _TensorRef:
    key: str
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor(storage, offset, shape, stride, *_ignored) -> _TensorRef:
    return _TensorRef(storage[0], int(offset), tuple(shape), tuple(stride))


class _Reader(pickle.Unpickler):
    def __init__(self, handle: BinaryIO, storages: dict[str, tuple[type, int]]):
        super().__init__(handle)
        self.storages = storages

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return _StorageType(_DTYPES[name])
        raise LegacyFormatError(f"unexpected object {module}.{name} in the file; refusing to load it")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise LegacyFormatError(f"unexpected persistent id {pid!r}")
        _, kind, key, _device, count, _view = pid
        self.storages[key] = (kind.dtype, int(count))
        return (key,)


def read_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Every tensor in the file as a NumPy array (little-endian, C order), keyed as in the state dict."""
    with open(path, "rb") as handle:
        header = [pickle.load(handle) for _ in range(3)] if _peek_magic(handle) else None
        if header is None or header[0] != MAGIC or header[1] != PROTOCOL:
            raise LegacyFormatError(f"{path} is not a legacy-format PyTorch file")
        if not header[2].get("little_endian", True):
            raise LegacyFormatError("big-endian files are not supported")
        storages: dict[str, tuple[type, int]] = {}
        state = _Reader(handle, storages).load()
        keys = pickle.load(handle)
        raw: dict[str, np.ndarray] = {}
        for key in keys:
            (count,) = struct.unpack("<q", handle.read(8))
            dtype = np.dtype(storages[key][0]).newbyteorder("<")
            buffer = handle.read(count * dtype.itemsize)
            if len(buffer) != count * dtype.itemsize:
                raise LegacyFormatError(f"{path} ends inside storage {key}")
            raw[key] = np.frombuffer(buffer, dtype=dtype)
    tensors = {}
    for name, ref in state.items():
        if not isinstance(ref, _TensorRef):
            continue
        flat = raw[ref.key]
        itemsize = flat.dtype.itemsize
        if not ref.shape:  # a scalar (e.g. BatchNorm's num_batches_tracked)
            tensors[name] = np.array(flat[ref.offset])
            continue
        view = np.lib.stride_tricks.as_strided(
            flat[ref.offset :], shape=ref.shape, strides=tuple(s * itemsize for s in ref.stride)
        )
        tensors[name] = np.ascontiguousarray(view)
    return tensors


def _peek_magic(handle: BinaryIO) -> bool:
    """Legacy files start with a pickled int; zip-format files start with 'PK'."""
    start = handle.read(2)
    handle.seek(0)
    return start[:1] == b"\x80"
