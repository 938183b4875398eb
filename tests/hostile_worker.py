"""Worker of test_hostile_input: reads crafted checkpoints under an address-space limit.

Run as a script: ``python hostile_worker.py ADDRESS_SPACE_BYTES``. It sets ``RLIMIT_AS`` before
importing numpy or ckptio, then reads one JSON job per line on stdin (``{"id", "path"}``) and for
each prints ``{"start": id}`` before touching the file and then one JSON result: the error of
open, or the names, the listing's self-consistency, every tensor's value (view and verified
copy) or error, the outcome of ``verify()``, and the growth of peak RSS during the job. The
parent charges a crash or a hang to the job last started.
"""

from __future__ import annotations

import json
import resource
import sys

if __name__ == "__main__":
    _limit = int(sys.argv[1])
    # Before any import that maps memory, so that an absurd allocation fails here.
    resource.setrlimit(resource.RLIMIT_AS, (_limit, _limit))

import ckptio
import numpy as np


def describe(e: BaseException) -> dict:
    return {
        "type": type(e).__name__,
        "file": getattr(e, "file", None),
        "key": getattr(e, "key", None),
        "message": str(e)[:300],
        "checkpoint_error": isinstance(e, ckptio.CheckpointError),
    }


def encode(a) -> list:
    """dtype, shape and exact contents (hex; bytes elements for strings), JSON-able."""
    a = np.asarray(a)
    if a.dtype == object:
        data = [bytes(x).hex() for x in a.reshape(-1)]
    else:
        data = np.ascontiguousarray(a).tobytes().hex()
    return [str(a.dtype), list(a.shape), data]


def read(ckpt, name: str) -> dict:
    try:
        ckpt.info(name)
        view = ckpt.get_tensor(name)
        copy = ckpt.get_tensor(name, copy=True, verify=True)
        return {"value": encode(view), "copy": encode(copy)}
    except BaseException as e:
        return {"error": describe(e)}


def maxrss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_job(job: dict) -> dict:
    rss = maxrss()
    out: dict = {"id": job["id"]}
    try:
        ckpt = ckptio.open(job["path"])
    except BaseException as e:
        out["open"] = describe(e)
    else:
        with ckpt:
            out["names"] = list(ckpt)
            out["listing"] = [
                ckpt.shapes() == {n: ckpt.info(n).shape for n in ckpt},
                len(ckpt.dtypes()) == len(ckpt),
            ]
            out["values"] = {n: read(ckpt, n) for n in ckpt}
            try:
                ckpt.verify()
                out["verify"] = None
            except BaseException as e:
                out["verify"] = describe(e)
    out["rss_growth"] = maxrss() - rss
    return out


def main() -> None:
    for line in sys.stdin:
        job = json.loads(line)
        print(json.dumps({"start": job["id"]}), flush=True)
        print(json.dumps(run_job(job)), flush=True)


if __name__ == "__main__":
    main()
