"""The safetensors file format, without the ``safetensors`` package: its dtype codes, a
streaming writer and the one read-back verifier of every safetensors file ckptio writes.

A file is an 8-byte little-endian header length, a JSON header ``{name: {"dtype", "shape",
"data_offsets"}, "__metadata__": {...}}`` and the tensors' bytes. The header is known from a
checkpoint's index before any data is read, so `StreamingWriter` writes it first and then each
tensor's bytes as they arrive: one tensor in memory at a time.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._dtypes import SAFETENSORS_CODES
from ..errors import CheckpointError, UnsupportedError, UsageError
from .pipeline import bytes_of, digest, new_digest

__all__ = ["SAFETENSORS_CODES", "StreamingWriter", "digest", "verify_file"]


class StreamingWriter:
    """Writes the tensors `entries` ([(name, dtype, shape)]) to `file` (open for binary
    writing): the header at once, then `write` each tensor's values in the order `order`
    gives. That order puts wider elements first (stable otherwise), as the ``safetensors``
    package does, so that every tensor's data starts at a multiple of its element size and
    loaders can view it in place. With `keep_digests`, `digests` collects what `verify_file`
    compares."""

    def __init__(
        self,
        file: Any,
        entries: list[tuple[str, np.dtype, tuple[int, ...]]],
        metadata: Mapping[str, str] | None = None,
        keep_digests: bool = False,
    ) -> None:
        self.header: dict[str, Any] = {}
        if metadata:
            # The format's metadata is str -> str; loaders refuse any other value.
            for key, value in metadata.items():
                if not isinstance(key, str) or not isinstance(value, str):
                    raise UsageError(
                        f"safetensors metadata maps strings to strings, not {key!r}: {value!r}"
                    )
            self.header["__metadata__"] = dict(metadata)
        ordered = sorted(entries, key=lambda entry: -entry[1].itemsize)
        self.order: list[str] = [name for name, _, _ in ordered]
        self._written = 0
        offset = 0
        for name, dtype, shape in ordered:
            if name == "__metadata__":  # the header's key for metadata, not a tensor
                raise UnsupportedError("safetensors reserves this name for metadata", key=name)
            nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            self.header[name] = {
                "dtype": SAFETENSORS_CODES[dtype.name],
                "shape": list(shape),
                "data_offsets": [offset, offset + nbytes],
            }
            offset += nbytes
        self.nbytes = offset
        self.digests: dict[str, bytes] | None = {} if keep_digests else None
        head = json.dumps(self.header, separators=(",", ":")).encode("utf-8")
        head += b" " * (-len(head) % 8)  # data starts 8-byte aligned, as the library writes it
        self.file = file
        file.write(struct.pack("<Q", len(head)))
        file.write(head)

    def write(self, name: str, value: np.ndarray) -> None:
        """Append tensor `name` (of the dtype and shape its entry gave; the next in `order`)."""
        expected = self.order[self._written] if self._written < len(self.order) else None
        if name != expected:
            raise ValueError(f"tensor {name!r} written out of order (expected {expected!r})")
        entry = self.header[name]
        code = SAFETENSORS_CODES.get(value.dtype.name)
        if code != entry["dtype"] or list(value.shape) != entry["shape"]:
            got = f"{value.dtype.name} {list(value.shape)}"
            raise ValueError(f"{got}, expected {entry['dtype']} {entry['shape']}")
        data = bytes_of(value)
        self.file.write(data.data)
        self._written += 1
        if self.digests is not None:
            self.digests[name] = digest(data.data)

    def verify(self, path: str, shown: str) -> None:
        """Read the finished file at `path` back (`verify_file`)."""
        assert self.digests is not None, "verify needs keep_digests=True"
        expected = {
            name: (entry["dtype"], tuple(entry["shape"]), self.digests[name])
            for name, entry in self.header.items()
            if name != "__metadata__"
        }
        verify_file(path, shown, expected, self.header.get("__metadata__", {}))


def _failed(shown: str, name: str | None, what: str) -> CheckpointError:
    return CheckpointError(f"verification failed: {what} differs from the source", shown, name)


def verify_file(
    path: str,
    shown: str,
    expected: Mapping[str, tuple[str, tuple[int, ...], bytes]],
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Read back a written safetensors file: exactly the tensors of `expected` ({name: (dtype
    code, shape, `digest` of the bytes)}), and `metadata` when given. Raises CheckpointError
    naming `shown` and the tensor on the first difference."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        start = 8 + length
        if set(header) - {"__metadata__"} != set(expected):
            raise _failed(shown, None, "the set of tensor names")
        if metadata is not None and (header.get("__metadata__") or {}) != dict(metadata):
            raise _failed(shown, None, "the metadata")
        for name, (code, shape, _) in expected.items():
            if header[name]["dtype"] != code or tuple(header[name]["shape"]) != tuple(shape):
                raise _failed(shown, name, "dtype or shape")
        # Read with readinto into one buffer, not through a mapping: a mapping cannot be
        # closed while any view of it lives, and a sampling profiler (Dask's workers run one)
        # may hold the frame of a hashing call, and its view, a moment longer.
        chunk = bytearray(1 << 24)
        window = memoryview(chunk)
        for name, (_, _, wanted) in expected.items():
            begin, end = header[name]["data_offsets"]
            f.seek(start + begin)
            hashed, remaining = new_digest(), end - begin
            while remaining > 0:
                got = f.readinto(window[: min(remaining, len(chunk))])
                if not got:
                    break  # the file ends early
                hashed.update(window[:got])
                remaining -= got
            if remaining or hashed.digest() != wanted:
                raise _failed(shown, name, "the stored bytes")
