"""Hostile input: checkpoints crafted byte by byte to claim absurd things.

Every bundle here is built by hand, from the format description (docs §3-§7): tables with
`tablegen.build_table`, protobuf messages with the tiny encoder below (TensorFlow's protos are
never used, so these tests run without TensorFlow). A valid baseline comes first and must read
correctly; each case then changes one thing. The outcome asserted for each case is one of:

* a specific `CheckpointError` subclass (CorruptionError for damaged data, UnsupportedError for
  valid but unsupported features), raised at open or when the named key is read, naming the
  right file and key, while every other tensor still reads its exact baseline value;
* or correct values (for oddities that are valid protobuf, such as unknown fields).

All cases run in a worker process under an address-space limit (`RLIMIT_AS`), with a peak-RSS
budget per case and a per-case timeout: a crash, an attempt to allocate gigabytes, or a hang is
reported against the case that caused it (and the worker restarts for the remaining cases).
"""

from __future__ import annotations

import json
import os
import queue
import struct
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import ckptio
import numpy as np
import pytest
from ckptio import CorruptionError, UnsupportedError
from hostile_worker import encode
from tablegen import build_table, masked_crc32c

# ============================================================================ protobuf encoder
U64 = (1 << 64) - 1


def varint(v: int) -> bytes:
    """Unsigned LEB128; negative numbers as their 64-bit two's complement (10 bytes)."""
    v &= U64
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def tag(field_number: int, wire_type: int) -> bytes:
    return varint(field_number << 3 | wire_type)


def pb_varint(field_number: int, v: int) -> bytes:
    return tag(field_number, 0) + varint(v)


def pb_bytes(field_number: int, payload: bytes) -> bytes:
    return tag(field_number, 2) + varint(len(payload)) + payload


def pb_fixed32(field_number: int, v: int) -> bytes:
    return tag(field_number, 5) + struct.pack("<I", v & 0xFFFFFFFF)


def pb_fixed64(field_number: int, v: int) -> bytes:
    return tag(field_number, 1) + struct.pack("<Q", v & U64)


def shape_proto(dims) -> bytes:
    """TensorShapeProto: one `dim` (2) per dimension, its `size` (1) omitted when 0."""
    return b"".join(pb_bytes(2, pb_varint(1, d) if d else b"") for d in dims)


def extent_proto(start: int = 0, length: int | None = None) -> bytes:
    """TensorSliceProto.Extent; no length means the full dimension (TF writes `0a 00`)."""
    if length is None:
        return pb_bytes(1, pb_varint(1, start) if start else b"")
    return pb_bytes(1, (pb_varint(1, start) if start else b"") + pb_varint(2, length))


def slice_proto(*extents: tuple[int, int | None]) -> bytes:
    return b"".join(extent_proto(s, n) for s, n in extents)


def entry_proto(
    dtype: int,
    dims,
    *,
    shard: int = 0,
    offset: int = 0,
    size: int = 0,
    crc: int | None = None,
    slices=(),
) -> bytes:
    """BundleEntryProto with TF's field order; crc32c only for entries that hold data."""
    out = pb_varint(1, dtype) + pb_bytes(2, shape_proto(dims))
    if shard:
        out += pb_varint(3, shard)
    if offset:
        out += pb_varint(4, offset)
    if size:
        out += pb_varint(5, size)
    if crc is not None:
        out += pb_fixed32(6, crc)
    return out + b"".join(pb_bytes(7, s) for s in slices)


def version_proto(producer: int = 1, min_consumer: int = 0, bad_consumers=()) -> bytes:
    out = pb_varint(1, producer) if producer else b""
    out += pb_varint(2, min_consumer) if min_consumer else b""
    return out + b"".join(pb_varint(3, b) for b in bad_consumers)


def header_proto(num_shards: int = 1, endianness: int = 0, version: bytes | None = None) -> bytes:
    out = pb_varint(1, num_shards) if num_shards else b""
    out += pb_varint(2, endianness) if endianness else b""
    return out + pb_bytes(3, version_proto() if version is None else version)


# ------------------------------------------------------------- OrderedCode slice keys (§6)
_H0 = [0, 0x80, 0xC0, 0xE0, 0xF0, 0xF8, 0xFC, 0xFE, 0xFF, 0xFF, 0xFF]
_H1 = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0xC0]


def _num_increasing(v: int) -> bytes:
    raw = v.to_bytes((v.bit_length() + 7) // 8, "big")
    return bytes([len(raw)]) + raw


def _signed_num_increasing(v: int) -> bytes:
    x = ~v if v < 0 else v
    if x < 64:
        return bytes([(0x80 ^ v) & 0xFF])
    n = x.bit_length() // 7 + 1
    out = bytearray((v & ((1 << 80) - 1)).to_bytes(10, "big")[-n:])
    out[0] ^= _H0[n]
    out[1] ^= _H1[n]
    return bytes(out)


def slice_key(name: str, extents) -> bytes:
    """EncodeTensorNameSlice: (start, length) per dimension, a full dimension as (0, -1)."""
    escaped = name.encode().replace(b"\xff", b"\xff\x00").replace(b"\x00", b"\x00\xff")
    key = b"\x00" + escaped + b"\x00\x01" + _num_increasing(len(extents))
    for start, length in extents:
        key += _signed_num_increasing(start) + _signed_num_increasing(length)
    return key


def key_str(key: bytes) -> str:
    """How ckptio names a raw key in errors (surrogateescape for non-UTF-8 bytes)."""
    return key.decode("utf-8", "surrogateescape")


# ============================================================================ V2 bundles
DATA0 = ".data-00000-of-00001"

A = np.arange(6, dtype=np.float32).reshape(2, 3) * 1.5
N = np.array(-7, dtype=np.int64)
S = np.array([b"ab", b"", b"c\x00d"], dtype=object)
P = np.arange(8, dtype=np.float32).reshape(4, 2) - 3
P_TOP, P_BOTTOM = P[:2].tobytes(), P[2:].tobytes()
P_KEYS = (slice_key("p", [(0, 2), (0, 2)]), slice_key("p", [(2, 2), (0, 2)]))
P_SLICES = (slice_proto((0, 2), (0, 2)), slice_proto((2, 2), (0, 2)))


def string_payload(elements, lengths=None) -> bytes:
    """§5.3: varint lengths, masked CRC of the lengths (4 LE bytes each), the bytes."""
    lengths = [len(e) for e in elements] if lengths is None else lengths
    crc_input = b"".join(struct.pack("<I" if n <= 0xFFFFFFFF else "<Q", n) for n in lengths)
    return (
        b"".join(varint(n) for n in lengths)
        + struct.pack("<I", masked_crc32c(crc_input))
        + b"".join(elements)
    )


def string_crc(payload: bytes, n: int) -> int:
    """The entry CRC of a string payload of n elements (§5.3): the CRC-32C of the lengths as
    fixed-width LE words, continued over the bytes after the varints. For payloads that do not
    hold n lengths (cases failing before any CRC is looked at): the CRC of the payload."""
    pos, lengths = 0, []
    for _ in range(n):
        if pos >= len(payload):
            return masked_crc32c(payload)
        v, shift = 0, 0
        while pos < len(payload):
            b = payload[pos]
            pos += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        lengths.append(v)
    if pos >= len(payload):
        return masked_crc32c(payload)
    words = b"".join(struct.pack("<I" if v <= 0xFFFFFFFF else "<Q", v) for v in lengths)
    return masked_crc32c(words + payload[pos:])


S_PAYLOAD = string_payload(list(S))


@dataclass
class Layout:
    """Where each baseline tensor's bytes lie in shard 0."""

    a: int = 0
    n: int = A.nbytes
    s: int = A.nbytes + N.nbytes
    p0: int = A.nbytes + N.nbytes + len(S_PAYLOAD)
    p1: int = A.nbytes + N.nbytes + len(S_PAYLOAD) + len(P_TOP)


AT = Layout()
SHARD0 = A.tobytes() + N.tobytes() + S_PAYLOAD + P_TOP + P_BOTTOM


def a_entry(**changes) -> bytes:
    """The baseline entry of `a` (float32 [2,3] at offset 0), with fields changed."""
    fields = {
        "dtype": 1,
        "dims": [2, 3],
        "offset": AT.a,
        "size": A.nbytes,
        "crc": masked_crc32c(A.tobytes()),
    }
    fields.update(changes)
    dtype, dims = fields.pop("dtype"), fields.pop("dims")
    return entry_proto(dtype, dims, **fields)


def s_entry(payload: bytes = S_PAYLOAD, dims=(3,), **changes) -> bytes:
    fields = {"offset": AT.s, "size": len(payload), "crc": string_crc(payload, int(np.prod(dims)))}
    fields.update(changes)
    return entry_proto(7, dims, **fields)


def p_entries(slices=P_SLICES) -> dict[bytes, bytes]:
    return {
        b"p": entry_proto(1, [4, 2], slices=slices),
        P_KEYS[0]: entry_proto(1, [2, 2], offset=AT.p0, size=len(P_TOP), crc=masked_crc32c(P_TOP)),
        P_KEYS[1]: entry_proto(
            1, [2, 2], offset=AT.p1, size=len(P_BOTTOM), crc=masked_crc32c(P_BOTTOM)
        ),
    }


@dataclass
class Bundle:
    """A V2 bundle in pieces: the header, the entries by key, the data files by suffix."""

    header: bytes = field(default_factory=header_proto)
    entries: dict[bytes, bytes] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=lambda: {DATA0: SHARD0})
    table: list[tuple[bytes, bytes]] | None = None  # replaces header + entries when set

    def write(self, prefix: Path) -> None:
        items = self.table
        if items is None:
            items = [(b"", self.header), *sorted(self.entries.items())]
        prefix.with_name(prefix.name + ".index").write_bytes(build_table(items))
        for suffix, data in self.files.items():
            prefix.with_name(prefix.name + suffix).write_bytes(data)


def baseline_v2() -> Bundle:
    entries = {
        b"a": a_entry(),
        b"n": entry_proto(9, [], offset=AT.n, size=8, crc=masked_crc32c(N.tobytes())),
        b"s": s_entry(),
        **p_entries(),
    }
    return Bundle(entries=entries)


BASELINE_V2 = {"a": A, "n": N, "p": P, "s": S}


# ============================================================================ V1 files (§7)
W = np.arange(6, dtype=np.float32).reshape(2, 3) + 0.25
G = np.array(12345678901, dtype=np.int64)
T = np.array([b"x", b"\xffy"], dtype=object)
Q = np.arange(4, dtype=np.float32) * -2  # stored as two slices: [0, 2) and [2, 4)
BASELINE_V1 = {"g": G, "q": Q, "t": T, "w": W}


def float_values(values) -> bytes:
    """TensorProto.float_val (5), packed."""
    return pb_bytes(5, np.asarray(values, dtype="<f4").tobytes())


def saved_slice_record(name: str, extents, tensor_proto: bytes, proto_slice=None) -> bytes:
    """SavedTensorSlices{data: SavedSlice{name, slice, data}}."""
    if proto_slice is None:
        proto_slice = slice_proto(*[(s, None if n == -1 else n) for s, n in extents])
    saved = pb_bytes(1, name.encode()) + pb_bytes(2, proto_slice) + pb_bytes(3, tensor_proto)
    return pb_bytes(2, saved)


def slice_meta(name: str, dims, dtype: int, slices) -> bytes:
    """SavedSliceMeta{name, shape, type, slice*}."""
    out = pb_bytes(1, name.encode()) + pb_bytes(2, shape_proto(dims)) + pb_varint(3, dtype)
    return out + b"".join(pb_bytes(4, s) for s in slices)


@dataclass
class V1File:
    """A V1 checkpoint in pieces: meta tensors by name, data records by key."""

    metas: dict[str, bytes] = field(default_factory=dict)
    version: bytes = field(default_factory=version_proto)
    records: dict[bytes, bytes] = field(default_factory=dict)
    meta_record: bytes | None = None  # replaces the built meta record when set

    def write(self, path: Path) -> None:
        meta = self.meta_record
        if meta is None:
            body = b"".join(pb_bytes(1, m) for m in self.metas.values())
            meta = pb_bytes(1, body + pb_bytes(2, self.version))
        items = sorted([(b"", meta), *self.records.items()])
        path.write_bytes(build_table(items))


FULL2 = [(0, -1), (0, -1)]
Q_EXTENTS = ([(0, 2)], [(2, 2)])


def baseline_v1() -> V1File:
    f = V1File()
    f.metas["w"] = slice_meta("w", [2, 3], 1, [slice_proto((0, None), (0, None))])
    f.records[slice_key("w", FULL2)] = saved_slice_record("w", FULL2, float_values(W.ravel()))
    f.metas["g"] = slice_meta("g", [], 9, [b""])
    f.records[slice_key("g", [])] = saved_slice_record("g", [], pb_bytes(10, varint(int(G))))
    f.metas["t"] = slice_meta("t", [2], 7, [slice_proto((0, None))])
    t_values = b"".join(pb_bytes(8, e) for e in T)
    f.records[slice_key("t", [(0, -1)])] = saved_slice_record("t", [(0, -1)], t_values)
    f.metas["q"] = slice_meta("q", [4], 1, [slice_proto(*e) for e in Q_EXTENTS])
    for e in Q_EXTENTS:
        start, length = e[0]
        values = float_values(Q[start : start + length])
        f.records[slice_key("q", e)] = saved_slice_record("q", e, values)
    return f


# ============================================================================ cases
@dataclass(frozen=True)
class Expect:
    """The outcome of a case.

    error: the exception class name, or None when everything must read correctly.
    at: "open", or the tensor name whose read must fail (every other tensor reads correctly).
    file: the file the error must name: "index", "data0", "v1", "prefix" or a suffix of the
        prefix (".data-00001-of-00002").
    key: the key the error must name (None: no key).
    match: a substring of the message.
    verify: for read failures, the class `verify()` must raise; "" when it must pass.
    """

    error: str | None = None
    at: str = "open"
    file: str = "index"
    key: str | None = None
    match: str = ""
    verify: str | None = None


OK = Expect()


def corrupt(at="open", key=None, match="", **kw) -> Expect:
    """CorruptionError at open, or (`at` a tensor name) when reading that tensor; the key
    named defaults to that tensor."""
    return Expect(
        "CorruptionError", at, key=key if key is not None else _key_for(at), match=match, **kw
    )


def unsupported(at="open", key=None, match="", **kw) -> Expect:
    """UnsupportedError, like `corrupt`."""
    return Expect(
        "UnsupportedError", at, key=key if key is not None else _key_for(at), match=match, **kw
    )


def _key_for(at: str) -> str | None:
    return None if at == "open" else at


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[], Bundle | V1File]
    expect: Expect


def v2(mutate: Callable[[Bundle], object]) -> Callable[[], Bundle]:
    def build() -> Bundle:
        b = baseline_v2()
        mutate(b)
        return b

    return build


def v1(mutate: Callable[[V1File], object]) -> Callable[[], V1File]:
    def build() -> V1File:
        f = baseline_v1()
        mutate(f)
        return f

    return build


def set_entry(key: bytes, value: bytes) -> Callable[[Bundle], None]:
    return lambda b: b.entries.__setitem__(key, value)


def set_a(**changes) -> Callable[[Bundle], None]:
    return set_entry(b"a", a_entry(**changes))


def set_header(**kw) -> Callable[[Bundle], None]:
    return lambda b: setattr(b, "header", header_proto(**kw))


def with_p_slices(*slices: bytes) -> Callable[[Bundle], None]:
    """Give `p` these slices (the slice entries stay as they are)."""
    return set_entry(b"p", entry_proto(1, [4, 2], slices=slices))


def p_part_entry(index: int, **changes) -> Callable[[Bundle], None]:
    """Replace the entry of baseline slice `index` of `p` with changed fields."""
    data = (P_TOP, P_BOTTOM)[index]
    fields = {
        "dtype": 1,
        "dims": [2, 2],
        "offset": (AT.p0, AT.p1)[index],
        "size": len(data),
        "crc": masked_crc32c(data),
    }
    fields.update(changes)
    dtype, dims = fields.pop("dtype"), fields.pop("dims")
    return set_entry(P_KEYS[index], entry_proto(dtype, dims, **fields))


def put_s(payload: bytes, dims=(3,), **changes) -> Callable[[Bundle], None]:
    """Store `payload` as the string tensor `s` (appended to shard 0)."""

    def mutate(b: Bundle) -> None:
        b.files[DATA0] = SHARD0 + payload
        b.entries[b"s"] = s_entry(payload, dims, offset=len(SHARD0), **changes)

    return mutate


def many_empty_slices(b: Bundle) -> None:
    # 300k copies of one empty slice of an empty tensor: 1.2 MB of index that used to cost a
    # quadratic overlap check (minutes).
    b.entries[b"e"] = entry_proto(1, [0], slices=[slice_proto((0, None))] * 300_000)
    b.entries[slice_key("e", [(0, -1)])] = entry_proto(1, [0], offset=0, crc=masked_crc32c(b""))


def huge_empty_slice(b: Bundle) -> None:
    """p is [2^31, 2^31] stored as one slice whose entry claims those 2^62 floats in 0 bytes."""
    big = 1 << 31
    for k in P_KEYS:
        del b.entries[k]
    b.entries[b"p"] = entry_proto(1, [big, big], slices=[slice_proto((0, big), (0, big))])
    b.entries[slice_key("p", [(0, big), (0, big)])] = entry_proto(
        1, [big, big], crc=masked_crc32c(b"")
    )


def gapped_p(b: Bundle) -> None:
    """p's slices cover rows [0, 2) and [3, 4): row 2 is missing."""
    with_p_slices(slice_proto((0, 2), (0, 2)), slice_proto((3, 1), (0, 2)))(b)
    del b.entries[P_KEYS[1]]
    bottom = P[3:].tobytes()
    b.entries[slice_key("p", [(3, 1), (0, 2)])] = entry_proto(
        1, [1, 2], offset=AT.p1, size=len(bottom), crc=masked_crc32c(bottom)
    )
    b.files[DATA0] = SHARD0[: AT.p1] + bottom


def overlapping_p(b: Bundle) -> None:
    """p's slices cover rows [0, 3) and [2, 4), each with a well-formed entry."""
    with_p_slices(slice_proto((0, 3), (0, 2)), slice_proto((2, 2), (0, 2)))(b)
    del b.entries[P_KEYS[0]]
    top3 = P[:3].tobytes()
    b.files[DATA0] = SHARD0 + top3
    b.entries[slice_key("p", [(0, 3), (0, 2)])] = entry_proto(
        1, [3, 2], offset=len(SHARD0), size=len(top3), crc=masked_crc32c(top3)
    )


def wire(value: bytes) -> Callable[[Bundle], None]:
    """Replace `a`'s whole entry with raw bytes."""
    return set_entry(b"a", value)


GOOD_A = a_entry()
GOOD_A_SHAPE = pb_bytes(2, shape_proto([2, 3]))
A_TAIL = GOOD_A[2 + len(GOOD_A_SHAPE) :]  # offset/size/crc fields after dtype and shape


def nested(depth: int) -> bytes:
    """Field 15 holding field 15 holding ... `depth` levels of submessages."""
    lengths = [0]
    for _ in range(depth - 1):
        lengths.append(len(tag(15, 2) + varint(lengths[-1])) + lengths[-1])
    return b"".join(tag(15, 2) + varint(n) for n in reversed(lengths))


def second_shard(b: Bundle) -> None:
    """num_shards 2, `a` moved to shard 1, whose file is missing."""
    b.header = header_proto(num_shards=2)
    b.entries[b"a"] = a_entry(shard=1)
    b.files = {".data-00000-of-00002": SHARD0}


def duplicate_key(b: Bundle) -> None:
    items = [(b"", b.header), *sorted(b.entries.items())]
    i = next(i for i, (k, _) in enumerate(items) if k == b"a")
    b.table = [*items[: i + 1], items[i], *items[i + 1 :]]


def swapped_keys(b: Bundle) -> None:
    items = [(b"", b.header), *sorted(b.entries.items())]
    i = next(i for i, (k, _) in enumerate(items) if k == b"a")
    items[i], items[i + 1] = items[i + 1], items[i]  # "n" before "a": the first bytes differ
    b.table = items


def prefix_key_after_longer(b: Bundle) -> None:
    b.entries[b"aa"] = b.entries[b"a"]
    items = [(b"", b.header), *sorted(b.entries.items())]
    i = next(i for i, (k, _) in enumerate(items) if k == b"a")
    items[i], items[i + 1] = items[i + 1], items[i]  # "a" after "aa": nothing new to compare
    b.table = items


def no_header(b: Bundle) -> None:
    b.table = sorted(b.entries.items())


def variant_garbage(b: Bundle) -> None:
    b.entries[b"a"] = a_entry(dtype=21, dims=[2])  # 24 bytes that are no variant encoding


V2_CASES = [
    Case("baseline", baseline_v2, OK),
    # --- absurd shapes -------------------------------------------------------------------
    Case(
        "dims 2^40 x 2^40",
        v2(set_a(dims=[1 << 40, 1 << 40])),
        corrupt(key="a", match="too many elements"),
    ),
    Case(
        "dims product 2^64",
        v2(set_a(dims=[1 << 32, 1 << 32])),
        corrupt(key="a", match="too many elements"),
    ),
    Case(
        "dims product past int64",
        v2(set_a(dims=[3, 1 << 62])),
        corrupt(key="a", match="too many elements"),
    ),
    Case("negative dim", v2(set_a(dims=[-1, 6])), corrupt(key="a", match="negative dimension")),
    Case("dim -2^63", v2(set_a(dims=[-(1 << 63)])), corrupt(key="a", match="negative")),
    Case("rank 300", v2(set_a(dims=[1] * 300)), corrupt(key="a", match="rank too large")),
    Case(
        "unknown rank",
        v2(set_entry(b"a", pb_varint(1, 1) + pb_bytes(2, pb_varint(3, 1)) + A_TAIL)),
        corrupt(key="a", match="unknown rank"),
    ),
    # n * 4 bytes is 2^64 for n = 2^62: the size rule must not wrap around to 0.
    Case(
        "2^62 floats in 0 bytes",
        v2(set_a(dims=[1 << 31, 1 << 31], size=0, crc=masked_crc32c(b""))),
        corrupt("a", match="invalid size", file="data0"),
    ),
    Case(
        "2^60 complex128 in 0 bytes",
        v2(set_a(dtype=18, dims=[1 << 30, 1 << 30], size=0, crc=masked_crc32c(b""))),
        corrupt("a", match="invalid size", file="data0"),
    ),
    Case(
        "2^61 int64 in 0 bytes",
        v2(set_a(dtype=9, dims=[2, 1 << 60], size=0, crc=masked_crc32c(b""))),
        corrupt("a", match="invalid size", file="data0"),
    ),
    # Valid for TF (rank <= 254, empty tensors of any extent), but numpy cannot hold them.
    Case("rank 65", v2(set_a(dims=[1] * 63 + [2, 3])), unsupported("a", match="numpy", verify="")),
    Case(
        "empty, other dims 2^40 x 2^40",
        v2(set_a(dims=[0, 1 << 40, 1 << 40], size=0, crc=masked_crc32c(b""))),
        unsupported("a", match="numpy", verify=""),
    ),
    Case(
        "empty strings, other dims 2^40 x 2^40",
        v2(put_s(string_payload([]), dims=(1 << 40, 0, 1 << 40))),
        unsupported("s", match="numpy", verify="", file="index"),
    ),
    # --- sizes and offsets ---------------------------------------------------------------
    Case(
        "offset 2^63", v2(set_a(offset=1 << 63)), corrupt("a", match="past the end", file="data0")
    ),
    Case("offset 2^64-1", v2(set_a(offset=U64)), corrupt("a", match="past the end", file="data0")),
    Case("size 2^64-1", v2(set_a(size=U64)), corrupt("a", match="invalid size", file="data0")),
    Case(
        "offset + size wraps",
        v2(set_a(offset=U64 - 7)),
        corrupt("a", match="past the end", file="data0"),
    ),
    Case(
        "string size 2^64-1",
        v2(set_entry(b"s", s_entry(size=U64))),
        corrupt("s", match="past the end", file="data0"),
    ),
    # --- shards --------------------------------------------------------------------------
    Case("shard_id past num_shards", v2(set_a(shard=1)), corrupt("a", match="shard_id 1")),
    Case("shard_id -1", v2(set_a(shard=-1)), corrupt("a", match="shard_id -1")),
    Case("num_shards 0", v2(set_header(num_shards=0)), corrupt(match="num_shards 0")),
    Case("num_shards -1", v2(set_header(num_shards=-1)), corrupt(match="num_shards -1")),
    Case("num_shards 2^31", v2(set_header(num_shards=1 << 31)), corrupt(match="num_shards")),
    Case(
        "shard file missing",
        v2(second_shard),
        Expect(
            "NotFoundError",
            "a",
            file=".data-00001-of-00002",
            key="a",
            match="missing or unreadable data shard",
        ),
    ),
    # --- dtypes --------------------------------------------------------------------------
    Case("dtype 99", v2(set_a(dtype=99)), unsupported("a", match="unknown", file="data0")),
    Case("dtype 0", v2(set_a(dtype=0)), unsupported("a", match="enum 0", file="data0")),
    Case("dtype -1", v2(set_a(dtype=-1)), unsupported("a", match="enum -1", file="data0")),
    Case("dtype float_ref", v2(set_a(dtype=101)), unsupported("a", match="enum 101", file="data0")),
    Case("dtype resource", v2(set_a(dtype=20)), unsupported("a", match="resource", file="data0")),
    Case(
        "dtype variant (bytes no variant)",
        v2(variant_garbage),
        unsupported("a", match="variant", file="data0", verify="CorruptionError"),
    ),
    # --- string tensors ------------------------------------------------------------------
    Case(
        "string length 2^40",
        v2(put_s(string_payload(list(S), lengths=[1 << 40, 0, 3]))),
        corrupt("s", match="lengths exceed", file="data0"),
    ),
    Case(
        "string length past the entry",
        v2(put_s(string_payload(list(S), lengths=[2, 0, 99]))),
        corrupt("s", match="lengths exceed", file="data0"),
    ),
    Case(
        "string lengths sum past the bytes",
        v2(put_s(string_payload(list(S), lengths=[2, 0, 4]))),
        corrupt("s", match="disagree with the entry size", file="data0"),
    ),
    Case(
        "1000 strings in 13 bytes",
        v2(set_entry(b"s", s_entry(dims=(1000,)))),
        corrupt("s", match="more elements than bytes", file="data0"),
    ),
    Case(
        "2^40 strings in 13 bytes",
        v2(set_entry(b"s", s_entry(dims=(1 << 40,)))),
        corrupt("s", match="more elements than bytes", file="data0"),
    ),
    Case(
        "string length as an 11-byte varint",
        v2(put_s(b"\x80" * 10 + b"\x00" + b"\0" * 8, dims=(1,))),
        corrupt("s", match="truncated length", file="data0"),
    ),
    Case(
        "string length checksum wrong",
        v2(
            lambda b: b.files.__setitem__(
                DATA0, SHARD0[: AT.s + 3] + b"\0\0\0\0" + SHARD0[AT.s + 7 :]
            )
        ),
        corrupt("s", match="length checksum does not match", file="data0"),
    ),
    Case(
        "string entry too short for its checksum",
        v2(put_s(b"\0\0\0")),
        corrupt("s", match="truncated length checksum", file="data0"),
    ),
    Case(
        "empty string tensor of 0 bytes",
        v2(put_s(b"", dims=(0,))),
        corrupt("s", match="truncated length checksum", file="data0"),
    ),
    Case(
        "string bytes past the lengths",
        v2(set_entry(b"s", s_entry(size=len(S_PAYLOAD) + 1))),
        corrupt("s", match="disagree with the entry size", file="data0"),
    ),
    # --- protobuf wire format of an entry ------------------------------------------------
    Case(
        "11-byte varint",
        v2(wire(b"\x08" + b"\x80" * 10 + b"\x01" + GOOD_A[2:])),
        corrupt(key="a", match="malformed"),
    ),
    Case(
        "varint past 64 bits",
        v2(wire(b"\x08" + b"\xff" * 9 + b"\x7f" + GOOD_A[2:])),
        corrupt(key="a", match="malformed"),
    ),
    Case("truncated crc32c", v2(wire(GOOD_A[:-1])), corrupt(key="a", match="malformed")),
    Case("truncated varint", v2(wire(b"\x08\x81")), corrupt(key="a", match="malformed")),
    Case("truncated tag", v2(wire(GOOD_A + b"\x80")), corrupt(key="a", match="malformed")),
    Case(
        "dtype as bytes",
        v2(wire(pb_bytes(1, b"\x01") + GOOD_A[2:])),
        corrupt(key="a", match="malformed"),
    ),
    Case(
        "shape as varint",
        v2(wire(b"\x08\x01" + pb_varint(2, 5) + A_TAIL)),
        corrupt(key="a", match="malformed"),
    ),
    Case(
        "shard_id as fixed32",
        v2(wire(GOOD_A + pb_fixed32(3, 0))),
        corrupt(key="a", match="malformed"),
    ),
    Case(
        "offset as bytes", v2(wire(GOOD_A + pb_bytes(4, b""))), corrupt(key="a", match="malformed")
    ),
    Case(
        "size as fixed64", v2(wire(GOOD_A + pb_fixed64(5, 24))), corrupt(key="a", match="malformed")
    ),
    Case(
        "crc32c as varint",
        v2(wire(GOOD_A[:-5] + pb_varint(6, 1))),
        corrupt(key="a", match="malformed"),
    ),
    Case(
        "slices as varint", v2(wire(GOOD_A + pb_varint(7, 1))), corrupt(key="a", match="malformed")
    ),
    Case(
        "dim size as bytes",
        v2(wire(b"\x08\x01" + pb_bytes(2, pb_bytes(2, pb_bytes(1, b"\x02"))) + A_TAIL)),
        corrupt(key="a", match="malformed"),
    ),
    Case(
        "group wire type",
        v2(wire(GOOD_A + tag(9, 3) + tag(9, 4))),
        corrupt(key="a", match="malformed"),
    ),
    Case("field number 0", v2(wire(GOOD_A + pb_varint(0, 1))), corrupt(key="a", match="malformed")),
    Case(
        "shape length past the entry",
        v2(wire(b"\x08\x01\x12\x7f" + GOOD_A[4:])),
        corrupt(key="a", match="malformed"),
    ),
    Case(
        "shape length 2^63",
        v2(wire(b"\x08\x01\x12" + varint(1 << 63) + GOOD_A[4:])),
        corrupt(key="a", match="malformed"),
    ),
    Case(
        "dim length past the shape",
        v2(wire(b"\x08\x01" + pb_bytes(2, b"\x12\x09\x08\x02") + A_TAIL)),
        corrupt(key="a", match="malformed"),
    ),
    # Valid protobuf that TF's writer never emits: skipped like protobuf skips it.
    Case("unknown field nested 20000 deep", v2(wire(GOOD_A + nested(20_000))), OK),
    Case("unknown 1 MiB field", v2(wire(pb_bytes(99, b"\xee" * (1 << 20)) + GOOD_A)), OK),
    # --- the header ------------------------------------------------------------------------
    Case("big-endian header", v2(set_header(endianness=1)), unsupported(match="big-endian")),
    Case(
        "min_consumer 5",
        v2(set_header(version=version_proto(min_consumer=5))),
        unsupported(match="min consumer"),
    ),
    Case(
        "producer -1",
        v2(set_header(version=version_proto(producer=-1))),
        unsupported(match="producer"),
    ),
    Case(
        "bad_consumers [0, 1]",
        v2(set_header(version=version_proto(bad_consumers=[0, 1]))),
        unsupported(match="consumer version 1"),
    ),
    Case(
        "header is garbage",
        v2(lambda b: setattr(b, "header", b"\xff\xff")),
        corrupt(match="malformed"),
    ),
    Case(
        "header version as varint",
        v2(lambda b: setattr(b, "header", pb_varint(3, 1))),
        corrupt(match="malformed"),
    ),
    Case("no header entry", v2(no_header), corrupt(match="missing bundle header")),
    Case("duplicate key", v2(duplicate_key), corrupt(match="out of order")),
    Case("keys swapped", v2(swapped_keys), corrupt(match="out of order")),
    Case(
        "key after a longer one it prefixes",
        v2(prefix_key_after_longer),
        corrupt(match="out of order"),
    ),
    # --- partitioned tensors -------------------------------------------------------------
    Case(
        "slices leave a gap",
        v2(gapped_p),
        Expect("CorruptionError", "p", file="prefix", key="p", match="do not cover", verify=""),
    ),
    Case("slices overlap", v2(overlapping_p), corrupt(key="p", match="overlapping")),
    Case(
        "same slice twice",
        v2(with_p_slices(*P_SLICES, P_SLICES[0])),
        corrupt(key="p", match="overlapping"),
    ),
    Case(
        "slice past the end",
        v2(with_p_slices(P_SLICES[0], slice_proto((3, 2), (0, 2)))),
        corrupt(key="p", match="outside the shape"),
    ),
    Case(
        "slice start -1",
        v2(with_p_slices(P_SLICES[0], slice_proto((-1, 2), (0, 2)))),
        corrupt(key="p", match="outside the shape"),
    ),
    Case(
        "slice length 2^63-1",
        v2(with_p_slices(P_SLICES[0], slice_proto((2, (1 << 63) - 1), (0, 2)))),
        corrupt(key="p", match="outside the shape"),
    ),
    Case(
        "slice length -5",
        v2(with_p_slices(P_SLICES[0], slice_proto((2, -5), (0, 2)))),
        corrupt(key="p", match="outside the shape"),
    ),
    Case(
        "full extent with start 1",
        v2(with_p_slices(P_SLICES[0], slice_proto((1, None), (0, 2)))),
        corrupt(key="p", match="nonzero start"),
    ),
    Case(
        "slice of rank 1",
        v2(with_p_slices(P_SLICES[0], slice_proto((2, 2)))),
        corrupt(key="p", match="rank"),
    ),
    Case(
        "slice entry missing",
        v2(lambda b: b.entries.pop(P_KEYS[1])),
        corrupt(key="p", match="no entry for slice"),
    ),
    Case(
        "slice entry float64",
        v2(p_part_entry(1, dtype=2)),
        corrupt(key="p", match="dtype or shape"),
    ),
    Case(
        "slice entry shape [2, 1]",
        v2(p_part_entry(1, dims=[2, 1], size=8)),
        corrupt(key="p", match="dtype or shape"),
    ),
    Case(
        "slice entry size 12",
        v2(p_part_entry(1, size=12)),
        corrupt(key="p", match="size disagrees"),
    ),
    Case(
        "slice entry 2^62 elements in 0 bytes",
        v2(huge_empty_slice),
        corrupt(key="p", match="size disagrees"),
    ),
    Case(
        "slice entry is partitioned",
        v2(p_part_entry(1, slices=[slice_proto((0, 2), (0, 2))])),
        corrupt(key=key_str(P_KEYS[1]), match="no entry for slice"),
    ),
    Case(
        "slice entry checksum wrong",
        v2(p_part_entry(1, crc=masked_crc32c(b"x"))),
        Expect(
            "CorruptionError",
            "p",
            file="data0",
            key=key_str(P_KEYS[1]),
            match="checksum does not match",
        ),
    ),
    Case(
        "300k copies of an empty slice",
        v2(many_empty_slices),
        unsupported(key="e", match="too many slices"),
    ),
]


def v1_replace_record(name: str, extents, tensor_proto: bytes, **kw):
    def mutate(f: V1File) -> None:
        f.records[slice_key(name, extents)] = saved_slice_record(name, extents, tensor_proto, **kw)

    return mutate


def v1_meta(name: str, dims, dtype: int, slices) -> Callable[[V1File], None]:
    return lambda f: f.metas.__setitem__(name, slice_meta(name, dims, dtype, slices))


FULL_W = [slice_proto((0, None), (0, None))]
W_VALUES = float_values(W.ravel())


def many_empty_v1_slices(f: V1File) -> None:
    f.metas["e"] = slice_meta("e", [0], 1, [slice_proto((0, None))] * 300_000)
    f.records[slice_key("e", [(0, -1)])] = saved_slice_record("e", [(0, -1)], b"")


V1_CASES = [
    Case("v1 baseline", baseline_v1, OK),
    Case(
        "v1 shape 2^40 x 2^40",
        v1(v1_meta("w", [1 << 40, 1 << 40], 1, FULL_W)),
        corrupt(key="w", file="v1", match="invalid tensor shape"),
    ),
    Case(
        "v1 shape 2^20 x 2^20",
        v1(v1_meta("w", [1 << 20, 1 << 20], 1, FULL_W)),
        corrupt(key="w", file="v1", match="more elements than the files hold"),
    ),
    Case(
        "v1 shape [-2, 3]",
        v1(v1_meta("w", [-2, 3], 1, FULL_W)),
        corrupt(key="w", file="v1", match="invalid tensor shape"),
    ),
    Case(
        "v1 rank 300",
        v1(v1_meta("w", [1] * 300, 1, FULL_W)),
        corrupt(key="w", file="v1", match="invalid tensor shape"),
    ),
    Case(
        "v1 rank 65",
        v1(
            lambda f: (
                v1_meta("w", [1] * 63 + [2, 3], 1, [slice_proto(*[(0, None)] * 65)])(f),
                f.records.__setitem__(
                    slice_key("w", [(0, -1)] * 65),
                    saved_slice_record("w", [(0, -1)] * 65, W_VALUES),
                ),
            )
        ),
        unsupported("w", file="v1", match="numpy", verify=""),
    ),
    Case(
        "v1 empty, other dims 2^40 x 2^40",
        v1(v1_meta("w", [1 << 40, 0, 1 << 40], 1, [])),
        unsupported("w", file="v1", match="numpy", verify=""),
    ),
    Case(
        "v1 slice record missing",
        v1(lambda f: f.records.pop(slice_key("w", FULL2))),
        corrupt("w", file="v1", match="no record"),
    ),
    Case(
        "v1 5 of 6 values",
        v1(v1_replace_record("w", FULL2, float_values(W.ravel()[:5]))),
        corrupt("w", file="v1", match="fewer values"),
    ),
    Case(
        "v1 7 of 6 values",
        v1(v1_replace_record("w", FULL2, float_values([*W.ravel(), 9]))),
        corrupt("w", file="v1", match="more values"),
    ),
    Case(
        "v1 7 of 6 unpacked values",
        v1(v1_replace_record("w", FULL2, b"".join(pb_fixed32(5, int(v)) for v in range(7)))),
        corrupt("w", file="v1", match="more values"),
    ),
    Case(
        "v1 tensor_content and float_val",
        v1(v1_replace_record("w", FULL2, pb_bytes(4, W.tobytes()) + W_VALUES)),
        corrupt("w", file="v1", match="both tensor_content and typed values"),
    ),
    Case(
        "v1 float_val and tensor_content",
        v1(v1_replace_record("w", FULL2, W_VALUES + pb_bytes(4, W.tobytes()))),
        corrupt("w", file="v1", match="tensor_content"),
    ),
    Case(
        "v1 tensor_content of 20 bytes",
        v1(v1_replace_record("w", FULL2, pb_bytes(4, W.tobytes()[:20]))),
        corrupt("w", file="v1", match="tensor_content size"),
    ),
    Case(
        "v1 packed floats of 23 bytes",
        v1(v1_replace_record("w", FULL2, pb_bytes(5, W.tobytes()[:23]))),
        corrupt("w", file="v1", match="malformed packed values"),
    ),
    Case(
        "v1 float_val as varints",
        v1(v1_replace_record("w", FULL2, b"".join(pb_varint(5, 1) for _ in range(6)))),
        corrupt("w", file="v1", match="malformed TensorProto values"),
    ),
    Case(
        "v1 values claim 2^40 bytes",
        v1(v1_replace_record("w", FULL2, b"\x2a" + varint(1 << 40) + W.tobytes())),
        corrupt("w", file="v1", match="malformed"),
    ),
    Case(
        "v1 1 of 2 strings",
        v1(v1_replace_record("t", [(0, -1)], pb_bytes(8, b"x"))),
        corrupt("t", file="v1", match="fewer strings"),
    ),
    Case(
        "v1 3 of 2 strings",
        v1(v1_replace_record("t", [(0, -1)], pb_bytes(8, b"x") * 3)),
        corrupt("t", file="v1", match="more strings"),
    ),
    Case(
        "v1 record names another tensor",
        v1(
            lambda f: f.records.__setitem__(
                slice_key("w", FULL2), saved_slice_record("g", FULL2, W_VALUES)
            )
        ),
        corrupt("w", file="v1", match="names another tensor"),
    ),
    Case(
        "v1 slices overlap",
        v1(v1_meta("q", [4], 1, [slice_proto((0, 3)), slice_proto((2, 2))])),
        corrupt(key="q", file="v1", match="overlapping"),
    ),
    Case(
        "v1 slices leave a gap",
        v1(
            lambda f: (
                v1_meta("q", [4], 1, [slice_proto((0, 2))])(f),
                f.records.pop(slice_key("q", Q_EXTENTS[1])),
            )
        ),
        corrupt("q", file="v1", match="do not cover", verify="CorruptionError"),
    ),
    Case(
        "v1 slice past the end",
        v1(v1_meta("q", [4], 1, [slice_proto((0, 2)), slice_proto((3, 2))])),
        corrupt(key="q", file="v1", match="outside"),
    ),
    Case(
        "v1 slice rank 2 of rank 1",
        v1(v1_meta("q", [4], 1, [slice_proto((0, 2), (0, 1)), slice_proto((2, 2))])),
        corrupt(key="q", file="v1", match="rank"),
    ),
    Case(
        "v1 variant",
        v1(v1_meta("g", [], 21, [b""])),
        unsupported("g", file="v1", match="variant", verify=""),
    ),
    Case(
        "v1 dtype 99",
        v1(v1_meta("g", [], 99, [b""])),
        unsupported("g", file="v1", match="unknown", verify=""),
    ),
    Case(
        "v1 no meta record",
        v1(lambda f: setattr(f, "meta_record", pb_bytes(2, b""))),
        corrupt(file="v1", match="failed to find the saved tensor slices"),
    ),
    Case(
        "v1 meta truncated",
        v1(lambda f: setattr(f, "meta_record", b"\x0a\x7f\x0a")),
        corrupt(file="v1", match="malformed"),
    ),
    Case(
        "v1 min_consumer 5",
        v1(lambda f: setattr(f, "version", version_proto(min_consumer=5))),
        unsupported(file="v1", match="min consumer"),
    ),
    Case(
        "v1 300k copies of an empty slice",
        v1(many_empty_v1_slices),
        unsupported(key="e", file="v1", match="too many slices"),
    ),
]

CASES = V2_CASES + V1_CASES
assert len({c.id for c in CASES}) == len(CASES)


# ============================================================================ the worker
WORKER = Path(__file__).resolve().parent / "hostile_worker.py"

ADDRESS_SPACE = 1 << 30  # the worker needs ~150 MiB; anything near a GiB is absurd here
RSS_BUDGET = 64 << 20  # peak-RSS growth allowed per case
CASE_TIMEOUT = 60.0  # seconds without an answer: a hang (cases take milliseconds)


def _run_worker(jobs: list[dict]) -> dict[str, dict]:
    """Run jobs in worker processes; a crash or hang is recorded against its case."""
    results: dict[str, dict] = {}
    pending = list(jobs)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    # Under the sanitizer run the parent preloads ASan, whose shadow memory cannot live within
    # the worker's address-space limit; the worker uses the regular extension anyway.
    env.pop("LD_PRELOAD", None)
    while pending:
        proc = subprocess.Popen(
            [sys.executable, str(WORKER), str(ADDRESS_SPACE)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        lines: queue.Queue = queue.Queue()

        def pump(stream=proc.stdout, lines=lines) -> None:
            for x in stream:
                lines.put(x)
            lines.put(None)

        pump_thread = threading.Thread(target=pump, daemon=True)
        pump_thread.start()
        assert proc.stdin is not None
        proc.stdin.write("".join(json.dumps(j) + "\n" for j in pending))
        proc.stdin.close()
        current = None
        while True:
            try:
                line = lines.get(timeout=CASE_TIMEOUT)
            except queue.Empty:
                proc.kill()
                results[current or pending[0]["id"]] = {"hang": CASE_TIMEOUT}
                break
            if line is None:
                proc.wait()
                stderr = proc.stderr.read() if proc.stderr else ""
                if current is not None:
                    results[current] = {"crash": proc.returncode, "stderr": stderr[-2000:]}
                elif proc.returncode != 0:
                    # The worker died before taking any job: charge the next one, so that the
                    # loop always makes progress instead of restarting the worker forever.
                    results[pending[0]["id"]] = {"crash": proc.returncode, "stderr": stderr[-2000:]}
                break
            msg = json.loads(line)
            if "start" in msg:
                current = msg["start"]
            else:
                results[msg["id"]] = msg
                current = None
        proc.wait()
        pump_thread.join()
        proc.stdout.close()
        proc.stderr.close()
        pending = [j for j in pending if j["id"] not in results]
    return results


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, tuple[Case, str, dict, dict]]:
    root = tmp_path_factory.mktemp("hostile")
    jobs, built = [], {}
    for i, case in enumerate(CASES):
        directory = root / f"case{i:03d}"
        directory.mkdir()
        made = case.build()
        path = directory / ("model.ckpt" if isinstance(made, V1File) else "ckpt")
        made.write(path)
        baseline = BASELINE_V1 if isinstance(made, V1File) else BASELINE_V2
        built[case.id] = (case, str(path), baseline)
        jobs.append({"id": case.id, "path": str(path)})
    results = _run_worker(jobs)
    return {cid: (case, path, results[cid], base) for cid, (case, path, base) in built.items()}


# ============================================================================ checks
def expected_file(spec: str, path: str) -> str:
    if spec == "index":
        return path + ".index"
    if spec == "data0":
        return path + DATA0
    if spec in ("v1", "prefix"):
        return path
    return path + spec


def check_error(err: dict, expect: Expect, path: str, what: str) -> None:
    assert err["type"] == expect.error, f"{what}: got {err['type']}: {err['message']}"
    assert err["checkpoint_error"], what
    assert err["file"] == expected_file(expect.file, path), f"{what}: {err['message']}"
    assert err["key"] == expect.key, f"{what}: {err['message']}"
    assert expect.match in err["message"], f"{what}: {err['message']!r}"
    assert err["file"] in err["message"], f"{what}: the message must name the file"


@pytest.mark.parametrize("case_id", [c.id for c in CASES])
def test_hostile_case(outcomes, case_id):
    case, path, result, baseline = outcomes[case_id]
    expect = case.expect
    assert "crash" not in result, f"the process died ({result['crash']}): {result['stderr']}"
    assert "hang" not in result, f"no answer within {result['hang']} s"
    assert result["rss_growth"] <= RSS_BUDGET, f"peak RSS grew by {result['rss_growth']} bytes"
    if expect.at == "open" and expect.error is not None:
        assert "open" in result, f"opened without error; read: {result.get('values')}"
        check_error(result["open"], expect, path, "open")
        return
    assert "open" not in result, f"open failed: {result['open']}"
    assert all(result["listing"]), "listing (shapes, dtypes, info) disagrees with itself"
    failing = expect.at if expect.error is not None else None
    assert set(result["names"]) >= set(baseline) - {failing}, result["names"]
    for name, outcome in result["values"].items():
        if name == failing:
            assert "error" in outcome, f"{name} read without error: {outcome}"
            check_error(outcome["error"], expect, path, f"reading {name!r}")
            continue
        if name not in baseline:
            continue  # an extra tensor of the case itself (checked through `verify`)
        assert "error" not in outcome, f"{name}: {outcome.get('error')}"
        assert outcome["value"] == encode(baseline[name]), f"{name} read a wrong value"
        assert outcome["copy"] == encode(baseline[name]), f"{name} copied a wrong value"
    verify = result["verify"]
    if failing is None or expect.verify == "":
        assert verify is None, f"verify failed: {verify}"
    else:
        assert verify is not None, "verify passed"
        assert verify["type"] == (expect.verify or expect.error), verify
        assert verify["checkpoint_error"] and verify["key"] in (failing, expect.key), verify


# ============================================================================ direct checks
def test_slice_keys_match_ckptio_and_the_doc():
    from ckptio import _core

    assert slice_key("vgg_16/part", [(2, 2), (0, 2)]).endswith(b"\x01\x02\x82\x82\x80\x82")
    for start, length in [
        (0, -1),
        (63, 64),
        (100, 8191),
        (8192, 70000),
        (1 << 40, -64),
        (-0x800, (1 << 63) - 1),
        (-(1 << 63), 0x424242),
    ]:
        extents = [(start, length), (0, -1)]
        assert slice_key("a\x00b\xffc", extents) == _core.encode_slice_key("a\x00b\xffc", extents)


def test_baseline_matches_tensorflow(tmp_path):
    """The hand-made baselines are what TF reads too (so the mutations start from valid)."""
    from conftest import import_tensorflow

    tf = import_tensorflow()
    baseline_v2().write(tmp_path / "ckpt")
    baseline_v1().write(tmp_path / "model.ckpt")
    for path, values in [(tmp_path / "ckpt", BASELINE_V2), (tmp_path / "model.ckpt", BASELINE_V1)]:
        reader = tf.train.load_checkpoint(str(path))
        assert set(reader.get_variable_to_shape_map()) == set(values)
        for name, want in values.items():
            if path.name == "model.ckpt" and name == "q":
                continue  # TF's CheckpointReader refuses multi-slice V1 tensors
            got = reader.get_tensor(name)
            got = np.array(got, dtype=object) if isinstance(got, bytes) else np.asarray(got)
            assert encode(got) == encode(want), name


def test_region_in_a_gap_between_slices_is_an_error(tmp_path):
    b = baseline_v2()
    gapped_p(b)
    b.write(tmp_path / "ckpt")
    with ckptio.open(tmp_path / "ckpt") as ckpt:
        assert np.array_equal(ckpt.get_slice("p")[3:], P[3:])  # stored: reads fine
        with pytest.raises(CorruptionError):
            ckpt.get_slice("p")[2:3]


def test_unsupported_shape_error_names_index_and_key(tmp_path):
    b = baseline_v2()
    set_a(dims=[1] * 70 + [6])(b)
    b.write(tmp_path / "ckpt")
    with ckptio.open(tmp_path / "ckpt") as ckpt:
        assert ckpt.shapes()["a"] == (1,) * 70 + (6,)  # listing works
        for read in (ckpt.get_tensor, lambda n: ckpt.get_tensor(n, copy=True)):
            with pytest.raises(UnsupportedError) as err:
                read("a")
            assert err.value.key == "a"
        ckpt.verify("a")  # the stored bytes are fine


def test_v1_bool_tensor_content_reads_as_bools(tmp_path):
    """tensor_content bytes other than 0/1 decode as True; a zero-copy view of them must not
    hand out numpy bools holding 2 (which compare unequal to True)."""
    f = baseline_v1()
    f.metas["f"] = slice_meta("f", [4], 10, [slice_proto((0, None))])
    content = pb_bytes(4, b"\x00\x01\x02\xff")
    f.records[slice_key("f", [(0, -1)])] = saved_slice_record("f", [(0, -1)], content)
    f.write(tmp_path / "model.ckpt")
    with ckptio.open(tmp_path / "model.ckpt") as ckpt:
        for value in (ckpt["f"], ckpt.get_tensor("f", copy=True), ckpt.get_tensor("f")):
            assert value.dtype == np.bool_
            assert value.view(np.uint8).tolist() == [0, 1, 1, 1]
            assert (value == np.array([False, True, True, True])).all()


def test_ten_thousand_slices_still_open(tmp_path):
    """The bound on overlap checks leaves room for far more partitions than TF ever writes.

    The work is bounded in steps, not seconds: the core counts overlap-check steps (pairs x
    rank, src/slice_geometry.h) against a per-checkpoint budget, and the "300k copies of an
    empty slice" case shows the budget is enforced. Here the ~5e7 steps of 10,000 slices must
    fit in it."""
    n = 10_000
    values = np.arange(n, dtype=np.float32)
    b = Bundle(files={DATA0: values.tobytes()})
    b.entries[b"big"] = entry_proto(1, [n], slices=[slice_proto((i, 1)) for i in range(n)])
    for i in range(n):
        item = values[i : i + 1].tobytes()
        b.entries[slice_key("big", [(i, 1)])] = entry_proto(
            1, [1], offset=4 * i, size=4, crc=masked_crc32c(item)
        )
    b.write(tmp_path / "ckpt")
    with ckptio.open(tmp_path / "ckpt") as ckpt:
        assert ckpt.info("big").sliced
        assert ckpt.get_tensor("big").tobytes() == values.tobytes()


def test_empty_slice_inside_another_is_no_overlap(tmp_path):
    """Both readers share one slice check (src/slice_geometry): an empty slice shares no element
    with the slice it lies in (TF's TensorSlice::Intersect), so it is no overlap, in V2 as in V1
    (slices that share elements are: see the "slices overlap" cases)."""
    b = baseline_v2()
    with_p_slices(*P_SLICES, slice_proto((1, 0), (0, 2)))(b)  # rows [1, 1) of [0, 2)
    b.entries[slice_key("p", [(1, 0), (0, 2)])] = entry_proto(1, [0, 2], crc=masked_crc32c(b""))
    b.write(tmp_path / "ckpt")
    with ckptio.open(tmp_path / "ckpt") as ckpt:
        assert np.array_equal(ckpt["p"], P)

    baseline_v1().write(tmp_path / "plain.ckpt")
    f = baseline_v1()
    v1_meta("q", [4], 1, [*(slice_proto(*e) for e in Q_EXTENTS), slice_proto((1, 0))])(f)
    f.records[slice_key("q", [(1, 0)])] = saved_slice_record("q", [(1, 0)], b"")
    f.write(tmp_path / "model.ckpt")
    with (
        ckptio.open(tmp_path / "plain.ckpt") as plain,
        ckptio.open(tmp_path / "model.ckpt") as ckpt,
    ):
        assert np.array_equal(ckpt["q"], plain["q"])
