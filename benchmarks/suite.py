"""The performance table: every row timed for ckptio, TensorFlow and the row's physical floor in
the same run, sides alternating, medians; JSON next to the human table.

    python benchmarks/suite.py [--data-dir /tmp/ckptio-bench] [--reps 5] [--cold-reps 3]
                               [--only ROW ... | --rows shapes,ls] [--quick]
                               [--json benchmarks/results.json]

Then ``python benchmarks/report.py`` puts the table into README.md (between its markers).

Rows, each with its floor (what no reader on this machine can beat) and how it is measured:

* ``shapes`` / ``dtypes``: open + shape map / dtype map of a 20,000-key checkpoint (written by
  TF), in process, warm. Floor: reading the .index file into memory.
* ``ls``: ``ckptio ls --json`` on a 20,000-key checkpoint, whole process, against TF loading the
  checkpoint and printing its shape map as JSON. Floor: the bare interpreter (``python -c
  pass``), which no Python command can beat.
* ``read_cold``: read every tensor of a ~2.16 GB checkpoint into fresh arrays with its CRC
  checked (``get_tensor(copy=True, verify=True)``; TF ``get_tensor``), page cache dropped before
  each run (``echo 3 > /proc/sys/vm/drop_caches`` as root; otherwise fadvise(DONTNEED) per
  file, which is said in the table). Floor: 4 threads ``pread``-ing the shard in 16 MiB blocks
  into reused buffers (no CRC, no arrays); one sequential stream is reported beside it, and a
  second floor, the same reads into a new ``np.empty`` array per tensor (`pread_into_arrays`:
  what handing out fresh arrays costs on top of the disk, whoever reads), with ckptio's
  fraction of it. CPU time per run is printed for each side: on a shared machine a run that
  needs more CPU than its share stretches with the other processes' load.
* ``read_warm``: the same with the files cached. Floor: two threads copying halves of the
  mapped shard into fresh memory (``memmove``, no CRC), 64 MiB at a time, each piece into a
  buffer of its own (see `parallel_copy`).
* ``compat``: ``list_variables`` then ``load_variable(path, name)`` for each name (what
  transformers' TF loaders do) on a BERT-base-size checkpoint (~440 MB, written by TF), warm;
  ckptio's reader cache is cleared before each run, so every run opens once. Floor: the copy
  floor above for this checkpoint's shard.
* ``write``: 64 float32 tensors of 16 MiB (1 GiB) held in memory, written as a V2 bundle
  (``ckptio.save``; TF ``SaveV2``), no fsync on either side, ``os.sync()`` before each run.
  Floor: a plain ``write()`` of the same bytes into one file.

Timings are not tests: nothing here fails on a number. On a shared machine check the
"other processes" line first.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import mmap
import os
import platform
import resource
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_cli
import bench_read

MB = 1 << 20
FRESH_FLOOR = "floor into new arrays"
ROWS = ("shapes", "dtypes", "ls", "read_cold", "read_warm", "compat", "write")
TARGETS = {  # row: (min ratio over TF, min fraction of the floor's speed)
    "shapes": (5.0, None),
    "dtypes": (5.0, None),
    "ls": (40.0, None),
    "read_cold": (2.0, 0.8),
    "read_warm": (None, 0.9),
    "compat": (2.0, None),
    "write": (1.5, 0.8),
}


# ------------------------------------------------------------------------------------------
# Checkpoints
# ------------------------------------------------------------------------------------------


def bert_base_plan() -> list[tuple[str, tuple[int, ...]]]:
    """Names and shapes of BERT-base's TF checkpoint (~110M float32 parameters, ~440 MB)."""
    h, ff = 768, 3072
    plan = [
        ("bert/embeddings/word_embeddings", (30522, h)),
        ("bert/embeddings/position_embeddings", (512, h)),
        ("bert/embeddings/token_type_embeddings", (2, h)),
        ("bert/embeddings/LayerNorm/gamma", (h,)),
        ("bert/embeddings/LayerNorm/beta", (h,)),
    ]
    for i in range(12):
        p = f"bert/encoder/layer_{i}"
        for part in ("query", "key", "value"):
            plan += [(f"{p}/attention/self/{part}/kernel", (h, h))]
            plan += [(f"{p}/attention/self/{part}/bias", (h,))]
        plan += [(f"{p}/attention/output/dense/kernel", (h, h))]
        plan += [(f"{p}/attention/output/dense/bias", (h,))]
        plan += [(f"{p}/attention/output/LayerNorm/gamma", (h,))]
        plan += [(f"{p}/attention/output/LayerNorm/beta", (h,))]
        plan += [
            (f"{p}/intermediate/dense/kernel", (h, ff)),
            (f"{p}/intermediate/dense/bias", (ff,)),
        ]
        plan += [(f"{p}/output/dense/kernel", (ff, h)), (f"{p}/output/dense/bias", (h,))]
        plan += [(f"{p}/output/LayerNorm/gamma", (h,)), (f"{p}/output/LayerNorm/beta", (h,))]
    plan += [("bert/pooler/dense/kernel", (h, h)), ("bert/pooler/dense/bias", (h,))]
    return plan


def ensure_bert(data_dir: Path, tf: Any) -> str:
    prefix = data_dir / "bert-base" / "model.ckpt"
    if not Path(str(prefix) + ".index").exists():
        print("writing a BERT-base-size checkpoint with TensorFlow ...", flush=True)
        prefix.parent.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(3)
        plan = bert_base_plan()
        tf.raw_ops.SaveV2(
            prefix=str(prefix),
            tensor_names=[n for n, _ in plan],
            shape_and_slices=[""] * len(plan),
            tensors=[tf.constant(rng.standard_normal(s, dtype=np.float32)) for _, s in plan],
        )
        past = time.time() - 60  # as a downloaded checkpoint: not modified a moment ago
        for f in prefix.parent.iterdir():
            os.utime(f, (past, past))
    return str(prefix)


# ------------------------------------------------------------------------------------------
# Floors
# ------------------------------------------------------------------------------------------


def data_files(prefix: str) -> list[str]:
    return [f for f in bench_read.checkpoint_files(prefix) if not f.endswith(".index")]


def parallel_pread(files: Sequence[str], threads: int = 4, block: int = 16 * MB) -> None:
    """Read the files with `threads` threads taking 16 MiB blocks in order (os.preadv releases
    the GIL), each into a reused buffer: the disk's parallel rate, nothing else paid."""
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        size = os.fstat(fd).st_size
        offsets = iter(range(0, size, block))
        lock = threading.Lock()

        def work(fd: int = fd, offsets: Any = offsets, lock: threading.Lock = lock) -> None:
            reused = bytearray(block)
            while True:
                with lock:
                    at = next(offsets, None)
                if at is None:
                    return
                os.preadv(fd, [reused], at)

        pool = [threading.Thread(target=work) for _ in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        os.close(fd)


def pread_into_arrays(
    tensors: Sequence[tuple[str, int, int]], threads: int = 4, block: int = 16 * MB
) -> None:
    """The same reads into new arrays: every (file, offset, nbytes) tensor, in file order, into
    an `np.empty` array of its size, dropped once its last block is in. 4 threads take 16 MiB
    blocks in order across tensor boundaries (no CRC, no per-tensor wait). This is what any
    read-all handing out fresh numpy arrays pays at least: the disk floor plus the arrays' new
    memory (page faults and zeroing; the allocator recycles some of it, as for any reader)."""
    order = sorted((t for t in tensors if t[2] > 0), key=lambda t: (t[0], t[1]))
    blocks = iter([(i, at) for i, (_, _, n) in enumerate(order) for at in range(0, n, block)])
    left = {i: -(-n // block) for i, (_, _, n) in enumerate(order)}
    arrays: dict[int, np.ndarray] = {}
    lock = threading.Lock()
    fds = {path: os.open(path, os.O_RDONLY) for path in {t[0] for t in order}}

    def work() -> None:
        while True:
            with lock:
                taken = next(blocks, None)
                if taken is None:
                    return
                i, at = taken
                path, offset, n = order[i]
                if i not in arrays:
                    arrays[i] = np.empty(n, np.uint8)
                dst = arrays[i][at : at + block]
            os.preadv(fds[path], [dst], offset + at)
            del dst
            with lock:
                left[i] -= 1
                if left[i] == 0:
                    del arrays[i]

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    for fd in fds.values():
        os.close(fd)


_memmove = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)(
    ctypes.cast(ctypes.CDLL(None).memmove, ctypes.c_void_p).value
)  # a CFUNCTYPE call releases the GIL, unlike ctypes.memmove


MADV_POPULATE_READ = 22  # Linux 5.14: map a range in one call, no page fault per few pages


def parallel_copy(files: Sequence[str], piece: int = 64 * MB) -> None:
    """Two threads copying halves of each freshly mapped file into fresh memory, each half
    mapped first with MADV_POPULATE_READ (the cheapest way to touch a fresh mapping). The copy
    goes in 64 MiB pieces, each into a buffer of its own dropped right after, as a read-all
    that drops its arrays: one 2 GB destination would instead measure how fast the kernel can
    find 2 GB of free pages."""
    for path in files:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            m = mmap.mmap(f.fileno(), size, prot=mmap.PROT_READ)
        view = np.frombuffer(m, dtype=np.uint8)
        src = view.ctypes.data

        def copy(at: int, n: int, dst: int, m: mmap.mmap = m, src: int = src) -> None:
            with contextlib.suppress(OSError):
                m.madvise(MADV_POPULATE_READ, at, n)
            _memmove(dst, src + at, n)

        for start in range(0, size, piece):
            n = min(piece, size - start)
            dst = np.empty(n, dtype=np.uint8)
            half = n // 2 & ~4095
            base = dst.ctypes.data
            t = threading.Thread(target=copy, args=(start + half, n - half, base + half))
            t.start()
            copy(start, half, base)
            t.join()
            del dst
        del view
        m.close()


# ------------------------------------------------------------------------------------------
# Timing
# ------------------------------------------------------------------------------------------


def balanced_orders(n: int) -> list[list[int]]:
    """Orders of range(n) in which each i directly follows each other j equally often (a
    Williams design, as crossover trials use against carry-over): n orders for even n, 2n for
    odd n."""
    first = [0]
    for step in range(1, n):
        first.append((first[-1] + (step if step % 2 else -step)) % n)
    orders = [[(i + shift) % n for i in first] for shift in range(n)]
    if n % 2:
        orders += [order[::-1] for order in orders]
    return orders


def alternate(
    fns: dict[str, Callable[[], Any]],
    reps: int,
    *,
    before: Callable[[], None] | None = None,
    warmup: bool = True,
    cpu: dict[str, list[float]] | None = None,
) -> dict[str, list[float]]:
    """Times of each fn, repetitions interleaved across them (load hits all alike), in the
    orders of `balanced_orders`: what ran just before a run changes it (the memory it freed,
    the disk's state), by up to 0.4 s in a 2 s cold read on the development VM, so every fn
    follows every other equally often. (Rotating one fixed order, as before, left each fn
    after the same one in nearly every repetition.) With `cpu`, also the CPU time (user +
    system, all threads) each run used: on a shared machine a run needing more CPU than its
    share stretches by the other processes' load."""
    if warmup:
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    names = list(fns)
    orders = balanced_orders(len(names))
    for rep in range(reps):
        for j in orders[rep % len(orders)]:
            k = names[j]
            fn = fns[k]
            gc.collect()
            if before is not None:
                before()
            c0 = resource.getrusage(resource.RUSAGE_SELF)
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
            if cpu is not None:
                c1 = resource.getrusage(resource.RUSAGE_SELF)
                used = c1.ru_utime - c0.ru_utime + c1.ru_stime - c0.ru_stime
                cpu.setdefault(k, []).append(used)
    return times


def row(
    name: str,
    what: str,
    floor_what: str,
    times: dict[str, list[float]],
    nbytes: int = 0,
    cpu: dict[str, list[float]] | None = None,
) -> dict[str, Any]:
    med = {k: statistics.median(v) for k, v in times.items()}
    ck, tf, floor = med["ckptio"], med.get("tf"), med.get("floor")
    min_ratio, min_floor = TARGETS[name]
    r: dict[str, Any] = {
        "row": name,
        "what": what,
        "floor_what": floor_what,
        "ckptio_s": ck,
        "tf_s": tf,
        "floor_s": floor,
        "extra_s": {k: v for k, v in med.items() if k not in ("ckptio", "tf", "floor")},
        "runs_s": times,
        "nbytes": nbytes or None,
        "ratio_tf": tf / ck if tf else None,
        # How close to the floor: floor time / ckptio time (1.0 = at the floor).
        "of_floor": floor / ck if floor else None,
        "target_ratio_tf": min_ratio,
        "target_of_floor": min_floor,
        "cpu_s": {k: statistics.median(v) for k, v in (cpu or {}).items()},
    }
    met = []
    if min_ratio is not None:
        met.append(r["ratio_tf"] is not None and r["ratio_tf"] >= min_ratio)
    if min_floor is not None:
        met.append(r["of_floor"] is not None and r["of_floor"] >= min_floor)
    r["met"] = all(met)
    return r


def fmt(s: float | None, nbytes: int | None = None) -> str:
    if s is None:
        return "-"
    t = f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"
    return t + (f" ({nbytes / s / 1e9:.2f} GB/s)" if nbytes else "")


def print_table(rows: list[dict[str, Any]]) -> None:
    head = ("row", "ckptio", "TF", "floor", "TF/ckptio", "floor/ckptio", "target", "met")
    cells = [head]
    for r in rows:
        tr, tf_ = r["target_ratio_tf"], r["target_of_floor"]
        target = " & ".join(
            x for x in (f">={tr:g}x TF" if tr else "", f">={tf_:g} floor" if tf_ else "") if x
        )
        cells.append(
            (
                r["row"],
                fmt(r["ckptio_s"], r["nbytes"]),
                fmt(r["tf_s"], r["nbytes"]),
                fmt(r["floor_s"], r["nbytes"]),
                f"{r['ratio_tf']:.2f}x" if r["ratio_tf"] else "-",
                f"{r['of_floor']:.2f}" if r["of_floor"] else "-",
                target,
                "yes" if r["met"] else "NO",
            )
        )
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    for k, c in enumerate(cells):
        print("  ".join(c[i].ljust(widths[i]) for i in range(len(c))).rstrip())
        if k == 0:
            print("-" * (sum(widths) + 2 * len(widths)))
    for r in rows:
        extra = ", ".join(f"{k} {fmt(v, r['nbytes'])}" for k, v in r["extra_s"].items())
        fresh = r["extra_s"].get(FRESH_FLOOR)
        if fresh:
            extra += f" (ckptio reaches {fresh / r['ckptio_s']:.2f} of it)"
        print(
            f"  {r['row']}: {r['what']}; floor: {r['floor_what']}" + (f"; {extra}" if extra else "")
        )
        if r.get("cpu_s"):
            used = ", ".join(f"{k} {v:.2f} s" for k, v in r["cpu_s"].items())
            print(f"    CPU time per run (median, this process's threads): {used}")


# ------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default="/tmp/ckptio-bench", help="checkpoint cache")
    p.add_argument("--reps", type=int, default=5, help="warm repetitions per side")
    p.add_argument("--cold-reps", type=int, default=3, help="cold repetitions per side")
    p.add_argument("--ls-reps", type=int, default=11, help="ls repetitions (TF: 5)")
    p.add_argument("--only", nargs="+", choices=ROWS, default=list(ROWS))
    p.add_argument("--rows", help="comma-separated rows to time (same as --only), e.g. shapes,ls")
    p.add_argument(
        "--quick",
        action="store_true",
        help="fewer repetitions (warm 3, cold 1, ls 5, index rows 5): the table in minutes",
    )
    p.add_argument("--json", default=str(Path(__file__).with_name("results.json")))
    args = p.parse_args(argv)
    if args.rows:
        args.only = [r.strip() for r in args.rows.split(",") if r.strip()]
        unknown = sorted(set(args.only) - set(ROWS))
        if unknown:
            p.error(f"unknown rows {', '.join(unknown)} (rows: {', '.join(ROWS)})")
    # Millisecond rows: a run's time depends on what ran before it (which memory it freed),
    # in two modes about 4 ms apart on the development VM; many cheap runs keep the median in
    # one place.
    index_reps = max(args.reps, 21)
    if args.quick:
        args.reps, args.cold_reps, args.ls_reps, index_reps = 3, 1, 5, 5
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with bench_read.quiet_stderr():
        import tensorflow as tf
    import ckptio
    from ckptio import compat

    load = bench_read.ForeignLoad()
    cache = bench_read.PageCache()
    cold_how = (
        "echo 3 > /proc/sys/vm/drop_caches (root) + fadvise(DONTNEED)"
        if cache.global_drop
        else "fadvise(DONTNEED) per file only (not root: other cached files stay)"
    )
    t_start = time.perf_counter()
    rows: list[dict[str, Any]] = []

    many = bench_read.ensure_checkpoint(data_dir, "many", 20000)
    many_index = many + ".index"

    def read_index() -> None:
        with open(many_index, "rb") as f:
            f.read()

    if "shapes" in args.only:
        print("timing open + shape map ...", flush=True)

        def ck_shapes() -> None:
            with ckptio.open(many) as c:
                c.shapes()

        times = alternate(
            {
                "ckptio": ck_shapes,
                "tf": lambda: tf.train.load_checkpoint(many).get_variable_to_shape_map(),
                "floor": read_index,
            },
            index_reps,
        )
        rows.append(row("shapes", "open + shape map, 20,000 keys", "read the .index file", times))

    if "dtypes" in args.only:
        print("timing open + dtype map ...", flush=True)

        def ck_dtypes() -> None:
            with ckptio.open(many) as c:
                c.dtypes()

        times = alternate(
            {
                "ckptio": ck_dtypes,
                "tf": lambda: tf.train.load_checkpoint(many).get_variable_to_dtype_map(),
                "floor": read_index,
            },
            index_reps,
        )
        rows.append(row("dtypes", "open + dtype map, 20,000 keys", "read the .index file", times))

    if "ls" in args.only:
        print("timing ckptio ls --json (whole process) ...", flush=True)
        cli_ckpt = bench_cli.ensure_checkpoint(data_dir, 20000)
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(data_dir / "pycache")
        commands = {
            "ckptio": [*bench_cli.ckptio_command(), "ls", "--json", cli_ckpt],
            "tf": [sys.executable, "-c", bench_cli.TF_SCRIPT, cli_ckpt],
            "floor": [sys.executable, "-c", "pass"],
            "python -c 'import numpy'": [sys.executable, "-c", "import numpy"],
            # Detail, not a floor: what ckptio's command pays for its imports alone.
            "imports only (python -c 'import ckptio.cli')": [
                sys.executable,
                "-c",
                "import ckptio.cli",
            ],
        }
        for argv_ in commands.values():  # warm-up: page cache, .pyc files
            bench_cli.run_once(argv_, env)
        times = {k: [] for k in commands}
        for i in range(args.ls_reps):
            for k, argv_ in commands.items():
                if k == "tf" and i >= (2 if args.quick else 5):
                    continue  # TF takes seconds a run; 5 runs give a steady median
                times[k].append(bench_cli.run_once(argv_, env)[0])
        rows.append(
            row(
                "ls",
                "`ckptio ls --json`, 20,000 keys, whole process",
                "bare interpreter start (`python -c pass`)",
                times,
            )
        )

    if "read_cold" in args.only or "read_warm" in args.only:
        big = bench_read.ensure_checkpoint(data_dir, "big", int(2.0 * bench_read.GB))
        with ckptio.open(big) as c:
            big_names = list(c)
            big_tensors = [(loc.path, loc.offset, loc.size) for loc in map(c.location, big_names)]
        big_files = bench_read.checkpoint_files(big)
        big_data = data_files(big)
        nbytes = sum(os.path.getsize(f) for f in big_data)

        def ck_read() -> None:
            with ckptio.open(big) as c:
                for n in big_names:
                    c.get_tensor(n, copy=True, verify=True)

        def tf_read() -> None:
            r = tf.train.load_checkpoint(big)
            for n in big_names:
                r.get_tensor(n)

        if "read_cold" in args.only:
            print("timing cold read-all (page cache dropped before each run) ...", flush=True)
            cpu: dict[str, list[float]] = {}
            times = alternate(
                {
                    "ckptio": ck_read,
                    "tf": tf_read,
                    "floor": lambda: parallel_pread(big_data),
                    FRESH_FLOOR: lambda: pread_into_arrays(big_tensors),
                    "one sequential stream": lambda: bench_read.read_files(big_data),
                    "ckptio verify()": lambda: ckptio.open(big).verify(),
                },
                args.cold_reps,
                before=lambda: cache.drop(big_files),
                warmup=False,
                cpu=cpu,
            )
            rows.append(
                row(
                    "read_cold",
                    f"read {nbytes / 1e9:.2f} GB, fresh verified copies, cold ({cold_how})",
                    "4 threads pread 16 MiB blocks",
                    times,
                    nbytes,
                    cpu,
                )
            )
        if "read_warm" in args.only:
            print("timing warm read-all ...", flush=True)
            cpu = {}
            times = alternate(
                {
                    "ckptio": ck_read,
                    "tf": tf_read,
                    "floor": lambda: parallel_copy(big_data),
                    "ckptio verify()": lambda: ckptio.open(big).verify(),
                },
                args.reps,
                cpu=cpu,
            )
            rows.append(
                row(
                    "read_warm",
                    f"read {nbytes / 1e9:.2f} GB, fresh verified copies, warm",
                    "2 threads copy halves of the mapped shard into fresh memory, 64 MiB pieces",
                    times,
                    nbytes,
                    cpu,
                )
            )

    if "compat" in args.only:
        print("timing list_variables + load_variable per name ...", flush=True)
        bert = ensure_bert(data_dir, tf)
        bert_data = data_files(bert)
        nbytes = sum(os.path.getsize(f) for f in bert_data)

        def ck_compat() -> None:
            compat.clear_cache()  # every run pays for one open
            for n, _ in compat.list_variables(bert):
                compat.load_variable(bert, n)

        def tf_compat() -> None:
            for n, _ in tf.train.list_variables(bert):
                tf.train.load_variable(bert, n)

        cpu = {}
        times = alternate(
            {"ckptio": ck_compat, "tf": tf_compat, "floor": lambda: parallel_copy(bert_data)},
            args.reps,
            cpu=cpu,
        )
        compat.clear_cache()
        rows.append(
            row(
                "compat",
                f"list_variables + load_variable per name, BERT-base ({nbytes / 1e6:.0f} MB)",
                "2 threads copy the mapped shard into fresh memory",
                times,
                nbytes,
                cpu,
            )
        )

    if "write" in args.only:
        print("timing write 1 GiB ...", flush=True)
        out_dir = data_dir / "write-out"
        shutil.rmtree(out_dir, ignore_errors=True)
        out_dir.mkdir(parents=True)
        rng = np.random.default_rng(0)
        arrays = {
            f"layer_{i:03d}/kernel": rng.standard_normal(4 * MB, np.float32) for i in range(64)
        }
        names = list(arrays)
        tf_tensors = [tf.constant(arrays[n]) for n in names]
        nbytes = sum(a.nbytes for a in arrays.values())
        tf_prefix, ck_prefix, plain = (str(out_dir / n) for n in ("tf", "ck", "plain.bin"))

        def remove(prefix: str) -> None:
            for f in out_dir.glob(Path(prefix).name + "*"):
                f.unlink()

        def before() -> None:
            for prefix in (tf_prefix, ck_prefix, plain):
                remove(prefix)
            os.sync()  # no writeback of the previous run queued ahead of this one

        def plain_write() -> None:
            with open(plain, "wb") as f:
                for n in names:
                    f.write(arrays[n].data)

        times = alternate(
            {
                "ckptio": lambda: ckptio.save(ck_prefix, arrays),
                "tf": lambda: tf.raw_ops.SaveV2(
                    prefix=tf_prefix,
                    tensor_names=names,
                    shape_and_slices=[""] * len(names),
                    tensors=tf_tensors,
                ),
                "floor": plain_write,
            },
            args.reps,
            before=before,
        )
        shutil.rmtree(out_dir, ignore_errors=True)
        rows.append(
            row(
                "write",
                "write 1 GiB (64 x 16 MiB float32), no fsync",
                "plain write() of the same bytes to one file",
                times,
                nbytes,
            )
        )

    elapsed = time.perf_counter() - t_start
    foreign = load.fraction()
    machine = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
        "loadavg_end": os.getloadavg(),
        "other_processes_cpu_fraction": foreign,
    }
    print()
    print_table(rows)
    print(
        f"\n{elapsed:.0f} s; other processes used {foreign:.0%} of the CPUs meanwhile; "
        f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    old = {}
    if Path(args.json).exists():  # rows not rerun (--only) keep their last result
        try:
            old = {r["row"]: r for r in json.loads(Path(args.json).read_text())["rows"]}
        except (ValueError, KeyError):
            old = {}
    old.update({r["row"]: r for r in rows})
    ordered = [old[k] for k in ROWS if k in old]
    out = {"machine": machine, "cold_method": cold_how, "elapsed_s": elapsed, "rows": ordered}
    Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
