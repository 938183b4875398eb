"""Shared fixtures: checkpoints written by real TensorFlow, and TF's own view of them.

TensorFlow is test-only. Every fixture that needs it skips (with the reason) when it is not
importable, so the rest of the suite still runs without it.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tfgen

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The checkpoints every comparison test runs on: V2 bundles whose every tensor TF can read
# into numpy. Tested on their own: "variant" (a DT_VARIANT, which TF lists but cannot convert)
# and the legacy V1 files ("v1_*").
COMPARED_CHECKPOINTS = [
    name for name in tfgen.GENERATORS if name != "variant" and not name.startswith("v1_")
]


def import_tensorflow():
    """Import TensorFlow for a test, or skip the test saying why."""
    with warnings.catch_warnings():
        # TF's import chain warns about its own internals from modules outside "tensorflow.*".
        warnings.simplefilter("ignore")
        return pytest.importorskip(
            "tensorflow",
            reason="tensorflow is not installed: it is needed (test-only) to write and read "
            "the reference checkpoints",
        )


@pytest.fixture(scope="session")
def tf():
    """The ``tensorflow`` module (skips the test when it is not installed)."""
    return import_tensorflow()


class TFCheckpoints:
    """Generates each TF checkpoint once per session, on first use."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory):
        self._factory = tmp_path_factory
        self._prefixes: dict[str, str] = {}

    def __call__(self, name: str) -> str:
        """The prefix of checkpoint ``name`` (a key of ``tfgen.GENERATORS``)."""
        if name not in self._prefixes:
            import_tensorflow()
            directory = self._factory.mktemp(f"tf_{name}", numbered=True)
            self._prefixes[name] = tfgen.GENERATORS[name](directory)
        return self._prefixes[name]


@pytest.fixture(scope="session")
def tf_checkpoints(tmp_path_factory) -> TFCheckpoints:
    """``tf_checkpoints(name) -> prefix``: generate (once) and return a TF checkpoint."""
    return TFCheckpoints(tmp_path_factory)


@pytest.fixture(scope="session", params=COMPARED_CHECKPOINTS)
def tf_checkpoint(request, tf_checkpoints) -> tuple[str, str]:
    """``(name, prefix)`` of each TF-written checkpoint whose tensors TF can read."""
    return request.param, tf_checkpoints(request.param)


# --------------------------------------------------------------------------- TF's view


def to_ndarray(value) -> np.ndarray:
    """Normalise what TF's ``get_tensor`` returns (numpy scalar for rank 0, ``bytes`` for a
    scalar string, object array of bytes for other strings) to an ndarray."""
    if isinstance(value, bytes):
        out = np.empty((), dtype=object)
        out[()] = value
        return out
    return np.asarray(value)


_DEBUG_LINE = re.compile(rb"(.*?) \(DT_[A-Z0-9_]+\) \[[0-9,]*\]\n", re.DOTALL)


class TFReference(dict):
    """``{name: (dtype_name, shape, value)}`` as TF's ``load_checkpoint`` reports it.

    ``value`` is an ndarray (see ``to_ndarray``), or None when TF cannot convert the tensor
    to numpy (DT_VARIANT). Extra attributes: ``debug_string`` (bytes), ``sliced`` (names
    stored as partitioned/sliced tensors: TF lists their slice keys instead of them),
    ``slice_keys`` (the raw slice keys, bytes).
    """

    debug_string: bytes
    sliced: frozenset
    slice_keys: tuple


_REFERENCES: dict[str, TFReference] = {}


def tf_reference(prefix: str) -> TFReference:
    """TF's view of the checkpoint at ``prefix`` (cached): ``name -> (dtype, shape, value)``."""
    if prefix in _REFERENCES:
        return _REFERENCES[prefix]
    tf = import_tensorflow()
    reader = tf.train.load_checkpoint(prefix)
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
    ref = TFReference()
    for name in shapes:
        try:
            value = to_ndarray(reader.get_tensor(name))
        except tf.errors.InternalError:  # "Tensorflow type 21 not convertible to numpy dtype"
            value = None
        ref[name] = (dtypes[name].name, tuple(shapes[name]), value)
    ref.debug_string = reader.debug_string()
    # One "<key> (<DT_NAME>) [dims]\n" per entry; slice keys may themselves contain b"\n".
    lines = list(_DEBUG_LINE.finditer(ref.debug_string))
    assert b"".join(m.group(0) for m in lines) == ref.debug_string, "unparsed debug_string"
    listed = [m.group(1) for m in lines]
    ref.slice_keys = tuple(key for key in listed if key.startswith(b"\x00"))
    plain = {key.decode("utf-8") for key in listed if not key.startswith(b"\x00")}
    ref.sliced = frozenset(name for name in ref if name not in plain)
    _REFERENCES[prefix] = ref
    return ref


@pytest.fixture(scope="session")
def tf_ref():
    """The ``tf_reference`` helper as a fixture."""
    return tf_reference


# --------------------------------------------------------------------------- comparison


def _first_difference(actual: np.ndarray, expected: np.ndarray) -> str:
    a = np.ascontiguousarray(actual).reshape(-1)
    e = np.ascontiguousarray(expected).reshape(-1)
    size = expected.dtype.itemsize
    a_bytes, e_bytes = a.tobytes(), e.tobytes()
    for i in range(e.size):
        got, want = a_bytes[i * size : (i + 1) * size], e_bytes[i * size : (i + 1) * size]
        if got != want:
            index = np.unravel_index(i, expected.shape) if expected.ndim else ()
            return (
                f"first difference at {tuple(int(j) for j in index)}: "
                f"got {a[i]!r} (0x{got.hex()}), want {e[i]!r} (0x{want.hex()})"
            )
    return "no element differs (?)"


def assert_bitwise_equal(actual, expected, what: str = "", *, scalars: bool = False) -> None:
    """Assert ``actual`` (an ndarray) equals ``expected`` bit for bit.

    Numeric: same shape, same dtype, same bytes (so NaN payloads, -0.0 and padding bits
    count). Strings (object arrays of bytes): same shape, every element ``bytes`` and equal.
    With ``scalars=True``, ``actual`` may also be a numpy scalar or ``bytes``, and must then be
    of the same Python type as ``expected`` (as numpy indexing or TF's ``get_tensor`` give).
    """
    prefix = f"{what}: " if what else ""
    if scalars:
        assert type(actual) is type(expected), (
            f"{prefix}type {type(actual).__name__} != {type(expected).__name__}"
        )
        actual = to_ndarray(actual)
    assert isinstance(actual, np.ndarray), f"{prefix}got {type(actual).__name__}, not ndarray"
    expected = to_ndarray(expected)
    assert actual.shape == expected.shape, f"{prefix}shape {actual.shape} != {expected.shape}"
    if expected.dtype == object:
        assert actual.dtype == object, f"{prefix}dtype {actual.dtype} for a string tensor"
        got = actual.reshape(-1).tolist()
        want = expected.reshape(-1).tolist()
        kinds = {type(x).__name__ for x in got}
        assert kinds <= {"bytes"}, f"{prefix}string elements of type {sorted(kinds)}"
        if got != want:
            i = next(i for i, (g, w) in enumerate(zip(got, want)) if g != w)
            raise AssertionError(
                f"{prefix}string element {i} differs: got {got[i][:60]!r} (len {len(got[i])}),"
                f" want {want[i][:60]!r} (len {len(want[i])})"
            )
        return
    assert actual.dtype == expected.dtype, f"{prefix}dtype {actual.dtype} != {expected.dtype}"
    if np.ascontiguousarray(actual).tobytes() != np.ascontiguousarray(expected).tobytes():
        raise AssertionError(f"{prefix}values differ; {_first_difference(actual, expected)}")


@pytest.fixture(scope="session")
def bitwise_equal():
    """The ``assert_bitwise_equal`` helper as a fixture."""
    return assert_bitwise_equal


class Failures:
    """Collects per-key failures so one test reports every bad key of a checkpoint."""

    def __init__(self, checkpoint: str):
        self.checkpoint = checkpoint
        self.messages: list[str] = []

    def check(self, key, func, *args) -> None:
        try:
            func(*args)
        except (Exception, pytest.fail.Exception) as exc:  # note it, go on with the next key
            self.messages.append(f"{self.checkpoint} [{key!r}]: {type(exc).__name__}: {exc}")

    def __enter__(self) -> Failures:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.raise_if_any()

    def raise_if_any(self, limit: int = 25) -> None:
        if self.messages:
            shown = "\n".join(self.messages[:limit])
            more = len(self.messages) - limit
            tail = f"\n... and {more} more" if more > 0 else ""
            pytest.fail(f"{len(self.messages)} failure(s):\n{shown}{tail}", pytrace=False)


@pytest.fixture
def failures():
    """``with failures("name") as f: f.check(key, func, *args)``: report every failing key."""
    return Failures


class HFReference:
    """transformers' TF-checkpoint loaders run with real TensorFlow on tiny checkpoints that
    TensorFlow wrote under each original release's variable names (`hfmodels`)."""

    def __init__(self, directory: Path, results: dict):
        self.directory = directory
        self.results = results

    def prefix(self, name: str) -> str:
        return str(self.directory / name / "model.ckpt-1000")


def run_hf_loaders(mode: str, directory: Path, out: Path) -> dict:
    """Run tests/hf_loader_run.py in a subprocess; returns what it saved."""
    import subprocess

    import torch

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), TF_CPP_MIN_LOG_LEVEL="2")
    script = Path(__file__).resolve().parent / "hf_loader_run.py"
    proc = subprocess.run(
        [sys.executable, str(script), mode, str(directory), str(out)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return torch.load(out, weights_only=False)


@pytest.fixture(scope="session")
def hf_reference(tmp_path_factory) -> HFReference:
    """Skips without TensorFlow, torch or transformers 4.x (which has the TF loaders)."""
    import_tensorflow()
    pytest.importorskip("torch", reason="torch is not installed (pip install torch)")
    transformers = pytest.importorskip(
        "transformers", reason="transformers is not installed (pip install 'transformers<5')"
    )
    if int(transformers.__version__.split(".")[0]) >= 5:
        pytest.skip("transformers 5 has no TF checkpoint loaders: needs transformers<5")
    directory = tmp_path_factory.mktemp("hf_models")
    return HFReference(directory, run_hf_loaders("real", directory, directory / "real.pt"))


def mapped_file_at(address: int) -> str:
    """The file mapped at `address` in this process ("" for anonymous memory): a zero-copy
    view lies in a mapping of its data file."""
    with open("/proc/self/maps") as f:
        for line in f:
            fields = line.split(maxsplit=5)
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if start <= address < end:
                return fields[5].strip() if len(fields) > 5 else ""
    return ""


# --------------------------------------------------------------------------- S3 on loopback


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 on 127.0.0.1 behind a recording layer (tests/s3server.py), started once per
    session. It sets the AWS_* environment (credentials, endpoint), so every S3 client made
    without options -- a subprocess, a Dask worker -- reaches it and nothing else. Skips
    without s3fs or moto[server]."""
    pytest.importorskip("s3fs", reason="s3fs is needed to test s3:// reads (pip install '.[test]')")
    pytest.importorskip("moto.server", reason="moto[server] provides the S3 server of these tests")
    import s3server

    return s3server.shared_server()


@pytest.fixture
def s3(s3_server) -> Iterator:
    """The S3 server with its request log and injected faults cleared before and after."""
    s3_server.recorder.clear()
    yield s3_server
    s3_server.recorder.clear()
