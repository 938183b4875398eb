"""Read benchmark: ckptio against TensorFlow's own checkpoint reader, in the same run.

    python benchmarks/bench_read.py [--data-dir DIR] [--size-gb 2] [--keys 20000] [--quick]
                                    [--reps N] [--cold-reps N] [--no-cold] [--json out.json]

Two checkpoints are written once with TensorFlow (in a subprocess) and cached in --data-dir:

* a large V2 checkpoint (--size-gb, default 2 GB): a few hundred float32 kernels of 1-64 MB,
  one small bias per kernel, a few layer-norm vectors and an int64 step counter;
* a many-keys checkpoint (--keys, default 20,000) of small tensors named like
  ``model/layer_123/conv_4/kernel``.

Then, each as the median of several repetitions, ckptio and ``tf.train.load_checkpoint``:

* interpreter start + import (``python -c "import X"``, subprocess wall time);
* open + shape map / dtype map of the many-keys checkpoint;
* zero-copy access of every tensor (ckptio ``ckpt[name]``) against TF ``get_tensor`` (which
  always copies), reader already open, in microseconds per tensor (ckptio walks the names
  until it has made at least 20,000 calls per run);
* read-all with copy + CRC verify (ckptio ``get_tensor(copy=True, verify=True)``) against TF's
  ``get_tensor`` loop (TF always copies and checks CRCs); open is included, arrays are dropped
  as soon as they are read;
* ``ckpt.verify()`` of the whole checkpoint (against the same TF read-all loop, the only way TF
  checks every CRC);
* for reference, a plain sequential ``read()`` of the data files (the I/O ceiling).

Warm rows run once untimed before the timed repetitions. Cold rows drop the checkpoint's pages
before every repetition (fsync + ``posix_fadvise(DONTNEED)`` on each file, plus
``/proc/sys/vm/drop_caches`` when writable) and report how much of it was still resident.
Repetitions of ckptio and TF alternate. Targets apply to the warm rows. The run ends with the
share of CPU time other processes took meanwhile: on a shared machine that is the first thing
to check when numbers look odd (``nice -n -20`` helps a little).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import glob
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

GENERATOR_VERSION = 1
MB = 1 << 20
GB = 1 << 30

# Keep TensorFlow's start-up chatter out of the table (both in subprocesses and in-process).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


# --------------------------------------------------------------------------------------------
# Checkpoint generation (runs in a subprocess: `bench_read.py _generate KIND DIR PARAM`)
# --------------------------------------------------------------------------------------------


def plan_big(size_bytes: int, seed: int = 0) -> list[tuple[str, str, tuple[int, ...]]]:
    """(name, dtype, shape) of a transformer-like checkpoint of about size_bytes."""
    rng = np.random.default_rng(seed)
    kinds = (
        "attention/query",
        "attention/key",
        "attention/value",
        "attention/output",
        "mlp/dense_in",
        "mlp/dense_out",
    )
    specs: list[tuple[str, str, tuple[int, ...]]] = [("global_step", "int64", ())]
    total = 0
    i = 0
    while total < size_bytes:
        block, kind = divmod(i, len(kinds))
        scope = f"model/block_{block:03d}/{kinds[kind]}"
        # 1..64 MB, skewed towards the small end (mean ~9 MB: ~220 kernels for 2 GB).
        nbytes = min(size_bytes - total, int(MB * 2 ** (6 * rng.random() ** 2)))
        cols = int(rng.choice([512, 1024, 2048]))
        rows = max(1, nbytes // (4 * cols))
        specs.append((f"{scope}/kernel", "float32", (rows, cols)))
        specs.append((f"{scope}/bias", "float32", (cols,)))
        total += 4 * cols * (rows + 1)
        if kind == len(kinds) - 1:
            for ln in ("layer_norm_1", "layer_norm_2"):
                specs.append((f"model/block_{block:03d}/{ln}/gamma", "float32", (1024,)))
                specs.append((f"model/block_{block:03d}/{ln}/beta", "float32", (1024,)))
        i += 1
    return specs


def plan_many_keys(n: int, seed: int = 0) -> list[tuple[str, str, tuple[int, ...]]]:
    """n small tensors: conv kernels, biases and batch-norm statistics of a deep CNN."""
    rng = np.random.default_rng(seed)
    variables = ("kernel", "bias", "bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance")
    specs: list[tuple[str, str, tuple[int, ...]]] = [("global_step", "int64", ())]
    layer = 0
    while len(specs) < n:
        for conv in range(8):
            cin, cout = (int(c) for c in rng.choice([4, 8, 16, 32], size=2))
            for var in variables:
                shape = (3, 3, cin, cout) if var == "kernel" else (cout,)
                specs.append((f"model/layer_{layer:03d}/conv_{conv}/{var}", "float32", shape))
        layer += 1
    return specs[:n]


def generate(kind: str, out_dir: str, param: int) -> None:
    """Write one checkpoint with tf.raw_ops.SaveV2 (one call: one bundle, one data shard)."""
    import tensorflow as tf

    specs = plan_big(param) if kind == "big" else plan_many_keys(param)
    rng = np.random.default_rng(1)
    names, tensors = [], []
    for name, dtype, shape in specs:
        if dtype == "int64":
            arr = np.asarray(rng.integers(0, 1 << 40, size=shape), dtype=np.int64)
        else:
            arr = rng.standard_normal(shape, dtype=np.float32)
        names.append(name)
        tensors.append(tf.constant(arr))  # TF's copy; the numpy array goes right away
        del arr
    prefix = os.path.join(out_dir, "ckpt")
    tf.raw_ops.SaveV2(
        prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names), tensors=tensors
    )


def ensure_checkpoint(data_dir: Path, kind: str, param: int) -> str:
    """The prefix of the cached checkpoint, generating it (in a subprocess) when missing."""
    label = f"big-{param // MB}mb" if kind == "big" else f"keys-{param}"
    final = data_dir / label
    meta_path = final / "meta.json"
    want = {"kind": kind, "param": param, "generator": GENERATOR_VERSION}
    if meta_path.exists():
        try:
            if json.loads(meta_path.read_text()) == want:
                return str(final / "ckpt")
        except ValueError:
            pass
    tmp = data_dir / (label + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(final, ignore_errors=True)
    tmp.mkdir(parents=True)
    print(f"generating {final} with TensorFlow ...", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "_generate", kind, str(tmp), str(param)],
        stderr=subprocess.PIPE,
        text=True,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"generating {final} failed (exit status {proc.returncode})")
    for f in tmp.iterdir():  # make the data durable so later page-cache drops are real
        fd = os.open(f, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    (tmp / "meta.json").write_text(json.dumps(want))
    tmp.rename(final)
    print(f"  done in {time.perf_counter() - t0:.1f} s", flush=True)
    return str(final / "ckpt")


# --------------------------------------------------------------------------------------------
# Page cache control
# --------------------------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [
    ctypes.c_void_p,
    ctypes.c_size_t,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_long,
]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]


def checkpoint_files(prefix: str) -> list[str]:
    return sorted(glob.glob(prefix + ".index") + glob.glob(prefix + ".data-*"))


def resident_fraction(files: Sequence[str]) -> float:
    """Fraction of the files' pages in the page cache (mincore; maps without touching)."""
    page = os.sysconf("SC_PAGE_SIZE")
    resident = total = 0
    for path in files:
        size = os.path.getsize(path)
        if size == 0:
            continue
        fd = os.open(path, os.O_RDONLY)
        try:
            addr = _libc.mmap(None, size, 1, 1, fd, 0)  # PROT_READ, MAP_SHARED
            if addr in (None, ctypes.c_void_p(-1).value):
                return float("nan")
            try:
                npages = (size + page - 1) // page
                vec = ctypes.create_string_buffer(npages)
                if _libc.mincore(addr, size, vec) != 0:
                    return float("nan")
                resident += sum(b & 1 for b in vec.raw)
                total += npages
            finally:
                _libc.munmap(addr, size)
        finally:
            os.close(fd)
    return resident / total if total else 0.0


def drop_caches_writable() -> bool:
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("1")
        return True
    except OSError:
        return False


class PageCache:
    def __init__(self) -> None:
        self.global_drop = drop_caches_writable()

    def drop(self, files: Sequence[str]) -> None:
        gc.collect()  # dead arrays may still hold a mapping of a shard: mapped pages stay cached
        for path in files:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
        if self.global_drop:
            with open("/proc/sys/vm/drop_caches", "w") as f:
                f.write("1")


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------


@dataclass
class Timing:
    times: list[float] = field(default_factory=list)
    resident_before: list[float] = field(default_factory=list)  # cold runs only

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def run_timed(
    fn: Callable[[], Any],
    reps: int,
    *,
    cold: bool = False,
    cache: PageCache | None = None,
    files: Sequence[str] = (),
    warmup: bool = True,
) -> Timing:
    """Median-able timings of fn. Warm: one untimed run first. Cold: drop the cache each time."""
    t = Timing()
    if warmup and not cold:
        fn()
    for _ in range(reps):
        if cold:
            assert cache is not None
            cache.drop(files)
            t.resident_before.append(resident_fraction(files))
        else:
            gc.collect()
        t0 = time.perf_counter()
        fn()
        t.times.append(time.perf_counter() - t0)
    return t


def run_pair(
    fn_a: Callable[[], Any],
    fn_b: Callable[[], Any],
    reps: int,
    *,
    cold: bool = False,
    cache: PageCache | None = None,
    files: Sequence[str] = (),
) -> tuple[Timing, Timing]:
    """run_timed for two contenders, repetitions interleaved (a, b, a, b, ...) so that a
    change in background load hits both alike."""
    a, b = Timing(), Timing()
    if not cold:
        fn_a()
        fn_b()
    for _ in range(reps):
        for fn, t in ((fn_a, a), (fn_b, b)):
            one = run_timed(fn, 1, cold=cold, cache=cache, files=files, warmup=False)
            t.times += one.times
            t.resident_before += one.resident_before
    return a, b


def read_files(files: Sequence[str]) -> None:
    """Plain sequential read of whole files into one reused buffer: the I/O ceiling."""
    buf = bytearray(8 * MB)
    view = memoryview(buf)
    for path in files:
        with open(path, "rb", buffering=0) as f:
            while f.readinto(view):
                pass


def call_each(fn: Callable[[str], Any], names: Sequence[str]) -> None:
    """fn(name) for every name, dropping each result right away."""
    for n in names:
        fn(n)


def time_subprocess(code: str, reps: int) -> Timing:
    """Wall time of `python -c code` (one untimed run first to warm the page cache)."""
    cmd = [sys.executable, "-c", code]
    t = Timing()
    for i in range(reps + 1):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if i:
            t.times.append(time.perf_counter() - t0)
    return t


# --------------------------------------------------------------------------------------------
# Results table
# --------------------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    cache: str
    ckptio_s: float | None
    tf_s: float | None
    unit: str = "time"  # "time", or "per" (values are seconds per tensor)
    ratio: float | None = None  # TF / ckptio
    target: str = ""
    status: str = ""
    detail: str = ""
    ckptio: Timing | None = None
    tf: Timing | None = None


def fmt_time(s: float | None, per: bool = False) -> str:
    if s is None:
        return "-"
    if per or s < 1e-3:
        return f"{s * 1e6:.2f} us" + ("/t" if per else "")
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def gbps(nbytes: int, s: float) -> float:
    return nbytes / s / 1e9


def make_row(
    name: str,
    cache: str,
    ck: Timing | None,
    tf: Timing | None,
    *,
    per: int = 0,
    per_ck: int = 0,
    min_ratio: float | None = None,
    max_ckptio_s: float | None = None,
    detail: str = "",
) -> Row:
    per_ck = per_ck or per
    ck_s = ck.median / per_ck if (ck and per_ck) else (ck.median if ck else None)
    tf_s = tf.median / per if (tf and per) else (tf.median if tf else None)
    ratio = tf_s / ck_s if (ck_s and tf_s) else None
    target = status = ""
    if min_ratio is not None:
        target = f">= {min_ratio:g}x"
        if cache != "cold":
            status = "PASS" if ratio is not None and ratio >= min_ratio else "MISS"
        else:
            status = "(info)"
    if max_ckptio_s is not None:
        target = f"<= {max_ckptio_s * 1e6:g} us/t"
        status = "PASS" if ck_s is not None and ck_s <= max_ckptio_s else "MISS"
    return Row(
        name,
        cache,
        ck_s,
        tf_s,
        unit="per" if per else "time",
        ratio=ratio,
        target=target,
        status=status,
        detail=detail,
        ckptio=ck,
        tf=tf,
    )


def print_table(rows: list[Row]) -> None:
    header = ("benchmark", "cache", "ckptio", "TF", "TF/ckptio", "target", "status", "detail")
    cells = [header]
    for r in rows:
        per = r.unit == "per"
        cells.append(
            (
                r.name,
                r.cache,
                fmt_time(r.ckptio_s, per),
                fmt_time(r.tf_s, per),
                "-" if r.ratio is None else f"{r.ratio:.2f}x",
                r.target or "-",
                r.status or "-",
                r.detail,
            )
        )
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    right = {2, 3, 4}
    for k, c in enumerate(cells):
        line = "  ".join(
            c[i].rjust(widths[i]) if i in right else c[i].ljust(widths[i]) for i in range(len(c))
        )
        print(line.rstrip())
        if k == 0:
            print("-" * len(line.rstrip()))


# --------------------------------------------------------------------------------------------
# Machine info
# --------------------------------------------------------------------------------------------


class ForeignLoad:
    """How much CPU other processes used while the benchmark ran (they skew every number)."""

    def __init__(self) -> None:
        self.t0, self.busy0, self.own0 = time.monotonic(), self._busy(), self._own()

    @staticmethod
    def _busy() -> float:
        try:
            with open("/proc/stat") as f:
                fields = [int(x) for x in f.readline().split()[1:]]
        except OSError:
            return float("nan")
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _own() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def fraction(self) -> float:
        """Other processes' CPU time as a fraction of all cores' wall time so far."""
        wall = (time.monotonic() - self.t0) * (os.cpu_count() or 1)
        foreign = (self._busy() - self.busy0) - (self._own() - self.own0)
        return max(0.0, foreign / wall) if wall > 0 else 0.0


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 (C++ logging included) for the duration."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def machine_info(tf_version: str, global_drop: bool) -> dict[str, Any]:
    import ckptio
    from ckptio import _core

    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GB
    thp = "?"
    try:
        thp = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text().strip()
    except OSError:
        pass
    return {
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "memory_gb": round(mem_gb, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "tensorflow": tf_version,
        "ckptio": ckptio.__version__,
        "ckptio_crc32c_hardware": bool(_core.crc32c_hardware()),
        "transparent_hugepage": thp,
        "drop_caches_writable": global_drop,
    }


# --------------------------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default="bench-data", help="checkpoint cache (./bench-data)")
    p.add_argument("--size-gb", type=float, default=None, help="large checkpoint size (2)")
    p.add_argument("--keys", type=int, default=None, help="keys in the many-keys checkpoint")
    p.add_argument("--quick", action="store_true", help="~200 MB / 2,000 keys, fewer repetitions")
    p.add_argument("--reps", type=int, default=None, help="warm repetitions (5; quick: 3)")
    p.add_argument("--cold-reps", type=int, default=None, help="cold repetitions (3; quick: 2)")
    p.add_argument("--no-cold", action="store_true", help="skip the cold page cache rows")
    p.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    args = p.parse_args(argv)

    size_gb = args.size_gb if args.size_gb is not None else (0.2 if args.quick else 2.0)
    n_keys = args.keys if args.keys is not None else (2000 if args.quick else 20000)
    reps = args.reps if args.reps is not None else (3 if args.quick else 5)
    cold_reps = args.cold_reps if args.cold_reps is not None else (2 if args.quick else 3)
    small_reps = max(reps, 7)  # the cheap many-keys rows get a few more
    import_reps = 2 if args.quick else 3
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    load = ForeignLoad()

    big = ensure_checkpoint(data_dir, "big", int(size_gb * GB))
    many = ensure_checkpoint(data_dir, "keys", n_keys)
    big_files, many_files = checkpoint_files(big), checkpoint_files(many)
    big_bytes = sum(os.path.getsize(f) for f in big_files if ".data-" in f)

    # --- imports (subprocesses) -------------------------------------------------------------
    print("timing imports ...", flush=True)
    imp_none = time_subprocess("pass", import_reps)
    imp_ck = time_subprocess("import ckptio", import_reps)
    # `import ckptio` may load its reader lazily: also time what reading needs.
    imp_ck_reader = time_subprocess("import ckptio; ckptio.open", import_reps)
    imp_tf = time_subprocess("import tensorflow", import_reps)

    import ckptio

    with quiet_stderr():  # TF logs through absl before TF_CPP_MIN_LOG_LEVEL applies
        t0 = time.perf_counter()
        import tensorflow as tf

        tf_inproc_import = time.perf_counter() - t0
    cache = PageCache()
    info = machine_info(tf.__version__, cache.global_drop)

    # --- sanity: both readers see the same checkpoints ------------------------------------
    for prefix in (big, many):
        tf_shapes = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
        with ckptio.open(prefix) as ck:
            ck_shapes = ck.shapes()
        assert {k: tuple(v) for k, v in tf_shapes.items()} == ck_shapes, prefix
    with ckptio.open(big) as ck:
        big_names = list(ck.keys())
        name = max(big_names, key=lambda n: ck.info(n).nbytes)
        np.testing.assert_array_equal(ck[name], tf.train.load_checkpoint(big).get_tensor(name))
    with ckptio.open(many) as ck:
        many_names = list(ck.keys())
    n_big_large = sum(1 for n in big_names if n.endswith("/kernel"))
    print(
        f"large checkpoint: {big} ({big_bytes / GB:.2f} GiB, {len(big_names)} tensors, "
        f"{n_big_large} of 1-64 MB)\nmany-keys checkpoint: {many} ({len(many_names)} keys, "
        f"{sum(os.path.getsize(f) for f in many_files) / MB:.1f} MiB)",
        flush=True,
    )

    # --- the measured operations ----------------------------------------------------------
    def ck_open_shapes() -> None:
        with ckptio.open(many) as ck:
            ck.shapes()

    def tf_open_shapes() -> None:
        tf.train.load_checkpoint(many).get_variable_to_shape_map()

    def ck_open_dtypes() -> None:
        with ckptio.open(many) as ck:
            ck.dtypes()

    def tf_open_dtypes() -> None:
        tf.train.load_checkpoint(many).get_variable_to_dtype_map()

    def ck_read_all() -> None:
        with ckptio.open(big) as ck:
            for n in big_names:
                ck.get_tensor(n, copy=True, verify=True)

    def tf_read_all() -> None:
        r = tf.train.load_checkpoint(big)
        for n in big_names:
            r.get_tensor(n)

    def ck_verify() -> None:
        with ckptio.open(big) as ck:
            ck.verify()

    rows: list[Row] = []

    def both(
        label: str,
        ck_fn: Callable[[], Any],
        tf_fn: Callable[[], Any],
        files: Sequence[str],
        n: int,
    ) -> tuple[Timing, Timing, Timing | None, Timing | None]:
        print(f"timing {label} ...", flush=True)
        ck_w, tf_w = run_pair(ck_fn, tf_fn, n)
        ck_c = tf_c = None
        if not args.no_cold:
            ck_c, tf_c = run_pair(ck_fn, tf_fn, cold_reps, cold=True, cache=cache, files=files)
        return ck_w, tf_w, ck_c, tf_c

    rows.append(
        make_row(
            'start + import (python -c "import X")',
            "-",
            imp_ck,
            imp_tf,
            detail=f"ckptio + reader (ckptio.open) {fmt_time(imp_ck_reader.median)}; "
            f"bare interpreter {fmt_time(imp_none.median)}; "
            f"TF in-process import {fmt_time(tf_inproc_import)}",
        )
    )

    label_keys = f"open + shape map ({len(many_names):,} keys)"
    ck_w, tf_w, ck_c, tf_c = both(
        label_keys, ck_open_shapes, tf_open_shapes, many_files, small_reps
    )
    rows.append(make_row(label_keys, "warm", ck_w, tf_w, min_ratio=3))
    if ck_c:
        rows.append(make_row(label_keys, "cold", ck_c, tf_c, min_ratio=3))

    label_dt = f"open + dtype map ({len(many_names):,} keys)"
    ck_w, tf_w, ck_c, tf_c = both(label_dt, ck_open_dtypes, tf_open_dtypes, many_files, small_reps)
    rows.append(make_row(label_dt, "warm", ck_w, tf_w))
    if ck_c:
        rows.append(make_row(label_dt, "cold", ck_c, tf_c))

    # Zero-copy access: readers already open, only the per-tensor call is timed.
    print("timing zero-copy access ...", flush=True)
    for prefix, names, small in ((big, big_names, False), (many, many_names, True)):
        # ckptio's calls are so short that the name list is walked several times per run.
        walks = -(-20000 // len(names))
        with ckptio.open(prefix) as ck:
            ck_t = run_timed(
                lambda ck=ck, names=names * walks: call_each(ck.__getitem__, names), small_reps
            )
        reader = tf.train.load_checkpoint(prefix)
        tf_t = run_timed(lambda r=reader, names=names: call_each(r.get_tensor, names), reps)
        del reader
        what = f"{len(names):,} keys" if small else f"{big_bytes / GB:.2f} GiB, {len(names)} t"
        rows.append(
            make_row(
                f"zero-copy ckpt[name] vs TF get_tensor ({what})",
                "warm",
                ck_t,
                tf_t,
                per=len(names),
                per_ck=len(names) * walks,
                max_ckptio_s=None if small else 5e-6,
            )
        )

    label_ra = f"read all, copy + verify ({big_bytes / GB:.2f} GiB)"
    ck_w, tf_w, ck_c, tf_c = both(label_ra, ck_read_all, tf_read_all, big_files, reps)
    for cache_state, ck_t, tf_t in (("warm", ck_w, tf_w), ("cold", ck_c, tf_c)):
        if ck_t is None:
            continue
        rows.append(
            make_row(
                label_ra,
                cache_state,
                ck_t,
                tf_t,
                min_ratio=2.5,
                detail=f"{gbps(big_bytes, ck_t.median):.2f} vs "
                f"{gbps(big_bytes, tf_t.median):.2f} GB/s",
            )
        )
    tf_read_warm, tf_read_cold = tf_w, tf_c

    label_v = f"ckpt.verify() vs TF read all ({big_bytes / GB:.2f} GiB)"
    print(f"timing {label_v} ...", flush=True)
    ck_vw = run_timed(ck_verify, reps)
    ck_vc = None
    if not args.no_cold:
        ck_vc = run_timed(ck_verify, cold_reps, cold=True, cache=cache, files=big_files)
    for cache_state, ck_t, tf_t in (("warm", ck_vw, tf_read_warm), ("cold", ck_vc, tf_read_cold)):
        if ck_t is None or tf_t is None:
            continue
        rows.append(
            make_row(
                label_v,
                cache_state,
                ck_t,
                tf_t,
                detail=f"{gbps(big_bytes, ck_t.median):.2f} GB/s",
            )
        )

    # Reference: what plain read() of the data files achieves (no CRC, one reused buffer).
    label_io = f"reference: sequential read() of the files ({big_bytes / GB:.2f} GiB)"
    print(f"timing {label_io} ...", flush=True)
    for cache_state, n in (("warm", reps), ("cold", 0 if args.no_cold else cold_reps)):
        if n == 0:
            continue
        io_t = run_timed(
            lambda: read_files(big_files),
            n,
            cold=cache_state == "cold",
            cache=cache,
            files=big_files,
        )
        rows.append(
            make_row(
                label_io,
                cache_state,
                io_t,
                None,
                detail=f"{gbps(big_bytes, io_t.median):.2f} GB/s (no CRC, no numpy; 8 MiB buffer)",
            )
        )

    # --- report -----------------------------------------------------------------------------
    print()
    print(
        f"machine: {info['cpu_model']}, {info['cores']} cores ({info['cores_usable']} usable), "
        f"{info['memory_gb']} GiB RAM, {info['platform']}"
    )
    print(
        f"python {info['python']}, numpy {info['numpy']}, tensorflow {info['tensorflow']}, "
        f"ckptio {info['ckptio']}, ckptio hardware crc32c: {info['ckptio_crc32c_hardware']}"
    )
    cold_how = "fsync + fadvise(DONTNEED) per file" + (
        " + /proc/sys/vm/drop_caches" if cache.global_drop else ""
    )
    resident = [
        x for r in rows for t in (r.ckptio, r.tf) if t is not None for x in t.resident_before
    ]
    print(
        f"repetitions: warm {reps} (many-keys rows {small_reps}), cold {cold_reps}, imports "
        f"{import_reps}; medians. cold = {cold_how}"
        + (f"; max resident before a cold run: {max(resident):.1%}" if resident else "")
    )
    print()
    print_table(rows)
    elapsed = time.perf_counter() - t_start
    foreign = load.fraction()
    print(f"\ntotal {elapsed:.0f} s; other processes used {foreign:.0%} of the CPUs meanwhile")
    if foreign > 0.05:
        print("WARNING: the machine was busy with other work; the timings are not reliable")

    if args.json:
        out = {
            "machine": info,
            "params": {
                "size_gb": size_gb,
                "keys": n_keys,
                "reps": reps,
                "small_reps": small_reps,
                "cold_reps": cold_reps,
                "import_reps": import_reps,
                "quick": args.quick,
                "big_prefix": big,
                "big_bytes": big_bytes,
                "big_tensors": len(big_names),
                "many_prefix": many,
                "many_keys": len(many_names),
                "cold_method": cold_how,
            },
            "imports_s": {
                "python": asdict(imp_none),
                "ckptio": asdict(imp_ck),
                "ckptio_reader": asdict(imp_ck_reader),
                "tensorflow": asdict(imp_tf),
                "tensorflow_in_process": tf_inproc_import,
            },
            "results": [
                {
                    "benchmark": r.name,
                    "cache": r.cache,
                    "unit": "s/tensor" if r.unit == "per" else "s",
                    "ckptio": r.ckptio_s,
                    "tf": r.tf_s,
                    "ratio_tf_over_ckptio": r.ratio,
                    "target": r.target,
                    "status": r.status,
                    "detail": r.detail,
                    "ckptio_runs_s": asdict(r.ckptio) if r.ckptio else None,
                    "tf_runs_s": asdict(r.tf) if r.tf else None,
                }
                for r in rows
            ],
            "elapsed_s": elapsed,
            "foreign_cpu_fraction": foreign,
        }
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "_generate":
        generate(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(main())
