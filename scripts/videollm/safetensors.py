"""The safetensors file format, read and written without the `safetensors` package.

A file is an 8-byte little-endian header length, a JSON header (dtype, shape and
byte range per tensor, plus optional "__metadata__") and the raw little-endian
bytes. A tensor is read on its own into a fresh buffer (not a memory map, whose
touched pages would stay in the process's resident set), so one tensor at a time
is in memory; bf16 has no numpy dtype: it is the upper half of a float32, kept as uint16.
"""
from __future__ import annotations

import json
import struct

import numpy as np

DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16, "I64": np.int64, "I32": np.int32, "U8": np.uint8}


def bf16_to_f32(raw: np.ndarray) -> np.ndarray:
    out = raw.astype(np.uint32)
    out <<= 16  # in place: one float32-sized copy of the tensor, not two
    return out.view(np.float32)


def f32_to_bf16(x: np.ndarray) -> np.ndarray:
    """Round to nearest even, as torch's .to(torch.bfloat16)."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounded = bits + 0x7FFF + ((bits >> 16) & 1)
    return (rounded >> 16).astype(np.uint16)


class SafetensorsFile:
    """One .safetensors file, tensors read lazily."""

    def __init__(self, path: str):
        self.path = path
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
        self.metadata = header.pop("__metadata__", {})
        self.entries = header
        self.base = 8 + n

    def keys(self) -> list[str]:
        return list(self.entries)

    def shape(self, name: str) -> list[int]:
        return self.entries[name]["shape"]

    def dtype(self, name: str) -> str:
        return self.entries[name]["dtype"]

    def raw(self, name: str) -> np.ndarray:
        e = self.entries[name]
        dtype = np.dtype(DTYPES[e["dtype"]])
        start, end = e["data_offsets"]
        return np.fromfile(self.path, dtype=dtype, count=(end - start) // dtype.itemsize,
                           offset=self.base + start).reshape(e["shape"])

    def f32(self, name: str) -> np.ndarray:
        """A float32 array of its own (bf16 widened exactly); callers may change it in place."""
        raw = self.raw(name)
        if self.dtype(name) == "BF16":
            return bf16_to_f32(raw)
        return raw if raw.dtype == np.float32 else raw.astype(np.float32)


def nbytes(shape, dtype: str) -> int:
    return int(np.prod(shape, dtype=np.int64)) * np.dtype(DTYPES[dtype]).itemsize


def write(path: str, tensors: list[tuple[str, list[int], str, object]], metadata: dict | None = None) -> int:
    """tensors: (name, shape, dtype, array or zero-argument function returning it);
    functions are called one at a time while writing, so a file of any size is
    written with one tensor in memory. Returns the bytes of tensor data."""
    header, offset = {}, 0
    for name, shape, dtype, _ in tensors:
        size = nbytes(shape, dtype)
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    if metadata:
        header["__metadata__"] = metadata
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)  # the data starts 8-byte aligned, as the reference writer does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for name, shape, dtype, value in tensors:
            arr = np.ascontiguousarray(value() if callable(value) else value)
            assert arr.dtype == DTYPES[dtype] and list(arr.shape) == list(shape), f"{name}: {arr.dtype}{arr.shape} != {dtype}{shape}"
            f.write(arr.tobytes())
    return offset


class ShardedCheckpoint:
    """A folder's tensors by name, over one file or an index of shards."""

    def __init__(self, folder: str, single: str = "model.safetensors", index: str = "model.safetensors.index.json"):
        import os
        if os.path.exists(f"{folder}/{index}"):
            with open(f"{folder}/{index}") as f:
                weight_map = json.load(f)["weight_map"]
            files = {p: SafetensorsFile(f"{folder}/{p}") for p in sorted(set(weight_map.values()))}
            self.where = {name: files[p] for name, p in weight_map.items()}
        else:
            one = SafetensorsFile(f"{folder}/{single}")
            self.where = {name: one for name in one.keys()}

    def __contains__(self, name: str) -> bool:
        return name in self.where

    def keys(self) -> list[str]:
        return list(self.where)

    def shape(self, name: str) -> list[int]:
        return self.where[name].shape(name)

    def dtype(self, name: str) -> str:
        return self.where[name].dtype(name)

    def raw(self, name: str) -> np.ndarray:
        return self.where[name].raw(name)

    def f32(self, name: str) -> np.ndarray:
        return self.where[name].f32(name)
