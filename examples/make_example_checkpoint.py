"""Regenerate the small example checkpoint in examples/data/ (needs TensorFlow; ckptio doesn't).

A TF1 `tf.compat.v1.train.Saver` bundle of a tiny convnet, as TF-slim era code wrote them:
conv and dense weights, a partitioned embedding table (stored as two slices), Momentum slots and
`global_step`, plus the `checkpoint` state file.

    python examples/make_example_checkpoint.py
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    import numpy as np
    import tensorflow as tf

    out = Path(__file__).resolve().parent / "data" / "tiny_convnet"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    rng = np.random.default_rng(0)
    graph = tf.Graph()
    with graph.as_default():
        v1 = tf.compat.v1
        images = v1.placeholder(tf.float32, [None, 8, 8, 3])
        labels = v1.placeholder(tf.int64, [None])
        with v1.variable_scope("convnet"):
            kernel = v1.get_variable(
                "conv1/weights", initializer=rng.normal(0, 0.1, (3, 3, 3, 8)).astype("f4")
            )
            bias = v1.get_variable("conv1/biases", initializer=np.zeros(8, "f4"))
            net = tf.nn.relu(tf.nn.conv2d(images, kernel, 2, "SAME") + bias)
            net = tf.reshape(net, [-1, 4 * 4 * 8])
            fc = v1.get_variable(
                "logits/weights", initializer=rng.normal(0, 0.1, (128, 10)).astype("f4")
            )
            logits = tf.matmul(net, fc)
            embedding = v1.get_variable(
                "embedding",
                shape=[20, 4],
                initializer=v1.random_normal_initializer(seed=1),
                partitioner=v1.fixed_size_partitioner(2),
            )
            logits += tf.reduce_sum(tf.nn.embedding_lookup(embedding, labels))
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        )
        step = v1.train.get_or_create_global_step()
        train = v1.train.MomentumOptimizer(0.01, 0.9).minimize(loss, global_step=step)
        saver = v1.train.Saver()
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            feed = {images: rng.normal(size=(4, 8, 8, 3)).astype("f4"), labels: [1, 2, 3, 4]}
            for _ in range(3):
                sess.run(train, feed)
            saver.save(sess, str(out / "model.ckpt"), global_step=step, write_meta_graph=False)
    # Relative paths in the state file, so the directory can be moved (and committed).
    (out / "checkpoint").write_text(
        'model_checkpoint_path: "model.ckpt-3"\nall_model_checkpoint_paths: "model.ckpt-3"\n'
    )
    print("wrote", sorted(p.name for p in out.iterdir()))


if __name__ == "__main__":
    main()
