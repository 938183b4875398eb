"""ckptio.tfshim, the `tensorflow` stand-in: compared with real TensorFlow, and transformers'
own TF-checkpoint loaders run unmodified under it against the same loaders with real TF."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import ckptio
import numpy as np
import pytest
from ckptio import tfshim

HERE = Path(__file__).resolve().parent
LOADED = ["bert", "gpt2", "t5", "albert", "electra", "gpt_neo"]


def _hidden_tf_python(code: str, *args: str, cwd=None) -> subprocess.CompletedProcess:
    """Run `code` in a Python where TensorFlow is hidden (as if not installed)."""
    prelude = (
        f"import sys; sys.path.insert(0, {str(HERE)!r}); import hf_loader_run; "
        "hf_loader_run.hide_tensorflow()\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.run(
        [sys.executable, "-c", prelude + code, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
    )


# --------------------------------------------------------------------------- install/uninstall


def test_refuses_a_real_tensorflow_unless_forced(tf):
    with pytest.raises(tfshim.StandInError, match="real TensorFlow"):
        tfshim.install()
    assert sys.modules["tensorflow"] is tf


def test_uninstall_restores_sys_modules_and_errors(tf):
    before = {n: m for n, m in sys.modules.items() if n.split(".")[0] == "tensorflow"}
    bases = {cls: cls.__bases__ for cls, _ in tfshim._JOINS}
    with tfshim.installed(force=True) as shim:
        import tensorflow

        assert tensorflow is shim and tfshim.is_installed()
        assert "tensorflow.keras" not in sys.modules
    after = {n: m for n, m in sys.modules.items() if n.split(".")[0] == "tensorflow"}
    assert after.keys() == before.keys() and all(after[n] is before[n] for n in before)
    assert {cls: cls.__bases__ for cls, _ in tfshim._JOINS} == bases
    assert not issubclass(ckptio.NotFoundError, tfshim.ERRORS["OpError"])
    assert not tfshim.is_installed()


def test_errors_are_tf_errors_while_installed(tmp_path):
    with tfshim.installed(force=True) as tf:
        with pytest.raises(tf.errors.NotFoundError) as caught:
            tf.train.load_variable(str(tmp_path / "nothing"), "x")
        assert isinstance(caught.value, ckptio.NotFoundError)
        assert isinstance(caught.value, tf.errors.OpError) and caught.value.op is None
        assert caught.value.error_code == tf.errors.NOT_FOUND
        corrupt = tmp_path / "bad.index"
        corrupt.write_bytes(b"\0" * 64)
        (tmp_path / "bad.data-00000-of-00001").write_bytes(b"")
        with pytest.raises(tf.errors.DataLossError):
            tf.train.list_variables(str(tmp_path / "bad"))
        try:
            tf.train.list_variables(str(tmp_path / "nothing"))
        except tf.errors.OpError as e:  # `except` itself must match, not just isinstance
            assert "nothing" in str(e)
    assert not isinstance(caught.value, tfshim.ERRORS["OpError"])


def test_missing_attributes_say_what_is_provided():
    with tfshim.installed(force=True) as tf:
        with pytest.raises(AttributeError, match=r"tensorflow\.keras .*provides: .*train.*install"):
            tf.keras  # noqa: B018
        with pytest.raises(AttributeError, match=r"tensorflow\.train\.Saver"):
            tf.train.Saver  # noqa: B018
        with pytest.raises(ModuleNotFoundError):
            import tensorflow.keras  # noqa: F401


def test_spec_and_no_metadata_without_tensorflow():
    pytest.importorskip("transformers", reason="transformers is not installed")
    code = textwrap.dedent(
        """
        import importlib.metadata, importlib.util, sys
        import ckptio.tfshim
        tf = ckptio.tfshim.install()
        assert importlib.util.find_spec("tensorflow") is tf.__spec__
        assert tf.__spec__.name == "tensorflow"
        try:
            importlib.metadata.version("tensorflow")
            raise SystemExit("metadata found")
        except importlib.metadata.PackageNotFoundError:
            pass
        import transformers.utils
        assert not transformers.utils.is_tf_available()
        from tensorflow.compat.v1 import train
        assert train.NewCheckpointReader is tf.compat.v1.train.NewCheckpointReader
        print("ok")
        """
    )
    proc = _hidden_tf_python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("ok")


# --------------------------------------------------------------------------- against real TF


def _tf_functions(tf):
    return {
        "list_variables": tf.train.list_variables,
        "load_variable": tf.train.load_variable,
        "load_checkpoint": tf.train.load_checkpoint,
        "NewCheckpointReader": tf.compat.v1.train.NewCheckpointReader,
        "latest_checkpoint": tf.train.latest_checkpoint,
    }


def _same_value(ours, theirs):
    assert type(ours) is type(theirs), (ours, theirs)
    if isinstance(theirs, np.ndarray):
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        assert ours.flags.writeable == theirs.flags.writeable
        if theirs.dtype == object:
            assert ours.tolist() == theirs.tolist()
        else:
            assert ours.tobytes() == theirs.tobytes()
    elif isinstance(theirs, np.generic):
        assert ours.dtype == theirs.dtype and ours.tobytes() == theirs.tobytes()
    else:
        assert ours == theirs


@pytest.mark.parametrize("name", ["all_dtypes", "strings", "partitioned", "sharded"])
def test_train_functions_match_tensorflow(tf, tf_checkpoints, name):
    prefix = tf_checkpoints(name)
    real = _tf_functions(tf)
    # The stand-in's modules, not installed: real TF imports its own submodules lazily.
    shim = tfshim._build()["tensorflow"]
    ours = _tf_functions(shim)
    listed, expected = ours["list_variables"](prefix), real["list_variables"](prefix)
    assert type(listed) is list and listed == expected
    assert [type(t) for t in listed] == [type(t) for t in expected]
    assert [[type(d) for d in s] for _, s in listed] == [[type(d) for d in s] for _, s in expected]
    for var, _ in expected:
        _same_value(ours["load_variable"](prefix, var), real["load_variable"](prefix, var))
    reader, theirs = ours["NewCheckpointReader"](prefix), real["NewCheckpointReader"](prefix)
    assert reader.get_variable_to_shape_map() == theirs.get_variable_to_shape_map()
    ours_dtypes = reader.get_variable_to_dtype_map()
    for var, dtype in theirs.get_variable_to_dtype_map().items():
        assert ours_dtypes[var].name == dtype.name
    directory = os.path.dirname(prefix)
    assert ours["latest_checkpoint"](directory) == real["latest_checkpoint"](directory)


def test_dtypes_match_tensorflow(tf):
    # The stand-in's modules, not installed: real TF imports its own submodules lazily.
    shim = tfshim._build()["tensorflow"]
    for name in ("float16", "bfloat16", "float32", "float64", "int8", "int16", "int32",
                 "int64", "uint8", "uint16", "uint32", "uint64", "bool", "complex64",
                 "complex128", "string", "half", "double"):  # fmt: skip
        ours, theirs = getattr(shim, name), getattr(tf, name)
        assert ours.name == theirs.name and str(ours) == str(theirs)
        assert ours.as_numpy_dtype is theirs.as_numpy_dtype
        assert getattr(shim.dtypes, name) is ours and ours == theirs.name
        assert ours == shim.as_dtype(theirs.as_numpy_dtype)


@pytest.mark.parametrize(
    "value",
    [
        1.5,
        3,
        2**40,
        [1.0, 2.0],
        [[1, 2], [3, 4]],
        "text",
        True,
        np.arange(6, dtype=np.float64).reshape(2, 3),
        np.float16(2.5),
    ],
)
def test_tensors_match_tensorflow(tf, value):
    # The stand-in's modules, not installed: real TF imports its own submodules lazily.
    shim = tfshim._build()["tensorflow"]
    for make in ("constant", "convert_to_tensor"):
        ours, theirs = getattr(shim, make)(value), getattr(tf, make)(value)
        assert ours.dtype.name == theirs.dtype.name
        assert ours.shape == theirs.shape.as_list() and ours.shape == tuple(theirs.shape)
        _same_value(ours.numpy(), theirs.numpy())
    if not isinstance(value, str):
        for dtype in ("float32", "int32", "bfloat16", "float64"):
            ours = shim.dtypes.cast(value, getattr(shim, dtype))
            theirs = tf.dtypes.cast(value, getattr(tf, dtype))
            assert ours.dtype.name == theirs.dtype.name
            _same_value(ours.numpy(), theirs.numpy())


def test_gfile_matches_tensorflow(tf, tmp_path):
    (tmp_path / "a.txt").write_text("one\ntwo\n")
    (tmp_path / "b.bin").write_bytes(b"\x00\x01")
    # The stand-in's modules, not installed: real TF imports its own submodules lazily.
    shim = tfshim._build()["tensorflow"]
    for fs in (shim.io.gfile, tf.io.gfile):
        assert fs.exists(str(tmp_path / "a.txt")) and not fs.exists(str(tmp_path / "c"))
    assert shim.io.gfile.glob(str(tmp_path / "*")) == sorted(tf.io.gfile.glob(str(tmp_path / "*")))
    for mode in ("r", "rb"):
        with shim.io.gfile.GFile(str(tmp_path / "a.txt"), mode) as ours:
            with tf.io.gfile.GFile(str(tmp_path / "a.txt"), mode) as theirs:
                assert ours.read() == theirs.read()
    with shim.io.gfile.GFile(str(tmp_path / "b.bin"), "rb") as ours:
        assert ours.size() == 2 and list(ours) == [b"\x00\x01"]


# --------------------------------------------------------------------------- running scripts


def test_module_runs_a_script_like_python(tmp_path, tf_checkpoints):
    prefix = tf_checkpoints("all_dtypes")
    script = tmp_path / "show.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys
            import tensorflow as tf
            print(__name__, sys.argv[1:], sys.path[0] == __import__("os").path.dirname(__file__))
            print(len(tf.train.list_variables(sys.argv[1])))
            try:
                tf.train.load_variable(sys.argv[1], "no/such/name")
            except tf.errors.NotFoundError:
                print("caught")
            sys.exit(3)
            """
        )
    )
    proc = _hidden_tf_python(
        "from ckptio.tfshim import main; main()", str(script), prefix, "--flag"
    )
    assert proc.returncode == 3, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"__main__ [{prefix!r}, '--flag'] True"
    assert int(lines[1]) == len(ckptio.open(prefix).keys()) and lines[2] == "caught"
    # With a real TensorFlow importable, it refuses unless --force (exit 1, one line).
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    refused = subprocess.run(
        [sys.executable, "-m", "ckptio.tfshim", str(script), prefix],
        capture_output=True,
        text=True,
        env=env,
    )
    if refused.returncode == 1:
        assert refused.stderr.count("\n") == 1 and "--force" in refused.stderr
        forced = subprocess.run(
            [sys.executable, "-m", "ckptio.tfshim", "--force", str(script), prefix],
            capture_output=True,
            text=True,
            env=env,
        )
        assert forced.returncode == 3 and forced.stdout.splitlines()[2] == "caught"


# --------------------------------------------------------------------------- transformers


@pytest.fixture(scope="module")
def hf_shim_results(hf_reference):
    out = hf_reference.directory / "shim.pt"
    env_backup = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    try:
        from conftest import run_hf_loaders

        return run_hf_loaders("shim", hf_reference.directory, out)
    finally:
        if env_backup is not None:
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = env_backup


def test_transformers_sees_no_tensorflow_under_the_stand_in(hf_reference, hf_shim_results):
    assert hf_shim_results["facts"] == {
        "is_tf_available": False,
        "tensorflow_module": "ckptio.tfshim",
    }


@pytest.mark.parametrize("name", LOADED)
def test_transformers_loader_bit_identical(hf_reference, hf_shim_results, name):
    import torch

    real, ours = hf_reference.results[name], hf_shim_results[name]
    assert ours["calls"] == real["calls"]  # every tf call returned the same things
    assert any(c["call"] == "load_variable" for c in real["calls"])
    assert ours["state"].keys() == real["state"].keys()
    for key, expected in real["state"].items():
        got = ours["state"][key]
        assert got.dtype == expected.dtype and got.shape == expected.shape, key
        assert torch.equal(got.contiguous().view(-1).view(torch.uint8),
                           expected.contiguous().view(-1).view(torch.uint8)), key  # fmt: skip


def test_checkpoint_state_functions_match_tensorflow(tf, tf_checkpoints, tmp_path):
    prefix = tf_checkpoints("all_dtypes")
    (tmp_path / "checkpoint").write_text(f'model_checkpoint_path: "{prefix}"\n')
    shim = tfshim._build()["tensorflow"]
    for name in ("train", "compat.v1.train"):
        ours, theirs = shim, tf
        for part in name.split("."):
            ours, theirs = getattr(ours, part), getattr(theirs, part)
        assert ours.latest_checkpoint(str(tmp_path)) == theirs.latest_checkpoint(str(tmp_path))
        assert ours.latest_checkpoint(str(tmp_path / "none")) is None
        assert list(ours.checkpoints_iterator(str(tmp_path), timeout=0.5)) == list(
            theirs.checkpoints_iterator(str(tmp_path), timeout=0.5)
        )


def test_constant_shapes_and_dtype_equality_match_tensorflow(tf):
    shim = tfshim._build()["tensorflow"]
    for value, shape in ((0.5, [2, 3]), ([1, 2, 3, 4, 5, 6], [2, 3]), ([1.0, 2.0], None)):
        ours, theirs = shim.constant(value, shape=shape), tf.constant(value, shape=shape)
        _same_value(ours.numpy(), theirs.numpy())
    for other in (None, np.float32, "float32", np.dtype("float64"), "nonsense", 3):
        assert (shim.float32 == other) == (tf.float32 == other), other
