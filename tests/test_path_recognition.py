"""What users hand to `open`: SavedModels, `.meta` files, the state file itself, V1-only
directories, `~`, and files that are not checkpoints at all (said what they are, not reported
as corruption). Checked against TensorFlow where it has a behaviour."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import ckptio
import numpy as np
import pytest
from ckptio.errors import CorruptionError, NotACheckpointError, NotFoundError, UnsupportedError

ROOT = Path(__file__).resolve().parent.parent
# Where the ckptio under test lives (an installed wheel, a source tree, a sanitizer build), for
# child processes.
PACKAGE_PARENT = str(Path(ckptio.__file__).resolve().parents[1])
VGG_V1 = ROOT / "examples" / "data" / "vgg_16" / "vgg_16.ckpt"
TENSORS = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(3, np.float32)}


def _values(path) -> dict:
    with ckptio.open(path) as ckpt:
        return {k: ckpt.get_tensor(k, copy=True) for k in ckpt}


def _assert_same(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


# ------------------------------------------------------------------ what TF writes, opened
def test_saved_model_directory_and_pb_open_the_variables(tmp_path, tf):
    module = tf.Module()
    module.dense = tf.Variable(np.arange(12, dtype=np.float32).reshape(3, 4), name="dense")
    module.step = tf.Variable(7, dtype=tf.int64, name="step")
    export = tmp_path / "export" / "1"
    tf.saved_model.save(module, str(export))
    reader = tf.train.load_checkpoint(str(export / "variables" / "variables"))
    want = {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()}

    for given in (export, export / "saved_model.pb"):
        with ckptio.open(given) as ckpt:
            assert ckpt.path == str(export / "variables" / "variables")
        got = _values(given)
        want_numeric = {k: v for k, v in want.items() if k != "_CHECKPOINTABLE_OBJECT_GRAPH"}
        got_numeric = {k: v for k, v in got.items() if k != "_CHECKPOINTABLE_OBJECT_GRAPH"}
        _assert_same(got_numeric, want_numeric)
    # TensorFlow's checkpoint reader does not take the SavedModel directory itself.
    with pytest.raises(ValueError):
        tf.train.load_checkpoint(str(export))


def test_meta_file_opens_its_checkpoint(tmp_path, tf):
    tf1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        tf1.get_variable("w", initializer=np.arange(4, dtype=np.float32))
        saver = tf1.train.Saver()
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            prefix = saver.save(sess, str(tmp_path / "model.ckpt"), global_step=5)
    assert os.path.isfile(prefix + ".meta")
    with ckptio.open(prefix + ".meta") as ckpt:
        assert ckpt.path == prefix
    _assert_same(_values(prefix + ".meta"), _values(prefix))
    # Without the checkpoint, a .meta is a graph only: the error says so.
    meta_only = tmp_path / "lonely"
    meta_only.mkdir()
    shutil.copy(prefix + ".meta", meta_only / "model.ckpt-9.meta")
    with pytest.raises(NotFoundError, match=r"MetaGraph.*'model\.ckpt-9'.*not there"):
        ckptio.open(meta_only / "model.ckpt-9.meta")


def test_state_file_itself_opens_the_checkpoint_it_names(tmp_path):
    ckptio.save(tmp_path / "model.ckpt-1", {"w": np.zeros(2, np.float32)}, update_state=True)
    ckptio.save(tmp_path / "model.ckpt-2", TENSORS, update_state=True)
    with ckptio.open(tmp_path / "checkpoint") as ckpt:
        assert ckpt.path == str(tmp_path / "model.ckpt-2")
    _assert_same(_values(tmp_path / "checkpoint"), TENSORS)


def test_state_file_naming_a_missing_checkpoint_is_an_error(tmp_path, tf):
    ckptio.save(tmp_path / "model.ckpt-1", TENSORS, update_state=True)
    ckptio.save(tmp_path / "model.ckpt-2", TENSORS, update_state=True)
    for f in tmp_path.glob("model.ckpt-2.*"):
        f.unlink()
    # TensorFlow refuses too: no fall back to the older step.
    assert tf.train.latest_checkpoint(str(tmp_path)) is None
    with pytest.raises(ValueError):
        tf.train.load_checkpoint(str(tmp_path))
    for given in (tmp_path, tmp_path / "checkpoint"):
        with pytest.raises(NotFoundError) as err:
            ckptio.open(given)
        message = str(err.value)
        assert "model.ckpt-2" in message and "present: model.ckpt-1" in message
        assert "no `checkpoint` state file" not in message  # there is one
        assert err.value.file == str(tmp_path / "checkpoint")


def test_directory_holding_only_a_v1_checkpoint(tmp_path, tf):
    shutil.copy(VGG_V1, tmp_path / "vgg_16.ckpt")
    (tmp_path / "notes.txt").write_text("downloaded from tf-slim")
    with ckptio.open(tmp_path) as ckpt:
        assert ckpt.format == "V1" and ckpt.path == str(tmp_path / "vgg_16.ckpt")
    reader = tf.train.load_checkpoint(str(tmp_path / "vgg_16.ckpt"))
    want = {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()}
    _assert_same(_values(tmp_path), want)


def test_directory_holding_a_sharded_v1_checkpoint(tf_checkpoints, tmp_path):
    pattern = tf_checkpoints("v1_sharded")
    directory = tmp_path / "v1s"
    directory.mkdir()
    for f in Path(pattern).parent.iterdir():
        if f.name != "checkpoint" and f.is_file() and not f.name.endswith(".meta"):
            shutil.copy(f, directory / f.name)
    files = sorted(p.name for p in directory.iterdir())
    assert len([n for n in files if "-of-" in n]) >= 2, files
    _assert_same(_values(directory), _values(pattern))


def test_tilde_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    ckptio.save(tmp_path / "runs" / "model.ckpt-3", TENSORS)
    _assert_same(_values("~/runs/model.ckpt-3"), TENSORS)
    _assert_same(_values("~/runs"), TENSORS)


# ------------------------------------------------------------------ not checkpoints at all
def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _not_checkpoints(tmp_path: Path) -> list[tuple[Path, str]]:
    lfs = (
        b"version https://git-lfs.github.com/spec/v1\n"
        b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
        b"size 12345\n"
    )
    cases = []
    h5 = tmp_path / "model.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 600)
    cases.append((h5, "HDF5"))
    cases.append(
        (_zip(tmp_path / "m.keras", {"config.json": b"{}", "model.weights.h5": b""}), "Keras")
    )
    buf = tmp_path / "w.npz"
    np.savez(buf, a=np.zeros(2))
    cases.append((buf, "numpy"))
    pb = tmp_path / "frozen_graph.pb"
    pb.write_bytes(b"\n\x0c\n\x01x\x12\x0bPlaceholder" * 10)
    cases.append((pb, "protobuf"))
    pointer = tmp_path / "model.ckpt"
    pointer.write_bytes(lfs)
    cases.append((pointer, "git lfs pull"))
    empty = tmp_path / "empty.ckpt"
    empty.write_bytes(b"")
    cases.append((empty, "empty"))
    short = tmp_path / "short.ckpt"
    short.write_bytes(b"\x00" * 20)
    cases.append((short, "too short"))
    return cases


def test_files_that_are_not_checkpoints_say_what_they_are(tmp_path):
    for path, what in _not_checkpoints(tmp_path):
        with pytest.raises(NotACheckpointError, match=what) as err:
            ckptio.open(path)
        assert isinstance(err.value, UnsupportedError) and not isinstance(
            err.value, CorruptionError
        )
        assert err.value.file == str(path) and str(path) in str(err.value)


def test_tf_refuses_those_files_too(tmp_path, tf):
    for path, _ in _not_checkpoints(tmp_path):
        with pytest.raises((ValueError, RuntimeError, tf.errors.OpError)):
            tf.train.load_checkpoint(str(path))


def test_git_lfs_pointers_in_place_of_a_bundle(tmp_path):
    prefix = tmp_path / "model.ckpt-1"
    ckptio.save(prefix, TENSORS)
    pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 99999\n"
    data = tmp_path / "model.ckpt-1.data-00000-of-00001"
    data.write_bytes(pointer)
    with pytest.raises(NotACheckpointError, match="git lfs pull") as err:
        ckptio.open(prefix)
    assert err.value.file == str(data)
    (tmp_path / "model.ckpt-1.index").write_bytes(pointer)
    with pytest.raises(NotACheckpointError, match="git lfs pull") as err:
        ckptio.open(tmp_path)
    assert err.value.file == str(tmp_path / "model.ckpt-1.index")


def test_cli_names_what_a_file_is(tmp_path):
    h5 = tmp_path / "weights.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
    proc = subprocess.run(
        [sys.executable, "-m", "ckptio", "ls", str(h5)], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1 and "HDF5" in proc.stderr
    assert "Traceback" not in proc.stderr


# ------------------------------------------------------------------ permission denied
PERMISSION_CHILD = """
import json, sys
import ckptio
out = {}
for path in sys.argv[1:]:
    try:
        ckptio.open(path)
        out[path] = "opened"
    except ckptio.CheckpointError as e:
        out[path] = [type(e).__name__, str(e), e.file]
print(json.dumps(out))
"""


def test_permission_denied_says_so(tmp_path):
    ckptio.save(tmp_path / "bundle" / "model.ckpt-1", TENSORS)
    shutil.copy(VGG_V1, tmp_path / "vgg_16.ckpt")
    ckptio.save(tmp_path / "state" / "model.ckpt-1", TENSORS, update_state=True)
    locked = [
        tmp_path / "bundle" / "model.ckpt-1.index",
        tmp_path / "vgg_16.ckpt",
        tmp_path / "state" / "checkpoint",
    ]
    args = [str(tmp_path / "bundle" / "model.ckpt-1"), str(tmp_path / "vgg_16.ckpt")]
    args.append(str(tmp_path / "state"))
    command = [sys.executable, "-c", PERMISSION_CHILD, *args]
    if os.geteuid() == 0:
        # Root reads any file: run the child without the capabilities that allow it.
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv to drop CAP_DAC_OVERRIDE")
        drop = "-dac_override,-dac_read_search"
        command = [setpriv, f"--bounding-set={drop}", f"--inh-caps={drop}", *command]
    for f in locked:
        os.chmod(f, 0)
    try:
        env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
        proc = subprocess.run(command, capture_output=True, text=True, env=env)
    finally:
        for f in locked:
            os.chmod(f, 0o644)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    for arg, file in zip(args, locked):
        kind, message, named = results[arg]
        assert kind == "CheckpointError", (arg, kind, message)
        assert "permission denied" in message.lower(), message
        assert named == str(file), (named, file)
        assert "corrupt" not in message.lower()
