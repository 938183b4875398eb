"""Checkpoints in object storage: `ckptio.open("s3://bucket/run/model.ckpt-1000")`.

    import ckptio
    with ckptio.open("gs://bucket/run/") as ckpt:       # fetches the .index, nothing else
        print(ckpt.shapes())
        emb = ckpt.get_slice("embedding")[1000:2000]   # fetches only those rows' bytes
        ckpt.prefetch(["dense/kernel", "dense/bias"])   # neighbours in one request, in parallel
        kernel = ckpt["dense/kernel"]                  # served from the prefetched bytes

Any fsspec URL works (``s3://``, ``gs://``, ``az://``, ``http(s)://``, ``memory://``...):
``pip install 'ckptio[s3]'`` (or ``[gcs]``, or ``[remote]`` for fsspec alone). fsspec is
imported only when a URL is opened, so ``import ckptio`` stays light.

How the bytes move. The C++ reader is the same one that maps local files; here it is given an
opener whose sources fetch byte ranges:

* the ``.index`` is fetched whole, in one request (an open-ended ranged GET); listing, shapes
  and dtypes need nothing else;
* a tensor read fetches exactly the tensor's byte range (large ranges in parallel parts), in
  one ranged GET: no HEAD, a data shard's size is taken from the index (a shard shorter than
  the index says shows up as a short or refused read, reported as corruption);
  `Checkpoint.get_slice` on an unpartitioned tensor fetches only the span its region covers;
* `RemoteCheckpoint.prefetch` and `RemoteCheckpoint.read_many` merge neighbouring ranges into
  one request and keep several requests in flight; the fetched bytes wait in a bounded cache
  and are dropped as soon as the reads they were fetched for have taken them.

Transient failures (connection errors, timeouts, HTTP 5xx and 429) are retried with
exponential backoff, a bounded number of times (`RemoteOptions.attempts`): ckptio's is the one
retry layer, so the S3 client's own retries are set to one attempt (see `retry.single_retry_layer`).
A response shorter than asked is retried too, then reported as a CorruptionError naming the
URL. Missing objects raise NotFoundError; refused credentials raise CheckpointError saying so.
Checksums are checked when asked (``verify=True``), exactly as for local files.

Legacy V1 checkpoints (one table per file holding data and index) are read in place by the same
table reader: opening one fetches each file's tail (footer and index block, one request) and
the block holding its meta record; a tensor read fetches the blocks holding its slices.

The modules, from the wire up: `options` (RemoteOptions, RemoteStats), `retry` (which failures
are transient, the one retry policy, the backends' retries turned off), `objects` (object sizes,
and bytes fetched while locating kept for the reader), `cache` (prefetched blocks), `store`
(byte ranges fetched through all of these; the sources the C++ reader reads), `filesystem`
(the resolver's questions of ckptio.locate answered over fsspec: what a URL names),
`checkpoint` (`open_url`, `RemoteCheckpoint`, `RemoteV1Checkpoint`) and `shared` (one open
checkpoint per worker process).
"""

from __future__ import annotations

from ..locate import is_url
from .checkpoint import RemoteCheckpoint, RemoteV1Checkpoint, open_url
from .filesystem import latest_checkpoint_url, read_checkpoint_state_url, resolve_url
from .options import RemoteOptions, RemoteStats
from .shared import shared_checkpoint
from .store import filesystem_for

__all__ = [
    "RemoteCheckpoint",
    "RemoteOptions",
    "RemoteStats",
    "RemoteV1Checkpoint",
    "filesystem_for",
    "is_url",
    "latest_checkpoint_url",
    "open_url",
    "read_checkpoint_state_url",
    "resolve_url",
    "shared_checkpoint",
]
