"""What the private (copy-on-write) mapping of data shards costs against a shared read-only one.

ckptio maps shards MAP_PRIVATE with PROT_READ|PROT_WRITE so that a library ignoring numpy's
read-only flag (torch.from_numpy, ctypes) writes into a private page instead of faulting. This
times, on one ~1 GiB shard with a warm page cache, in the same run, alternating:

* map + touch every page (read one byte per page), MAP_SHARED/PROT_READ vs MAP_PRIVATE/RW;
* ckptio.open + the same touch through the zero-copy view (ckptio's own mapping);
* for reference, what a write costs once it happens (every page copied on first write).

Prints medians and the private/shared ratio. Usage: python benchmarks/bench_mapping.py [GiB]
"""

from __future__ import annotations

import mmap
import os
import statistics
import sys
import tempfile
import time

import ckptio
import numpy as np

PAGE = mmap.PAGESIZE


def touch(buf) -> int:
    """Read one byte of every page (what a first pass over a tensor costs in page faults)."""
    return int(np.frombuffer(buf, dtype=np.uint8)[::PAGE].sum())


def map_and_touch(path: str, private: bool) -> float:
    t0 = time.perf_counter()
    with open(path, "rb") as f:
        if private:
            m = mmap.mmap(
                f.fileno(), 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE
            )
        else:
            m = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
    touch(m)
    elapsed = time.perf_counter() - t0
    m.close()
    return elapsed


def ckptio_open_and_touch(prefix: str) -> float:
    t0 = time.perf_counter()
    with ckptio.open(prefix) as ckpt:
        touch(ckpt["w"])
    return time.perf_counter() - t0


def ckptio_write_all(prefix: str) -> float:
    with ckptio.open(prefix) as ckpt:
        view = ckpt["w"]
        writable = np.ndarray(view.shape, view.dtype, buffer=memoryview(_address(view)))
        t0 = time.perf_counter()
        writable.view(np.uint8)[::PAGE] = 1  # one byte per page: every page is copied
        return time.perf_counter() - t0


def _address(view: np.ndarray):
    import ctypes

    return (ctypes.c_char * view.nbytes).from_address(view.ctypes.data)


def main() -> None:
    gib = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    n = int(gib * (1 << 30)) // 4
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "model.ckpt-0")
        ckptio.save(prefix, {"w": np.random.default_rng(0).random(n, dtype=np.float32)})
        shard = prefix + ".data-00000-of-00001"
        size = os.path.getsize(shard)
        print(f"shard: {size / (1 << 30):.2f} GiB, {size // PAGE:,} pages; runs alternate")
        map_and_touch(shard, False)  # warm the page cache
        shared, private, opened, written = [], [], [], []
        for _ in range(7):
            shared.append(map_and_touch(shard, False))
            private.append(map_and_touch(shard, True))
            opened.append(ckptio_open_and_touch(prefix))
        for _ in range(3):
            written.append(ckptio_write_all(prefix))
        s, p, o = (statistics.median(x) for x in (shared, private, opened))
        w = statistics.median(written)
        print(f"map + touch every page, MAP_SHARED  PROT_READ     : {s * 1e3:8.1f} ms")
        print(
            f"map + touch every page, MAP_PRIVATE PROT_READ|WRITE: {p * 1e3:8.1f} ms"
            f"  ({p / s:.2f}x shared)"
        )
        print(
            f"ckptio.open + touch every page of the view          : {o * 1e3:8.1f} ms"
            f"  ({o / s:.2f}x shared)"
        )
        print(
            f"first write to every page (copy-on-write), ckptio   : {w * 1e3:8.1f} ms"
            f"  ({size / w / 1e9:.2f} GB/s)"
        )


if __name__ == "__main__":
    main()
