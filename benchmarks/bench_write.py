"""Write throughput: ckptio's BundleWriter against TensorFlow's SaveV2, same tensors, same run.

    python benchmarks/bench_write.py [--size-mb 1024] [--tensors 64] [--repeat 7] [--dir DIR]

Both write the same float32 tensors (held in memory beforehand) as a V2 bundle into the same
directory, no fsync on either side (TF's SaveV2 does not sync; ckptio's `sync=False` default
matches it). Runs alternate between the writers, each starting after `os.sync()` with its
previous output deleted; medians and best runs of --repeat are printed. The outputs are checked
to hold identical bytes (ckptio's writer is byte-identical to TF's for the same tensors added
in the same order). Target: >= 1.5x TF.
Also times ckptio.rewrite of the written checkpoint (raw copies of unchanged tensors).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def files(prefix: str) -> dict[str, bytes]:
    p = Path(prefix)
    return {f.name[len(p.name) :]: f.read_bytes() for f in sorted(p.parent.glob(p.name + ".*"))}


def remove(prefix: str) -> None:
    p = Path(prefix)
    for f in p.parent.glob(p.name + ".*"):
        f.unlink()


def timed(fn, prefix: str) -> float:
    remove(prefix)
    # Start each run with no dirty pages queued for writeback, so that neither writer is
    # throttled by the other's leftovers (on a VM this dominates otherwise).
    os.sync()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=1024)
    parser.add_argument("--tensors", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--dir", default=None, help="output directory (default: a temp dir)")
    args = parser.parse_args()

    import ckptio

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    rng = np.random.default_rng(0)
    per = int(args.size_mb * 2**20 / 4 / args.tensors)
    tensors = {
        f"layer_{i:03d}/kernel": rng.standard_normal(per, dtype=np.float32)
        for i in range(args.tensors)
    }
    names = list(tensors)
    tf_tensors = [tf.constant(tensors[n]) for n in names]
    total = sum(a.nbytes for a in tensors.values())

    out_dir = Path(args.dir or tempfile.mkdtemp(prefix="ckptio-bench-write-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    tf_prefix, ck_prefix, rw_prefix = (str(out_dir / n) for n in ("tf", "ckptio", "rewritten"))

    def tf_save():
        tf.raw_ops.SaveV2(
            prefix=tf_prefix,
            tensor_names=names,
            shape_and_slices=[""] * len(names),
            tensors=tf_tensors,
        )

    def ck_save():
        with ckptio.BundleWriter(ck_prefix) as writer:
            for n in names:
                writer.add(n, tensors[n])

    def ck_rewrite():
        ckptio.rewrite(ck_prefix, rw_prefix)

    tf_save(), ck_save()  # warm up (and leave both outputs to compare)
    assert files(tf_prefix) == files(ck_prefix), "outputs differ"
    runs: dict[str, list[float]] = {"tf": [], "ck": [], "rw": []}
    for _ in range(args.repeat):  # alternate, so that changing load hits all alike
        runs["tf"].append(timed(tf_save, tf_prefix))
        runs["ck"].append(timed(ck_save, ck_prefix))
        runs["rw"].append(timed(ck_rewrite, rw_prefix))
    t_tf, t_ck, t_rw = (statistics.median(runs[k]) for k in ("tf", "ck", "rw"))
    b_tf, b_ck, b_rw = (min(runs[k]) for k in ("tf", "ck", "rw"))
    gib = total / 2**30
    print(
        f"write {args.tensors} float32 tensors, {total / 2**20:.0f} MiB, warm cache, no fsync, "
        f"median of {args.repeat}; TF {tf.__version__}; outputs byte-identical"
    )
    print(f"{'':28s} {'median':>9s} {'GiB/s':>7s} {'best':>9s}")
    for label, t, b in [
        ("TF SaveV2", t_tf, b_tf),
        ("ckptio BundleWriter", t_ck, b_ck),
        ("ckptio rewrite (raw copy)", t_rw, b_rw),
    ]:
        print(f"{label:28s} {t * 1e3:7.0f}ms {gib / t:7.2f} {b * 1e3:7.0f}ms")
    ratio = t_tf / t_ck
    print(
        f"ratio TF / ckptio: {ratio:.2f}x median, {b_tf / b_ck:.2f}x best; "
        f"target >= 1.5x: {'PASS' if ratio >= 1.5 else 'MISS'} (the page cache and writeback "
        f"of this machine dominate: compare the spread)"
    )
    if args.dir is None:
        shutil.rmtree(out_dir)


if __name__ == "__main__":
    main()
