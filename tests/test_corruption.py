"""Damaged checkpoints: every outcome is the right CheckpointError subclass naming the file (and
key), or correct data; never a crash, a hang, or silently wrong values when verifying."""

from __future__ import annotations

import shutil
from pathlib import Path

import ckptio
import numpy as np
import pytest
from ckptio import CheckpointError, CorruptionError, NotFoundError
from tablegen import block_spans, build_table, read_table


def copy_bundle(prefix: str, dst: Path) -> Path:
    """Copy a bundle's files into dst; return the new prefix. Inputs are never modified."""
    src = Path(prefix)
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.parent.glob(src.name + ".*"):
        shutil.copy(f, dst / f.name)
    return dst / src.name


def read_everything(path: Path, verify: bool = False) -> dict[str, np.ndarray]:
    with ckptio.open(path, verify=verify) as ckpt:
        return {name: np.array(ckpt.get_tensor(name, verify=verify)) for name in ckpt}


def equal(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype == object:
        return list(a.flat) == list(b.flat)
    return a.tobytes() == b.tobytes()


def same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)


@pytest.fixture
def bundle(tf_checkpoints, tmp_path) -> Path:
    return copy_bundle(tf_checkpoints("strings"), tmp_path / "ckpt")


@pytest.fixture
def numeric_bundle(tf_checkpoints, tmp_path) -> Path:
    return copy_bundle(tf_checkpoints("all_dtypes"), tmp_path / "ckpt")


def index_of(prefix: Path) -> Path:
    return prefix.with_name(prefix.name + ".index")


def data_of(prefix: Path) -> Path:
    return prefix.with_name(prefix.name + ".data-00000-of-00001")


# ------------------------------------------------------------------------------ the index
@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "too short"),
        (b"\0" * 47, "too short"),
        (b"\0" * 48, "bad magic"),
        (b"not a checkpoint at all" * 10, "bad magic"),
    ],
)
def test_index_that_is_not_a_table(bundle, content, message):
    index_of(bundle).write_bytes(content)
    with pytest.raises(CorruptionError, match=message) as err:
        ckptio.open(bundle)
    assert err.value.file == str(index_of(bundle))
    assert str(index_of(bundle)) in str(err.value)


def test_every_truncation_of_the_index(bundle):
    full = index_of(bundle).read_bytes()
    for n in range(len(full)):
        index_of(bundle).write_bytes(full[:n])
        with pytest.raises(CorruptionError):
            ckptio.open(bundle)


def test_every_flipped_byte_of_the_index(bundle):
    original = read_everything(bundle)
    full = index_of(bundle).read_bytes()
    outcomes = {"error": 0, "same": 0}
    for i in range(len(full)):
        damaged = bytearray(full)
        damaged[i] ^= 0x5A
        index_of(bundle).write_bytes(bytes(damaged))
        try:
            values = read_everything(bundle, verify=True)
        except CheckpointError:
            outcomes["error"] += 1
        else:
            # Only bytes no reader looks at (footer padding, the unused metaindex) may change
            # without an error; the data read must then be exactly the original.
            assert same(values, original), f"flipping index byte {i} changed values silently"
            outcomes["same"] += 1
    assert outcomes["error"] > len(full) * 0.9


def test_block_checksum_mismatch_is_reported(bundle):
    full = bytearray(index_of(bundle).read_bytes())
    offset, size = block_spans(bytes(full))[0]
    full[offset + size // 2] ^= 1
    index_of(bundle).write_bytes(bytes(full))
    with pytest.raises(CorruptionError, match="block checksum mismatch"):
        ckptio.open(bundle)


def test_unknown_block_type(bundle):
    full = index_of(bundle).read_bytes()
    # Rebuild with a "compressor" that leaves bytes alone but is labelled type 1 (snappy): the
    # CRC is right, so the decompressor must reject the contents itself.
    entries = read_table(full)
    index_of(bundle).write_bytes(build_table(entries, compress=lambda b: b"\xff" + b))
    with pytest.raises(CorruptionError, match="snappy"):
        ckptio.open(bundle)


def test_missing_index(bundle):
    index_of(bundle).unlink()
    with pytest.raises(NotFoundError):
        ckptio.open(bundle)


# ------------------------------------------------------------------------------ data shards
def test_flipped_data_bytes_are_caught_by_verify(numeric_bundle):
    original = read_everything(numeric_bundle)
    data = data_of(numeric_bundle)
    full = data.read_bytes()
    step = max(1, len(full) // 400)
    for i in range(0, len(full), step):
        damaged = bytearray(full)
        damaged[i] ^= 0x01
        data.write_bytes(bytes(damaged))
        with pytest.raises(CorruptionError, match="checksum does not match") as err:
            ckptio.open(numeric_bundle, verify=True)
        assert err.value.key is not None
        assert err.value.file == str(data)
        # Without verification the damage stays confined to that one tensor (which reads with
        # changed values, or fails if the damage hit a string's lengths).
        changed = []
        with ckptio.open(numeric_bundle) as ckpt:
            for name in ckpt:
                try:
                    if not equal(np.array(ckpt[name]), original[name]):
                        changed.append(name)
                except CorruptionError as e:
                    assert e.key == name
                    changed.append(name)
        assert changed == [err.value.key]
        with pytest.raises(CorruptionError):
            ckptio.open(numeric_bundle).get_tensor(err.value.key, verify=True)
    data.write_bytes(full)
    assert same(read_everything(numeric_bundle, verify=True), original)


def test_flipped_string_bytes(bundle):
    data = data_of(bundle)
    full = data.read_bytes()
    # Every byte of the first KiB (lengths and checksums live there), then a dense sample.
    for i in sorted({*range(min(1024, len(full))), *range(0, len(full), 97)}):
        damaged = bytearray(full)
        damaged[i] ^= 0x20
        data.write_bytes(bytes(damaged))
        with pytest.raises(CorruptionError):
            read_everything(bundle, verify=True)


def test_truncated_data_shard(numeric_bundle):
    data = data_of(numeric_bundle)
    full = data.read_bytes()
    with ckptio.open(numeric_bundle) as ckpt:
        last = max(ckpt, key=lambda k: (ckpt.info(k).offset or 0) + ckpt.info(k).nbytes)
    for n in [0, 1, len(full) // 2, len(full) - 1]:
        data.write_bytes(full[:n])
        with ckptio.open(numeric_bundle) as ckpt:  # listing needs no data
            assert last in ckpt.keys()
            with pytest.raises(CorruptionError, match="past the end of the data file") as err:
                ckpt[last]
            assert err.value.key == last
            with pytest.raises(CorruptionError):
                ckpt.verify()


def test_missing_data_shard(numeric_bundle):
    data_of(numeric_bundle).unlink()
    with ckptio.open(numeric_bundle) as ckpt:
        names = list(ckpt)  # listing works from the index alone
        assert names
        with pytest.raises(NotFoundError, match="missing or unreadable data shard") as err:
            ckpt[names[0]]
        assert err.value.file == str(data_of(numeric_bundle))
        assert err.value.key == names[0]


def test_inputs_are_never_modified(numeric_bundle):
    before = {p: p.read_bytes() for p in numeric_bundle.parent.iterdir()}
    read_everything(numeric_bundle, verify=True)
    assert {p: p.read_bytes() for p in numeric_bundle.parent.iterdir()} == before
