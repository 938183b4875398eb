"""V1 checkpoints with what TF's own CheckpointReader refuses: tensors stored as several slices
(partitioned variables) and dtypes its V1 reader does not decode (half, complex, uint16). TF's
restore op still reads them, so restoring into a TF graph is the reference."""

from __future__ import annotations

import ckptio
import numpy as np
import pytest
from conftest import import_tensorflow

VALUES = {
    "half": np.array([[1.5, -2.25], [65504.0, 0.0]], dtype=np.float16),
    "c64": np.array([1 + 2j, -3.5 - 0.25j], dtype=np.complex64),
    "c128": np.array([[1e300 + 1j]], dtype=np.complex128),
    "u16": np.array([0, 1, 65535], dtype=np.uint16),
    "i8": np.array([-128, -1, 0, 127], dtype=np.int8),
}


@pytest.fixture(scope="module")
def v1_checkpoint(tmp_path_factory):
    tf = import_tensorflow()
    v1 = tf.compat.v1
    prefix = str(tmp_path_factory.mktemp("v1extra") / "model.ckpt")
    with tf.Graph().as_default(), v1.Session() as sess:
        variables = [v1.Variable(value, name=name) for name, value in VALUES.items()]
        emb = v1.get_variable(
            "emb",
            shape=[10, 3],
            initializer=v1.random_normal_initializer(seed=1),
            partitioner=v1.fixed_size_partitioner(3),
        )
        cols = v1.get_variable(
            "cols",
            shape=[4, 9],
            dtype=tf.float64,
            initializer=v1.random_normal_initializer(seed=2),
            partitioner=v1.fixed_size_partitioner(2, axis=1),
        )
        sess.run(v1.global_variables_initializer())
        saver = v1.train.Saver(write_version=v1.train.SaverDef.V1)
        saver.save(sess, prefix, write_meta_graph=False)
        expected = {v.op.name: sess.run(v) for v in variables}
        expected["emb"] = sess.run(tf.concat(list(emb), 0))
        expected["cols"] = sess.run(tf.concat(list(cols), 1))
    return prefix, expected


def test_ckptio_reads_what_tfs_reader_refuses(v1_checkpoint):
    tf = import_tensorflow()
    prefix, expected = v1_checkpoint
    reader = tf.train.load_checkpoint(prefix)
    with pytest.raises(tf.errors.OpError):  # "Sliced checkpoints are not supported"
        reader.get_tensor("emb")
    with ckptio.open(prefix, verify=True) as ckpt:
        assert ckpt.format == "V1"
        assert ckpt.info("emb").sliced and ckpt.info("cols").sliced
        for name, want in expected.items():
            got = ckpt[name]
            assert got.dtype == want.dtype and got.shape == want.shape, name
            assert got.tobytes() == np.ascontiguousarray(want).tobytes(), name
            assert ckpt.get_tensor(name, copy=True).tobytes() == got.tobytes(), name


def test_values_equal_what_tf_restores(v1_checkpoint):
    """TF's restore op (RestoreV2 falling back to V1) reads every one of these; ckptio must give
    the same values."""
    tf = import_tensorflow()
    v1 = tf.compat.v1
    prefix, expected = v1_checkpoint
    with tf.Graph().as_default(), v1.Session() as sess:
        variables = [v1.Variable(np.zeros_like(v), name=n) for n, v in VALUES.items()]
        emb = v1.get_variable("emb", shape=[10, 3], partitioner=v1.fixed_size_partitioner(3))
        cols = v1.get_variable(
            "cols",
            shape=[4, 9],
            dtype=tf.float64,
            partitioner=v1.fixed_size_partitioner(2, axis=1),
        )
        v1.train.Saver().restore(sess, prefix)
        restored = {v.op.name: sess.run(v) for v in variables}
        restored["emb"] = sess.run(tf.concat(list(emb), 0))
        restored["cols"] = sess.run(tf.concat(list(cols), 1))
    with ckptio.open(prefix) as ckpt:
        for name, value in restored.items():
            assert ckpt[name].tobytes() == np.ascontiguousarray(value).tobytes(), name
            assert value.tobytes() == np.ascontiguousarray(expected[name]).tobytes(), name
