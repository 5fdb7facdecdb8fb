"""Read small scalar initializers (quantization scales and zero points) out of an ONNX file.

A few lines of protobuf wire decoding, so that installing the kit needs neither the ``onnx`` package
nor onnxruntime: ModelProto.graph (field 7) → GraphProto.initializer (field 5) → TensorProto
(dims 1, data_type 2, float_data 4, int32_data 5, name 8, raw_data 9).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

# TensorProto.DataType → struct format of one little-endian element
_RAW_FORMATS = {1: "<f", 2: "<B", 3: "<b", 4: "<H", 5: "<h", 6: "<i", 7: "<q", 11: "<d"}


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) for each field of one message."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield number, wire, value
        elif wire == 1:
            yield number, wire, buf[pos : pos + 8]
            pos += 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            yield number, wire, buf[pos : pos + length]
            pos += length
        elif wire == 5:
            yield number, wire, buf[pos : pos + 4]
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


def _scalar(tensor: bytes) -> tuple[str, float | None]:
    name, dtype, raw = "", 0, b""
    floats: list[float] = []
    ints: list[int] = []
    for number, _wire, value in _fields(tensor):
        if number == 8 and isinstance(value, bytes):
            name = value.decode()
        elif number == 2 and isinstance(value, int):
            dtype = value
        elif number == 9 and isinstance(value, bytes):
            raw = value
        elif number == 4 and isinstance(value, bytes):
            floats += [v[0] for v in struct.iter_unpack("<f", value)]
        elif number == 5:
            if isinstance(value, int):
                ints.append(value)
            else:
                pos = 0
                while pos < len(value):
                    v, pos = _varint(value, pos)
                    ints.append(v)
    if raw and dtype in _RAW_FORMATS:
        return name, float(struct.unpack_from(_RAW_FORMATS[dtype], raw)[0])
    if floats:
        return name, floats[0]
    if ints:
        return name, float(ints[0])
    return name, None


def scalar_initializers(path: str | Path, names: set[str]) -> dict[str, float]:
    """Values of the named scalar initializers stored inside the ONNX file (not external data)."""
    found: dict[str, float] = {}
    model = Path(path).read_bytes()
    for number, _, graph in _fields(model):
        if number != 7 or not isinstance(graph, bytes):
            continue
        for field, _, tensor in _fields(graph):
            if field == 5 and isinstance(tensor, bytes):
                name, value = _scalar(tensor)
                if name in names and value is not None:
                    found[name] = value
    return found
