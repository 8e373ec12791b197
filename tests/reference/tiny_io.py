"""Minimal safetensors and GGUF (v3) readers/writers for the reference tests.

Written from the published format descriptions (safetensors: 8-byte header size,
JSON header, raw little-endian data; GGUF: header, key/values, tensor infos,
aligned data). Only what tiny F32 test models need.
"""
import json
import struct

import numpy as np

_ST_DTYPES = {"F32": np.float32, "F16": np.float16}


def write_safetensors(path, tensors):
    """tensors: dict name -> float32 numpy array (HF shapes, row-major)."""
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        data = np.ascontiguousarray(arr, dtype=np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        arr = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=_ST_DTYPES[info["dtype"]])
        out[name] = arr.reshape(info["shape"]).astype(np.float64)
    return out


# GGUF value types
_U32, _I32, _F32, _BOOL, _STR, _ARR = 4, 5, 6, 7, 8, 9


def _gguf_str(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def _gguf_value(v):
    if isinstance(v, bool):
        return struct.pack("<I", _BOOL) + struct.pack("<?", v)
    if isinstance(v, int):
        return struct.pack("<I", _U32) + struct.pack("<I", v)
    if isinstance(v, float):
        return struct.pack("<I", _F32) + struct.pack("<f", v)
    if isinstance(v, str):
        return struct.pack("<I", _STR) + _gguf_str(v)
    raise TypeError(f"unsupported GGUF value {v!r}")


def write_gguf(path, metadata, tensors, alignment=32):
    """metadata: dict key -> int/float/str/bool; tensors: dict GGUF name -> float32
    array in numpy (row-major) shape, stored as F32 with ne = reversed shape."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata)))
    for k, v in metadata.items():
        out += _gguf_str(k) + _gguf_value(v)
    offset, blobs = 0, []
    for name, arr in tensors.items():
        data = np.ascontiguousarray(arr, dtype=np.float32).tobytes()
        ne = list(reversed(arr.shape))
        out += _gguf_str(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne)
        out += struct.pack("<IQ", 0, offset)  # type 0 = F32
        blobs.append(data)
        offset += len(data)
        offset += (alignment - offset % alignment) % alignment
    out += b"\0" * ((alignment - len(out) % alignment) % alignment)
    for data in blobs:
        out += data
        out += b"\0" * ((alignment - len(data) % alignment) % alignment)
    with open(path, "wb") as f:
        f.write(out)
