"""Real checkpoints written by other people with TF 0.x-2.x (../shared/fixtures/real), checked
against what TensorFlow 2.21 reported for them (expected.json): same keys, dtypes, shapes, and
the sha256 of every tensor's bytes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import ckptio
import numpy as np
import pytest

REAL = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "real"
FIXTURES = (
    sorted(p.name for p in REAL.iterdir() if (p / "expected.json").is_file())
    if REAL.is_dir()
    else []
)

pytestmark = pytest.mark.skipif(
    not FIXTURES, reason=f"no real fixtures at {REAL} (they live in shared/ beside the clone)"
)


def fingerprint(value: np.ndarray) -> str:
    """sha256 as defined in fixtures/real/README.md."""
    if value.dtype == object:
        h = hashlib.sha256()
        for element in value.ravel():
            h.update(len(element).to_bytes(8, "little") + element)
        return h.hexdigest()
    return hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()


def load(name: str) -> tuple[dict, str]:
    expected = json.loads((REAL / name / "expected.json").read_text())
    return expected, str(REAL / name / expected["prefix"])


@pytest.mark.parametrize("name", FIXTURES)
def test_matches_tensorflow(name):
    expected, prefix = load(name)
    assert expected["status"] == "ok"
    with ckptio.open(prefix) as ckpt:
        assert ckpt.format == expected["raw"]["format"]
        assert sorted(ckpt) == sorted(expected["tensors"])
        for key, want in expected["tensors"].items():
            info = ckpt.info(key)
            assert info.dtype_name == want["dtype"], key
            assert list(info.shape) == want["shape"], key
            value = ckpt[key]
            assert value.shape == tuple(want["shape"]), key
            assert fingerprint(value) == want["sha256"], key
        ckpt.verify()


@pytest.mark.parametrize("name", FIXTURES)
def test_compat_matches_tensorflow(name):
    expected, prefix = load(name)
    reader = ckptio.compat.load_checkpoint(prefix)
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
    for key, want in expected["tensors"].items():
        assert shapes[key] == want["shape"]
        assert dtypes[key].name == want["dtype"]
        value = reader.get_tensor(key)
        if isinstance(value, bytes):  # TF gives a scalar string as bytes
            value = np.array([value], dtype=object).reshape(())
        value = np.asarray(value)
        assert fingerprint(value) == want["sha256"], key


@pytest.mark.parametrize("name", [n for n in FIXTURES if (REAL / n / "checkpoint").exists()])
def test_directory_open(name):
    expected, prefix = load(name)
    state = ckptio.paths.read_checkpoint_state(str(REAL / name))
    named = state[0] if state else None
    # (A state file written on another machine names the checkpoint by an absolute path that
    # is gone: its file name in this directory is the same checkpoint.)
    candidates = [Path(named), REAL / name / Path(named).name] if named else []
    if named and not any(Path(f"{c}.index").exists() or c.exists() for c in candidates):
        # Repositories often keep one checkpoint while the state file names a later one that
        # was not committed: an error naming it and listing what is there, never the older
        # step silently (tf.train.latest_checkpoint returns None here).
        with pytest.raises(ckptio.NotFoundError) as err:
            ckptio.open(REAL / name)
        assert Path(named).name in str(err.value)
        assert f"present: {Path(prefix).name}" in str(err.value)
        return
    with ckptio.open(REAL / name) as ckpt:
        assert sorted(ckpt) == sorted(expected["tensors"])


def test_sharded_v1_glob_as_tf_writes_it():
    """TF puts the literal pattern `<prefix>-?????-of-NNNNN` into state files for sharded V1."""
    name = "v1_serving_sessionbundle_sharded"
    if name not in FIXTURES:
        pytest.skip(f"{name} not among the fixtures")
    expected, _ = load(name)
    with ckptio.open(REAL / name / "export-?????-of-00001") as ckpt:
        assert ckpt.format == "V1"
        assert sorted(ckpt) == sorted(expected["tensors"])
