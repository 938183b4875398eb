"""Legacy V1 checkpoints (TF-slim `.ckpt` files): ckptio vs TensorFlow, same files, same run.

    python benchmarks/bench_v1.py [--size-mb 300] [--data-dir bench-data] [--repeat 3]

Generates (once, with TensorFlow in a subprocess) a V1 checkpoint shaped like TF-slim's
vgg_16.ckpt scaled to --size-mb (conv and fc float32 weights, biases, an int64 global_step),
then times, warm page cache, median of --repeat runs:
  open + list   ckptio.open(p).shapes()            vs tf.train.load_checkpoint(p) + shape map
  read all      every tensor as a fresh array      vs reader.get_tensor for every name
  read all      every tensor as ckptio's default read-only view (zero-copy where the file
                stores packed float values, as TF writes them)
and prints the ratios (TF time / ckptio time). Target from the issue: read-all >= 2x TF.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

GENERATE = textwrap.dedent(
    """
    import os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import numpy as np, tensorflow as tf
    v1 = tf.compat.v1
    v1.disable_eager_execution()
    path, size_mb = sys.argv[1], float(sys.argv[2])
    scale = (size_mb * 2**20 / 4 / 138e6) ** 0.5   # vgg_16 has ~138M parameters
    def c(n): return max(1, int(n * scale))
    layers = [("conv1/conv1_1", [3, 3, 3, c(64)]), ("conv1/conv1_2", [3, 3, c(64), c(64)])]
    cin = c(64)
    for block, width, reps in [(2, 128, 2), (3, 256, 3), (4, 512, 3), (5, 512, 3)]:
        for r in range(reps):
            layers.append((f"conv{block}/conv{block}_{r+1}", [3, 3, cin, c(width)]))
            cin = c(width)
    layers += [("fc6", [7, 7, cin, c(4096)]), ("fc7", [1, 1, c(4096), c(4096)]),
               ("fc8", [1, 1, c(4096), 1000])]
    rng = np.random.default_rng(0)
    with tf.Graph().as_default():
        for name, shape in layers:
            v1.Variable(rng.standard_normal(shape, dtype=np.float32) * 0.01,
                        name=f"vgg_16/{name}/weights")
            v1.Variable(np.zeros(shape[-1], np.float32), name=f"vgg_16/{name}/biases")
        v1.train.get_or_create_global_step()
        saver = v1.train.Saver(write_version=v1.train.SaverDef.V1)
        with v1.Session() as s:
            s.run(v1.global_variables_initializer())
            saver.save(s, path, write_meta_graph=False)
    """
)


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=300)
    parser.add_argument("--data-dir", default="bench-data")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path = Path(args.data_dir) / f"v1_vgg_{int(args.size_mb)}mb" / "vgg_16.ckpt"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        print(f"generating {path} with TensorFlow ...", file=sys.stderr)
        subprocess.run([sys.executable, "-c", GENERATE, str(path), str(args.size_mb)], check=True)
    size = path.stat().st_size

    import ckptio

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    def ck_list():
        with ckptio.open(path) as ckpt:
            return ckpt.shapes()

    def tf_list():
        return tf.train.load_checkpoint(str(path)).get_variable_to_shape_map()

    def ck_read_all():
        with ckptio.open(path) as ckpt:
            return sum(ckpt.get_tensor(n, copy=True).nbytes for n in ckpt)

    def ck_view_all():
        with ckptio.open(path) as ckpt:
            return sum(ckpt[n].nbytes for n in ckpt)

    def tf_read_all():
        reader = tf.train.load_checkpoint(str(path))
        return sum(reader.get_tensor(n).nbytes for n in reader.get_variable_to_shape_map())

    assert ck_list() == {k: tuple(v) for k, v in tf_list().items()}
    assert ck_read_all() == tf_read_all()  # also warms the page cache for both
    rows = []
    for label, ours, theirs in [
        ("open + list", ck_list, tf_list),
        ("read all (copies)", ck_read_all, tf_read_all),
        ("read all (views)", ck_view_all, tf_read_all),
    ]:
        t_ours, t_tf = median_time(ours, args.repeat), median_time(theirs, args.repeat)
        rows.append((label, t_ours, t_tf))
    print(
        f"V1 checkpoint {path} ({size / 2**20:.0f} MiB, {len(ck_list())} tensors), "
        f"warm cache, median of {args.repeat}; TF {tf.__version__}"
    )
    print(f"{'':20s} {'ckptio':>10s} {'TF':>10s} {'TF/ckptio':>10s}")
    for label, t_ours, t_tf in rows:
        print(f"{label:20s} {t_ours * 1e3:8.1f}ms {t_tf * 1e3:8.1f}ms {t_tf / t_ours:9.1f}x")
    read = rows[1]
    print(
        f"read-all throughput: ckptio {size / read[1] / 2**30:.2f} GiB/s, "
        f"TF {size / read[2] / 2**30:.2f} GiB/s; target >= 2x: "
        f"{'PASS' if read[2] / read[1] >= 2 else 'MISS'}"
    )


if __name__ == "__main__":
    main()
