"""The C++ core's building blocks against published vectors and independent implementations:
crc32c (hardware vs table), snappy (vs the cramjam library), OrderedCode slice keys (vs the byte
strings TF 2.21 wrote, from the format notes)."""

from __future__ import annotations

import random

import pytest
from ckptio import CorruptionError, _core
from tablegen import masked_crc32c


# ----------------------------------------------------------------------------- crc32c
def test_crc32c_check_value():
    assert _core.crc32c(b"123456789") == 0xE3069283
    assert _core.crc32c(b"123456789", portable=True) == 0xE3069283
    assert _core.crc32c(b"") == 0


@pytest.mark.parametrize("length", [*range(0, 40), 63, 64, 65, 1000, 4097, 1 << 16])
def test_crc32c_hardware_and_table_agree(length):
    rng = random.Random(length)
    data = bytes(rng.getrandbits(8) for _ in range(length + 7))
    for start in range(8):  # every alignment
        chunk = data[start : start + length]
        assert _core.crc32c(chunk) == _core.crc32c(chunk, portable=True)


# Around the fused pass's steps: 8 bytes, three lanes of 256 and of 8192 bytes.
@pytest.mark.parametrize(
    "length", [*range(0, 20), 767, 768, 769, 3 * 8192 - 1, 3 * 8192, 3 * 8192 + 773, 100_003]
)
def test_crc32c_copy_copies_and_checksums_at_every_alignment(length):
    """The fused copy + CRC (warm copies of large tensors) gives the bytes and the CRC that a
    plain copy and the table-driven CRC give, whatever the alignment of either side."""
    rng = random.Random(length)
    data = bytes(rng.getrandbits(8) for _ in range(length + 7))
    for src in range(8):
        for dst in (0, 1, 3, 5):
            crc, copy = _core.crc32c_copy(data, src, dst)
            assert copy == data[src:]
            assert crc == _core.crc32c(data[src:], portable=True)


def test_crc32c_extend_is_concatenation():
    a, b = b"hello, ", b"checkpoint world"
    assert _core.crc32c(b, crc=_core.crc32c(a)) == _core.crc32c(a + b)


def test_crc32c_matches_independent_bitwise_implementation():
    data = bytes(range(256)) * 3
    # tablegen computes the masked CRC bit by bit; unmask ours the same way to compare.
    c = _core.crc32c(data)
    masked = ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF
    assert masked == masked_crc32c(data)


# ----------------------------------------------------------------------------- snappy
cramjam = pytest.importorskip("cramjam", reason="cramjam (test extra) compresses snappy vectors")


def _snappy(data: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(data))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"a",
        b"abcabcabcabcabcabcabcabcabcabc" * 100,
        bytes(range(256)) * 300,
        b"\0" * 100_000,
        random.Random(7).randbytes(70_000),
        b"x" * 61 + b"y" * 70 + random.Random(8).randbytes(300) * 5,
    ],
    ids=["empty", "one", "repeats", "ramp", "zeros", "random", "mixed"],
)
def test_snappy_round_trip(data):
    assert _core.snappy_uncompress(_snappy(data)) == data


@pytest.mark.parametrize(
    "bad",
    [
        b"",  # no length
        b"\x80",  # unterminated varint
        b"\x05\x10abc",  # literal runs past the input
        b"\x04\x01\x00",  # copy before any output
        b"\x0a\x08abc\x05\x03",  # copy offset beyond output... then too short
        b"\xff\xff\xff\xff\x0f\x00a",  # claims 4 GiB from 3 bytes
        b"\x03\x08abcd",  # more output than claimed
    ],
)
def test_snappy_rejects_malformed(bad):
    with pytest.raises(CorruptionError, match="snappy"):
        _core.snappy_uncompress(bad)


def test_snappy_rejects_every_truncation():
    packed = _snappy(b"tensorflow checkpoint index " * 50)
    for n in range(len(packed)):
        with pytest.raises(CorruptionError):
            _core.snappy_uncompress(packed[:n])


# ----------------------------------------------------------------------- OrderedCode keys
def key_for(name: str, extents: list[tuple[int, int]]) -> bytes:
    return _core.encode_slice_key(name, extents)


def test_slice_key_of_partitioned_variable():
    # TF 2.21, variable vgg_16/part [4,2] split in two along axis 0 (format notes, 6.2 and 12.D).
    assert (
        key_for("vgg_16/part", [(0, 2), (0, 2)])
        == b"\x00vgg_16/part\x00\x01\x01\x02\x80\x82\x80\x82"
    )
    assert (
        key_for("vgg_16/part", [(2, 2), (0, 2)])
        == b"\x00vgg_16/part\x00\x01\x01\x02\x82\x82\x80\x82"
    )
    # V1 full slices and scalars (7.2)
    assert key_for("vgg_16/fc8/weights", [(0, -1), (0, -1)]).endswith(
        b"\x00\x01\x01\x02\x80\x7f\x80\x7f"
    )
    assert key_for("vgg_16/sc", []) == b"\x00vgg_16/sc\x00\x01\x00"


@pytest.mark.parametrize(
    "value, encoded",
    [
        (0, "80"),
        (2, "82"),
        (63, "bf"),
        (-1, "7f"),
        (-64, "40"),
        (64, "c040"),
        (100, "c064"),
        (8191, "dfff"),
        (8192, "e02000"),
        (70000, "e11170"),
        (1 << 40, "fd0000000000"),
        (0x424242, "f0424242"),
        (-0x800, "3800"),
    ],
)
def test_signed_number_encoding(value, encoded):
    # A rank-1 key with this start value; the length -1 encodes as 7f.
    prefix = b"\x00n\x00\x01\x01\x01"
    assert key_for("n", [(value, -1)]) == prefix + bytes.fromhex(encoded) + b"\x7f"


def test_escaped_names_and_round_trip():
    rng = random.Random(3)
    values = [0, 1, -1, 63, 64, -64, -65, 2**31, -(2**31), 2**62, 2**63 - 1, -(2**63)]
    values += [rng.randrange(-(2**63), 2**63) for _ in range(300)]
    for i in range(0, len(values) - 1, 2):
        extents = [(values[i], values[i + 1]), (i, -1)]
        name = "a\x00b\xffc/" + str(i)
        key = key_for(name, extents)
        assert _core.decode_slice_key(key) == (name, [tuple(e) for e in extents])
    assert b"a\x00\xffb" in key_for("a\x00b", [])


def test_decode_rejects_garbage():
    for bad in [b"", b"\x01", b"\x00abc", b"\x00a\x00\x02", b"\x00a\x00\x01\x01"]:
        assert _core.decode_slice_key(bad) is None


@pytest.mark.parametrize("length", [0, 1, 767, 768, 24575, 24576, 24577, 100_003, 1 << 20])
def test_crc32c_combine_and_interleaved_lanes(length):
    data = random.Random(length).randbytes(length + 11)
    for start in (0, 3):  # lanes start after an unaligned head
        chunk = data[start : start + length]
        assert _core.crc32c(chunk) == _core.crc32c(chunk, portable=True)
    for cut in (0, length // 3, length):
        a, b = data[:cut], data[cut:]
        assert _core.crc32c_combine(_core.crc32c(a), _core.crc32c(b), len(b)) == _core.crc32c(data)
