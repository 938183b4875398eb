"""Writing: bundles TensorFlow reads back (byte-identical to TF's own writer for the same input),
multi-shard writes, atomicity, state files, and rewrite (rename/subset/cast) checked in TF."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import ckptio
import numpy as np
import pytest
from ckptio import CheckpointError
from conftest import import_tensorflow

SAME_AS_TF = ["all_dtypes", "strings", "many_keys", "tf2_checkpoint", "tf1_saver"]


def files_of(prefix: str | Path) -> dict[str, bytes]:
    """The bundle's own files (TF1 Saver's `.meta` graph is not part of the checkpoint)."""
    p = Path(prefix)
    return {
        f.name[len(p.name) :]: f.read_bytes()
        for f in p.parent.glob(p.name + ".*")
        if not f.name.endswith(".meta")
    }


def in_write_order(ckpt: ckptio.Checkpoint) -> list[str]:
    """The order TF added the tensors in: their data offsets."""
    return sorted(ckpt, key=lambda n: (ckpt.info(n).shard or 0, ckpt.info(n).offset or 0))


def equal(a: np.ndarray, b) -> bool:
    b = np.asarray(b) if not isinstance(b, bytes) else np.array(b, dtype=object)
    if a.dtype == object:
        return a.shape == b.shape and list(a.flat) == list(b.flat)
    return a.shape == b.shape and a.tobytes() == np.ascontiguousarray(b).tobytes()


@pytest.mark.parametrize("name", SAME_AS_TF)
def test_rewritten_by_ckptio_is_byte_identical_to_tf(name, tf_checkpoints, tmp_path):
    prefix = tf_checkpoints(name)
    out = tmp_path / "copy"
    with ckptio.open(prefix) as ckpt, ckptio.BundleWriter(out) as writer:
        for n in in_write_order(ckpt):
            writer.add(n, ckpt[n], dtype=ckpt.info(n).dtype_name)
    assert files_of(out) == files_of(prefix)


@pytest.mark.parametrize("name", ["all_dtypes", "strings", "partitioned", "v1_saver"])
def test_tensorflow_reads_back_what_ckptio_writes(name, tf_checkpoints, tmp_path, tf_ref):
    source = tf_reference = tf_ref(tf_checkpoints(name))
    tensors = {}
    with ckptio.open(tf_checkpoints(name)) as ckpt:
        for n in ckpt:
            tensors[n] = (np.array(ckpt[n]), ckpt.info(n).dtype_name)
    out = tmp_path / "written"
    with ckptio.BundleWriter(out) as writer:
        for n, (value, dtype) in tensors.items():
            writer.add(n, value, dtype=dtype)
    reread = tf_ref(str(out))
    assert set(reread) == set(source)
    for n, (dtype, shape, value) in reread.items():
        assert (dtype, shape) == tf_reference[n][:2], n
        assert equal(tensors[n][0], value), n


def test_save_python_values_and_multiple_shards(tmp_path):
    tf = import_tensorflow()
    rng = np.random.default_rng(0)
    tensors = {f"layer_{i}/w": rng.normal(size=(64, 64)).astype("f4") for i in range(10)}
    tensors["step"] = np.int64(7)
    tensors["names"] = ["a", "bé", ""]
    tensors["flag"] = True
    prefix = ckptio.save(tmp_path / "m", tensors, max_shard_bytes=40_000)
    data_files = sorted(p.name for p in tmp_path.glob("m.data-*"))
    assert len(data_files) > 4 and data_files[0].endswith(f"-of-{len(data_files):05d}")
    reader = tf.train.load_checkpoint(prefix)
    for n, v in tensors.items():
        got = reader.get_tensor(n)
        if n == "names":
            assert list(got) == [b"a", "bé".encode(), b""]
        else:
            assert np.array_equal(got, v), n
    with ckptio.open(prefix, verify=True) as ckpt:
        assert ckpt.info("layer_9/w").shard == len(data_files) - 1


def test_state_file_is_what_tf_expects(tmp_path):
    tf = import_tensorflow()
    for step in (1, 2):
        ckptio.save(tmp_path / f"ckpt-{step}", {"x": np.float32(step)}, update_state=True)
    assert tf.train.latest_checkpoint(str(tmp_path)) == str(tmp_path / "ckpt-2")
    assert ckptio.latest_checkpoint(tmp_path) == str(tmp_path / "ckpt-2")
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert [os.path.basename(p) for p in state.all_model_checkpoint_paths] == ["ckpt-1", "ckpt-2"]


# ------------------------------------------------------------------------------ atomicity
def test_exception_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), ckptio.BundleWriter(tmp_path / "m") as writer:
        writer.add("a", np.ones(1000, "f4"))
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_bad_input_is_refused_and_leaves_nothing(tmp_path):
    with (
        pytest.raises(CheckpointError, match="duplicate key"),
        ckptio.BundleWriter(tmp_path / "m") as w,
    ):
        w.add("a", np.ones(3))
        w.add("a", np.ones(3))
    with pytest.raises(TypeError), ckptio.BundleWriter(tmp_path / "m") as w:
        w.add("obj", np.array([object()], dtype=object))
    with (
        pytest.raises(CheckpointError, match="empty tensor name"),
        ckptio.BundleWriter(tmp_path / "m") as w,
    ):
        w.add("", np.ones(3))
    assert list(tmp_path.iterdir()) == []


def test_existing_checkpoint_is_not_overwritten_unless_asked(tmp_path):
    prefix = ckptio.save(tmp_path / "m", {"a": np.ones(3, "f4")})
    before = files_of(prefix)
    with pytest.raises(CheckpointError, match="already exists"):
        ckptio.save(prefix, {"a": np.zeros(3, "f4")})
    assert files_of(prefix) == before
    ckptio.save(prefix, {"b": np.zeros(3, "f4")}, overwrite=True)
    with ckptio.open(prefix, verify=True) as ckpt:
        assert list(ckpt) == ["b"]


def test_killed_writer_leaves_no_checkpoint(tmp_path):
    script = f"""
import os, signal, numpy as np, ckptio
w = ckptio.BundleWriter({str(tmp_path / "m")!r})
for i in range(50):
    w.add(f"t{{i}}", np.ones(100_000, "f4"))
os.kill(os.getpid(), signal.SIGKILL)
"""
    proc = subprocess.run([sys.executable, "-c", script], check=False)
    assert proc.returncode == -signal.SIGKILL
    names = [p.name for p in tmp_path.iterdir()]
    assert names and all(".tempstate" in n for n in names), names  # only temporary files
    with pytest.raises(ckptio.NotFoundError):
        ckptio.open(tmp_path / "m")


# ------------------------------------------------------------------------------ rewrite
def test_rewrite_renames_subsets_and_tf_restores_under_new_names(tf_checkpoints, tmp_path):
    tf = import_tensorflow()
    src = tf_checkpoints("tf1_saver")
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in Path(src).parent.iterdir()}
    dst = tmp_path / "renamed"
    plan = ckptio.rewrite(
        src,
        dst,
        select=lambda n: not n.endswith(("/Adam", "/Adam_1", "/Momentum")) and "power" not in n,
        rename={"model/": "my/model/", "global_step": "step"},
    )
    assert plan["global_step"] == "step"
    assert all(v == "my/" + k for k, v in plan.items() if k.startswith("model/"))
    assert not any(k.endswith(("/Adam", "/Momentum")) for k in plan)
    reader = tf.train.load_checkpoint(str(dst))
    with ckptio.open(src) as ckpt:
        assert set(reader.get_variable_to_shape_map()) == set(plan.values())
        for old, new in plan.items():
            assert equal(np.asarray(ckpt[old]), reader.get_tensor(new)), old
    # a TF1 graph built under the new names restores from it
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session() as sess:
        variables = [
            tf.compat.v1.get_variable(
                new,
                shape=reader.get_variable_to_shape_map()[new],
                dtype=reader.get_variable_to_dtype_map()[new],
            )
            for new in plan.values()
        ]
        tf.compat.v1.train.Saver(variables).restore(sess, str(dst))
        for v in variables:
            assert equal(sess.run(v), reader.get_tensor(v.op.name))
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in Path(src).parent.iterdir()}
    assert after == before  # the source is never modified


def test_rewrite_copies_raw_bytes_and_keeps_checksums(tf_checkpoints, tmp_path):
    src = tf_checkpoints("all_dtypes")
    ckptio.rewrite(src, tmp_path / "copy")
    with ckptio.open(src) as a, ckptio.open(tmp_path / "copy", verify=True) as b:
        assert list(a) == list(b)
        for n in a:
            assert equal(np.asarray(a[n]), b[n]), n
            assert a.info(n).dtype_name == b.info(n).dtype_name


def test_rewrite_cast_partitioned_and_object_graph(tf_checkpoints, tmp_path):
    tf = import_tensorflow()
    ckptio.rewrite(tf_checkpoints("partitioned"), tmp_path / "p", cast="float16")
    with ckptio.open(tf_checkpoints("partitioned")) as a, ckptio.open(tmp_path / "p") as b:
        for n in a:
            if a.info(n).dtype_name == "float32":
                assert b.info(n).dtype_name == "float16" and not b.info(n).sliced
                assert np.array_equal(b[n], a[n].astype("f2"))
    src = tf_checkpoints("tf2_checkpoint")
    ckptio.rewrite(src, tmp_path / "same", keep_object_graph=True)
    ckptio.rewrite(src, tmp_path / "renamed", rename={"model/": "net/"}, keep_object_graph=True)
    assert "_CHECKPOINTABLE_OBJECT_GRAPH" in ckptio.open(tmp_path / "same")
    assert "_CHECKPOINTABLE_OBJECT_GRAPH" not in ckptio.open(tmp_path / "renamed")
    renamed = tf.train.load_checkpoint(str(tmp_path / "renamed")).get_variable_to_shape_map()
    original = ckptio.open(src).shapes()
    assert renamed == {
        ("net/" + k[len("model/") :] if k.startswith("model/") else k): list(v)
        for k, v in original.items()
        if k != "_CHECKPOINTABLE_OBJECT_GRAPH"
    }


def test_rewrite_refuses_itself_and_collisions(tf_checkpoints, tmp_path):
    src = tf_checkpoints("strings")
    with pytest.raises(CheckpointError, match="onto itself"):
        ckptio.rewrite(src, src)
    with pytest.raises(CheckpointError, match="would be written as"):
        ckptio.rewrite(src, tmp_path / "x", rename=lambda n: "same")
    assert list(tmp_path.iterdir()) == []
