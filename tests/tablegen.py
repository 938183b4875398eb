"""A small, independent Python implementation of TF's table format, for tests only.

It lets tests rebuild a TF-written `.index` in shapes TF itself never writes (snappy blocks,
tiny blocks, many restarts) and craft damaged files precisely. It is written from the format
description, not from ckptio's C++ code, so the two check each other.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48


def _varint(v: int) -> bytes:
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    c = _crc32c(data)
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def _block(entries: list[tuple[bytes, bytes]], restart_interval: int) -> bytes:
    out = bytearray()
    restarts = []
    prev = b""
    for i, (key, value) in enumerate(entries):
        if i % restart_interval == 0:
            restarts.append(len(out))
            shared = 0
        else:
            shared = 0
            while shared < min(len(prev), len(key)) and prev[shared] == key[shared]:
                shared += 1
        out += _varint(shared) + _varint(len(key) - shared) + _varint(len(value))
        out += key[shared:] + value
        prev = key
    if not restarts:
        restarts = [0]
    for r in restarts:
        out += struct.pack("<I", r)
    out += struct.pack("<I", len(restarts))
    return bytes(out)


def build_table(
    entries: list[tuple[bytes, bytes]],
    *,
    entries_per_block: int = 1 << 30,
    restart_interval: int = 16,
    compress: Callable[[bytes], bytes] | None = None,
) -> bytes:
    """Serialize sorted (key, value) pairs as a table; `compress` makes snappy (type 1) blocks."""
    out = bytearray()

    def write_block(contents: bytes) -> tuple[int, int]:
        block_type = 0
        if compress is not None:
            contents, block_type = compress(contents), 1
        offset = len(out)
        trailer = bytes([block_type])
        out.extend(contents + trailer + struct.pack("<I", masked_crc32c(contents + trailer)))
        return offset, len(contents)

    index_entries = []
    chunks = [entries[i : i + entries_per_block] for i in range(0, len(entries), entries_per_block)]
    for chunk in chunks:
        offset, size = write_block(_block(chunk, restart_interval))
        # The last key itself is a valid separator (>= every key of the block, < the next).
        index_entries.append((chunk[-1][0], _varint(offset) + _varint(size)))
    meta = write_block(_block([], restart_interval))
    index = write_block(_block(index_entries, 1))
    footer = _varint(meta[0]) + _varint(meta[1]) + _varint(index[0]) + _varint(index[1])
    footer = footer.ljust(40, b"\0") + struct.pack("<Q", MAGIC)
    return bytes(out + footer)


def read_table(data: bytes) -> list[tuple[bytes, bytes]]:
    """All (key, value) pairs of an uncompressed table, without checks."""

    footer = data[-FOOTER_SIZE:]
    pos = 0
    _, pos = _read_varint(footer, pos)
    _, pos = _read_varint(footer, pos)
    index_offset, pos = _read_varint(footer, pos)
    index_size, pos = _read_varint(footer, pos)
    out = []
    for _, handle in read_table_block(data, index_offset, index_size):
        offset, p = _read_varint(handle, 0)
        size, _ = _read_varint(handle, p)
        out.extend(read_table_block(data, offset, size))
    return out


def block_spans(data: bytes) -> list[tuple[int, int]]:
    """(offset, size) of every data block of a table, then the metaindex and index blocks."""
    footer = data[-FOOTER_SIZE:]
    meta_offset, pos = _read_varint(footer, 0)
    meta_size, pos = _read_varint(footer, pos)
    index_offset, pos = _read_varint(footer, pos)
    index_size, pos = _read_varint(footer, pos)
    spans = []
    for _, handle in read_table_block(data, index_offset, index_size):
        offset, p = _read_varint(handle, 0)
        size, _ = _read_varint(handle, p)
        spans.append((offset, size))
    return [*spans, (meta_offset, meta_size), (index_offset, index_size)]


def read_table_block(data: bytes, offset: int, size: int) -> list[tuple[bytes, bytes]]:
    block = data[offset : offset + size]
    (n_restarts,) = struct.unpack("<I", block[-4:])
    limit = len(block) - 4 * (n_restarts + 1)
    pos, key, result = 0, b"", []
    while pos < limit:
        shared, pos = _read_varint(block, pos)
        unshared, pos = _read_varint(block, pos)
        vlen, pos = _read_varint(block, pos)
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        result.append((key, block[pos : pos + vlen]))
        pos += vlen
    return result
