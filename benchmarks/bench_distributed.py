"""Scale-out conversion benchmark: `ckptio.distributed.to_safetensors` on 1 and 2 Dask workers.

    python benchmarks/bench_distributed.py [--tensors 48] [--tensor-mb 8] [--shard-mb 16]
                                           [--reps 3] [--sources local,s3] [--json out.json]

A checkpoint of --tensors float32 tensors of --tensor-mb MB each (8 source data shards) is
written once with ``ckptio.save``. Each conversion casts every tensor to bfloat16 (CPU work a
worker does per tensor) and writes sharded safetensors of at most --shard-mb MB per file: one
task per output file. Sources:

* ``local``: the checkpoint on local disk (workers map it);
* ``s3``: the same files in moto's S3 server, run by this script on 127.0.0.1 (the test suite's
  server: tests/test_remote.py), read with ranged GETs;
* ``s3-wan``: the same server made to behave like a distant object store: every answer waits
  --latency-ms before its first byte and streams at --stream-mbps MB/s (per response; the
  delays are sleeps, so they cost the 2 cores nothing).

Engines: a ``dask.distributed.LocalCluster`` of 1 and of 2 worker processes (one thread each),
and, for reference, the default engine (threads in this process). Each row is the median wall
time of --reps conversions (after one untimed warm-up that starts the workers and opens the
source), the throughput in source MB/s, the speed-up over 1 worker, and the largest per-task
peak growth of a worker's anonymous resident memory (``measure_memory=True``), next to the
largest tensor. The machine has 2 cores: with the S3 sources, the server competes with the
workers for them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

MB = 1 << 20


def make_checkpoint(directory: str, tensors: int, tensor_mb: int) -> tuple[str, int, int]:
    import ckptio

    prefix = os.path.join(directory, "model.ckpt-1")
    rows = tensor_mb * MB // (4 * 1024)
    rng = np.random.default_rng(0)
    base = rng.standard_normal((rows, 1024), dtype=np.float32)
    values = ((f"layer_{i:03d}/kernel", base + i) for i in range(tensors))
    total = tensors * base.nbytes
    ckptio.save(prefix, values, max_shard_bytes=-(-total // 8))
    return prefix, total, base.nbytes


def run(source, out_dir, client, shard_mb, storage_options=None):
    import ckptio.distributed as dist

    return dist.to_safetensors(
        source,
        out_dir,
        client=client,
        max_shard_bytes=shard_mb * MB,
        cast="bfloat16",
        overwrite=True,
        storage_options=storage_options,
        measure_memory=True,
    )


def measure(label, source, client, args, total, storage_options=None):
    times, peaks, workers = [], [], set()
    with tempfile.TemporaryDirectory(prefix="ckptio-bench-out-") as out:
        run(source, out, client, args.shard_mb, storage_options)  # warm-up
        for _ in range(args.reps):
            started = time.perf_counter()
            report = run(source, out, client, args.shard_mb, storage_options)
            times.append(time.perf_counter() - started)
            peaks.extend(t["peak_memory"] or 0 for t in report.tasks)
            workers.update(report.workers)
    seconds = statistics.median(times)
    return {
        "engine": label,
        "seconds": seconds,
        "mb_per_s": total / MB / seconds,
        "tasks": len(report.tasks),
        "workers_used": len(workers),
        "peak_task_memory_mb": max(peaks) / MB,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tensors", type=int, default=48)
    parser.add_argument("--tensor-mb", type=int, default=8)
    parser.add_argument("--shard-mb", type=int, default=16)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--sources", default="local,s3,s3-wan")
    parser.add_argument("--latency-ms", type=float, default=30.0)
    parser.add_argument("--stream-mbps", type=float, default=50.0)
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    from dask.distributed import Client, LocalCluster

    rows = []
    with tempfile.TemporaryDirectory(prefix="ckptio-bench-src-") as directory:
        prefix, total, largest = make_checkpoint(directory, args.tensors, args.tensor_mb)
        print(
            f"checkpoint: {args.tensors} float32 tensors of {largest / MB:.0f} MB "
            f"({total / MB:.0f} MB, 8 shards); output: bfloat16 safetensors, "
            f"<= {args.shard_mb} MB per file",
            flush=True,
        )
        sources = []
        server = None
        if "local" in args.sources:
            sources.append(("local", prefix, None))
        kinds = args.sources.split(",")
        if "s3" in kinds or "s3-wan" in kinds:
            from test_remote import BUCKET, CREDENTIALS, S3Server

            os.environ.update(CREDENTIALS)
            server = S3Server().start()
            os.environ["AWS_ENDPOINT_URL"] = server.endpoint  # workers inherit it
            server.fs().mkdir(BUCKET)
            url = server.upload(prefix, "run/model.ckpt-1")
            sources += [
                (kind, url, server.storage_options) for kind in ("s3", "s3-wan") if kind in kinds
            ]
        for name, source, options in sources:
            if server is not None:
                wan = name == "s3-wan"
                server.recorder.latency = args.latency_ms / 1000 if wan else 0.0
                server.recorder.stream_rate = args.stream_mbps * MB if wan else 0.0
            for n in (1, 2):
                cluster = LocalCluster(
                    n_workers=n,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    host="127.0.0.1",
                    memory_limit=0,
                )
                with cluster, Client(cluster) as client:
                    row = measure(f"dask, {n} worker(s)", source, client, args, total, options)
                rows.append({"source": name, **row})
                print(rows[-1], flush=True)
            row = measure("threads (default), 2", source, None, args, total, options)
            rows.append({"source": name, **row})
            print(rows[-1], flush=True)
        if server is not None:
            server.stop()
    base = {r["source"]: r["seconds"] for r in rows if r["engine"].startswith("dask, 1")}
    print()
    print("| source | engine | tasks | wall time | throughput | vs 1 worker | peak task memory |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        speedup = base[r["source"]] / r["seconds"]
        print(
            f"| {r['source']} | {r['engine']} | {r['tasks']} | {r['seconds']:.2f} s | "
            f"{r['mb_per_s']:.0f} MB/s | {speedup:.2f}x | {r['peak_task_memory_mb']:.1f} MB |"
        )
    print(
        f"\nlargest tensor: {largest / MB:.0f} MB (float32), {largest / 2 / MB:.0f} MB as "
        f"bfloat16; s3-wan: {args.latency_ms:.0f} ms latency, {args.stream_mbps:.0f} MB/s per "
        "response"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "largest_tensor": largest}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
