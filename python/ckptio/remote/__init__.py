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
retry layer, so the S3 client's own retries are set to one attempt (see `_single_retry_layer`).
A response shorter than asked is retried too, then reported as a CorruptionError naming the
URL. Missing objects raise NotFoundError; refused credentials raise CheckpointError saying so.
Checksums are checked when asked (``verify=True``), exactly as for local files.

Legacy V1 checkpoints (one table per file holding data and index) are read in place by the same
table reader: opening one fetches each file's tail (footer and index block, one request) and
the block holding its meta record; a tensor read fetches the blocks holding its slices.
"""

from __future__ import annotations

import errno
import posixpath
import random
import threading
import time
import weakref
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import _core
from ._dtypes import STRING_ENUM, numpy_dtypes
from .checkpoint import Checkpoint, basic_region, open_local, verified
from .errors import CheckpointError, CorruptionError, NotFoundError
from .locate import (
    DATA_SUFFIX,
    NO_MATCH,
    TEMP_SUFFIX,
    Resolved,
    is_url,
    only_checkpoint,
    parse_checkpoint_state,
)

__all__ = [
    "RemoteCheckpoint",
    "RemoteOptions",
    "is_url",
    "latest_checkpoint_url",
    "open_url",
    "read_checkpoint_state_url",
    "resolve_url",
]

_MiB = 1 << 20


@dataclass(frozen=True)
class RemoteOptions:
    """How remote reads are made.

    Attributes:
        attempts: tries per request before giving up (transient errors and short responses).
        backoff: seconds before the first retry; doubled each time (with jitter), up to
            `max_backoff`.
        max_backoff: longest wait between two tries, in seconds.
        max_concurrency: requests in flight at once for one checkpoint.
        part_bytes: a single range larger than this is fetched as parallel parts of this size
            (then joined: the range is briefly held twice).
        coalesce_gap: `prefetch` merges two ranges of the same shard into one request when at
            most this many unneeded bytes lie between them.
        max_request_bytes: `prefetch` does not merge ranges into requests larger than this.
        cache_bytes: most bytes `prefetch` keeps waiting for their reads; older blocks are
            dropped first (and fetched again if still wanted).
        window_bytes: `read_many` prefetches this many bytes ahead of the tensor it returns.
        table_tail_bytes: opening a V1 file fetches this many bytes from its end in one
            request: its footer, index and metaindex blocks (an index entry takes ~20 bytes
            per data block, so the default covers thousands of blocks).
    """

    attempts: int = 5
    backoff: float = 0.2
    max_backoff: float = 10.0
    max_concurrency: int = 8
    part_bytes: int = 32 * _MiB
    coalesce_gap: int = 1 * _MiB
    max_request_bytes: int = 64 * _MiB
    cache_bytes: int = 512 * _MiB
    window_bytes: int = 64 * _MiB
    table_tail_bytes: int = 64 << 10


@dataclass
class RemoteStats:
    """Requests made and bytes received for one checkpoint (all threads)."""

    gets: int = 0
    heads: int = 0
    lists: int = 0
    bytes: int = 0
    retries: int = 0
    cache_hits: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def requests(self) -> int:
        return self.gets + self.heads + self.lists

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            names = ("gets", "heads", "lists", "bytes", "retries", "cache_hits")
            counts = {name: getattr(self, name) for name in names}
        counts["requests"] = counts["gets"] + counts["heads"] + counts["lists"]
        return counts


# --------------------------------------------------------------------------- errors and retries

# Exception classes of the HTTP stacks under fsspec (aiohttp, botocore, requests, urllib3,
# google-auth), matched by name so that none of them has to be imported to classify errors.
_TRANSIENT_NAMES = frozenset(
    {
        "ClientPayloadError",
        "ServerDisconnectedError",
        "ClientConnectionError",
        "ClientConnectorError",
        "ClientOSError",
        "ServerTimeoutError",
        "EndpointConnectionError",
        "ConnectionClosedError",
        "ReadTimeoutError",
        "ConnectTimeoutError",
        "IncompleteReadError",
        "ResponseStreamingError",
        "ProtocolError",
        "ChunkedEncodingError",
        "FSTimeoutError",
        "TransportError",
        "RetryError",
    }
)
# The client's own integrity check of a response (a body cut or altered in transit).
_INTEGRITY_NAMES = frozenset({"FlexibleChecksumError", "ChecksumMismatch", "MD5Mismatch"})
_AUTH_NAMES = frozenset(
    {
        "NoCredentialsError",
        "PartialCredentialsError",
        "CredentialRetrievalError",
        "DefaultCredentialsError",
        "RefreshError",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
    }
)
_TRANSIENT_ERRNOS = frozenset(
    {
        errno.EBUSY,  # s3fs: 503 SlowDown / ServiceUnavailable, 409
        getattr(errno, "EREMOTEIO", 121),  # s3fs: 500 InternalError
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.ECONNREFUSED,
        errno.ETIMEDOUT,
        errno.EPIPE,
        errno.EAGAIN,
    }
)


def _status_of(exc: BaseException) -> int | None:
    """The HTTP status an exception carries, where its library records one."""
    for attr in ("status", "status_code", "code"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value < 600:
            return value
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):  # botocore ClientError
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(status, int):
            return status
    return None


def _kind(exc: BaseException) -> str:
    """The kind of failure: "missing", "auth", "range", "integrity", "transient" or "fatal"."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if isinstance(exc, FileNotFoundError) or "NoSuchKey" in names or "NoSuchBucket" in names:
        return "missing"
    status = _status_of(exc)
    if isinstance(exc, PermissionError) or names & _AUTH_NAMES or status in (401, 403):
        return "auth"
    if status == 404:
        return "missing"
    if names & _INTEGRITY_NAMES:
        return "integrity"
    if status == 416 or "InvalidRange" in names or "not satisfiable" in str(exc).lower():
        return "range"  # the object ends before the range: shorter than the index says
    if status is not None and (status >= 500 or status in (408, 429)):
        return "transient"
    if isinstance(exc, (ConnectionError, TimeoutError)) or names & _TRANSIENT_NAMES:
        return "transient"
    if isinstance(exc, OSError) and exc.errno in _TRANSIENT_ERRNOS:
        return "transient"
    cause = exc.__cause__ or exc.__context__
    if cause is not None and cause is not exc and _kind(cause) == "transient":
        return "transient"
    return "fatal"


def _truncated(url: str, got: int, wanted: int) -> CorruptionError:
    return CorruptionError(f"truncated response: got {got} of {wanted} bytes", file=url)


# --------------------------------------------------------------------------- the store


class _RetryPolicy:
    """How often and how patiently a request is tried: the one retry layer of remote reads
    (see `_single_retry_layer`), counting its retries in `stats`."""

    def __init__(self, options: RemoteOptions, stats: RemoteStats) -> None:
        self.options, self.stats = options, stats

    def call(self, what: str, url: str, call: Callable[[], Any], wanted: int | None = None) -> Any:
        """`call()` with retries; `wanted` bytes are expected back when given.

        Raises NotFoundError for a missing object, CorruptionError for a response that stayed
        short or damaged, and CheckpointError for everything else, each naming the URL."""
        opts = self.options
        attempts = max(1, opts.attempts)
        for attempt in range(attempts):
            if attempt:
                self.stats.add(retries=1)
                delay = min(opts.max_backoff, opts.backoff * 2 ** (attempt - 1))
                time.sleep(delay * (0.5 + random.random()))  # jitter: spread retries out
            try:
                result = call()
            except Exception as exc:
                error = self._error(exc, what, url, wanted, attempt, attempts)
                if error is not None:
                    raise error from exc
                continue
            if wanted is not None and len(result) != wanted:
                if len(result) > wanted:  # a server that ignored the Range header
                    raise CorruptionError(
                        f"response to {what} holds {len(result)} bytes, not the {wanted} asked",
                        file=url,
                    )
                if attempt == attempts - 1:
                    raise _truncated(url, len(result), wanted)
                continue
            return result
        raise AssertionError("unreachable")

    @staticmethod
    def _error(
        exc: Exception, what: str, url: str, wanted: int | None, attempt: int, attempts: int
    ) -> CheckpointError | None:
        """The error a failed try ends in, or None to try again."""
        kind = _kind(exc)
        last = attempt == attempts - 1
        detail = f"{type(exc).__name__}: {exc}"
        if kind == "missing":
            return NotFoundError("no such object", file=url)
        if kind == "range" and wanted is not None:
            return _truncated(url, 0, wanted)
        if kind == "auth":
            return CheckpointError(
                f"access denied while trying to {what} (check credentials and permissions): "
                + detail,
                file=url,
            )
        if kind == "integrity" and last:
            return CorruptionError(
                f"response failed its integrity check after {attempts} attempts: {detail}", url
            )
        if kind == "fatal" or last:
            tries = f" after {attempt + 1} attempts" if attempt else ""
            return CheckpointError(f"failed to {what}{tries}: {detail}", file=url)
        return None


class _Objects:
    """What is known about a filesystem's objects: sizes (asked, listed or seeded), and objects
    fetched whole and kept for their reader (the index the resolver fetched). Thread-safe."""

    def __init__(self, fs: Any, retry: _RetryPolicy, stats: RemoteStats) -> None:
        self.fs, self._retry, self._stats = fs, retry, stats
        self._lock = threading.Lock()
        self._sizes: dict[str, int] = {}
        self._whole: dict[str, bytes] = {}

    def path(self, url: str) -> str:
        return self.fs._strip_protocol(url)

    def size(self, url: str) -> int:
        with self._lock:
            if url in self._sizes:
                return self._sizes[url]
            if url in self._whole:
                return len(self._whole[url])
        self._stats.add(heads=1)
        info = self._retry.call("get the object's size", url, lambda: self.fs.info(self.path(url)))
        if info.get("type") == "directory":
            raise NotFoundError("no such object (a directory)", file=url)
        size = int(info["size"])
        self.seed_sizes({url: size})
        return size

    def known_size(self, url: str) -> int | None:
        with self._lock:
            return self._sizes.get(url)

    def known_sizes(self) -> dict[str, int]:
        with self._lock:
            return dict(self._sizes)

    def seed_sizes(self, sizes: Mapping[str, int]) -> None:
        """Record object sizes known from elsewhere (a listing, another process's HEADs)."""
        with self._lock:
            self._sizes.update(sizes)

    def exists(self, url: str) -> bool:
        try:
            self.size(url)
        except NotFoundError:
            return False
        return True

    def _record(self, protocol: str, name: str, entry: Mapping[str, Any]) -> str:
        url = name if is_url(name) else f"{protocol}://{name.lstrip('/')}"
        if entry.get("type") == "file" and entry.get("size") is not None:
            self.seed_sizes({url: int(entry["size"])})
        return url

    def listing(self, url: str) -> list[dict[str, Any]]:
        self._stats.add(lists=1)
        entries = self._retry.call("list", url, lambda: self.fs.ls(self.path(url), detail=True))
        protocol = url.split("://", 1)[0]
        return [{**e, "url": self._record(protocol, e["name"], e)} for e in entries]

    def glob(self, pattern: str) -> list[str]:
        """The URLs matching `pattern`, sorted; their sizes are recorded (no HEAD later)."""
        self._stats.add(lists=1)
        found = self._retry.call(
            "glob", pattern, lambda: self.fs.glob(self.path(pattern), detail=True)
        )
        protocol = pattern.split("://", 1)[0]
        return sorted(self._record(protocol, name, entry) for name, entry in found.items())

    def keep_whole(self, url: str, data: bytes) -> None:
        with self._lock:
            self._whole[url] = data

    def take_whole(self, url: str) -> bytes | None:
        with self._lock:
            return self._whole.pop(url, None)

    def clear(self) -> None:
        with self._lock:
            self._whole.clear()


class _Block:
    """Prefetched bytes of one shard, waiting for the reads they were fetched for."""

    __slots__ = ("future", "pending", "start", "stop", "url")

    def __init__(self, url: str, start: int, stop: int, future: Future[bytes]) -> None:
        self.url, self.start, self.stop, self.future = url, start, stop, future
        self.pending: set[tuple[int, int]] = set()  # (offset, n) not read yet


class _BlockCache:
    """Prefetched blocks, oldest first, holding at most `cache_bytes` (older blocks dropped
    first); a block is dropped once every read it was fetched for has taken its bytes."""

    def __init__(self, cache_bytes: int, stats: RemoteStats) -> None:
        self._limit, self._stats = cache_bytes, stats
        self._lock = threading.Lock()
        self._blocks: list[_Block] = []
        self.nbytes = 0

    def covers(self, url: str, offset: int, n: int) -> bool:
        with self._lock:
            return self._covering(url, offset, n) is not None

    def add(self, block: _Block) -> None:
        with self._lock:
            self._blocks.append(block)
            self.nbytes += block.stop - block.start
            while self.nbytes > self._limit and len(self._blocks) > 1:
                old = self._blocks.pop(0)
                self.nbytes -= old.stop - old.start

    def _covering(self, url: str, offset: int, n: int) -> _Block | None:
        for block in self._blocks:
            if block.url == url and block.start <= offset and offset + n <= block.stop:
                return block
        return None

    def take(self, url: str, offset: int, n: int) -> bytes | None:
        """[offset, offset+n) from a block, waiting for it if needed; None when no block holds
        it (or its fetch failed: the read fetches it again and reports its own errors)."""
        with self._lock:
            block = self._covering(url, offset, n)
            if block is None:
                return None
            block.pending.discard((offset, n))
            if not block.pending:  # every read it was fetched for has had its bytes
                self._blocks.remove(block)
                self.nbytes -= block.stop - block.start
        try:
            data = block.future.result()
        except Exception:
            return None
        self._stats.add(cache_hits=1)
        if block.start == offset and len(data) == n:
            return data
        begin = offset - block.start
        return data[begin : begin + n]

    def clear(self) -> None:
        with self._lock:
            self._blocks.clear()
            self.nbytes = 0


class _Store:
    """One filesystem read through the retry policy, with what is known about its objects,
    the prefetch cache, the fetch pool and the request counters. Thread-safe."""

    def __init__(self, fs: Any, options: RemoteOptions) -> None:
        self.fs = fs
        self.options = options
        self.stats = RemoteStats()
        self.policy = _RetryPolicy(options, self.stats)
        self.objects = _Objects(fs, self.policy, self.stats)
        self.cache = _BlockCache(options.cache_bytes, self.stats)
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        # url -> bytes the index says a shard holds at least (set by the checkpoint).
        self.extent: Callable[[str], int | None] = lambda url: None

    def _path(self, url: str) -> str:
        return self.objects.path(url)

    def retry(self, what: str, url: str, call: Callable[[], Any], wanted: int | None = None) -> Any:
        return self.policy.call(what, url, call, wanted)

    def pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max(1, self.options.max_concurrency), thread_name_prefix="ckptio-fetch"
                )
            return self._pool

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        self.cache.clear()
        self.objects.clear()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    # -- bytes ---------------------------------------------------------------------
    def fetch_whole(self, url: str) -> bytes:
        """The whole object in one request (an open-ended ranged GET: no HEAD first)."""

        def call() -> bytes:
            self.stats.add(gets=1)
            data = self.fs.cat_file(self._path(url), start=0, end=None)
            self.stats.add(bytes=len(data))
            return data

        data = self.retry("fetch", url, call)
        self.objects.seed_sizes({url: len(data)})
        return data

    def _get(self, url: str, start: int, n: int) -> bytes:
        """Exactly [start, start+n) in one request, retried."""

        def call() -> bytes:
            self.stats.add(gets=1)
            data = self.fs.cat_file(self._path(url), start=start, end=start + n)
            self.stats.add(bytes=len(data))
            return data

        return self.retry(f"fetch bytes {start}-{start + n - 1}", url, call, wanted=n)

    def fetch(self, url: str, start: int, n: int) -> bytes:
        """Exactly [start, start+n): from the prefetch cache, or fetched (in parallel parts
        when large). Raises CorruptionError when the server keeps answering short."""
        if n == 0:
            return b""
        cached = self.cache.take(url, start, n)
        if cached is not None:
            return cached
        part = max(1, self.options.part_bytes)
        if n <= part or self.options.max_concurrency <= 1:
            return self._get(url, start, n)
        futures = [
            self.pool().submit(self._get, url, s, min(part, start + n - s))
            for s in range(start, start + n, part)
        ]
        try:
            return b"".join(f.result() for f in futures)
        finally:
            for f in futures:
                f.cancel()

    def prefetch(self, ranges: Iterable[tuple[str, int, int]]) -> list[Future[bytes]]:
        """Start fetching (url, offset, n) ranges: neighbours merged into one request, up to
        `max_concurrency` requests in flight. Reads of exactly these ranges then wait for and
        take the bytes from the cache."""
        from fsspec.utils import merge_offset_ranges

        opts = self.options
        wanted = sorted({r for r in ranges if r[2] > 0 and not self.cache.covers(*r)})
        urls, starts, stops = merge_offset_ranges(
            [url for url, _, _ in wanted],
            [offset for _, offset, _ in wanted],
            [offset + n for _, offset, n in wanted],
            max_gap=opts.coalesce_gap,
            max_block=opts.max_request_bytes,
        )
        futures = []
        i = 0  # `wanted` and the merged blocks are both in (url, offset) order
        for url, start, stop in zip(urls, starts, stops):
            # One request per block (never parted: parts would wait on this same pool).
            future = self.pool().submit(self._get, url, start, stop - start)
            block = _Block(url, start, stop, future)
            while i < len(wanted) and wanted[i][0] == url and start <= wanted[i][1]:
                _, offset, n = wanted[i]
                if offset + n > stop:
                    break
                block.pending.add((offset, n))
                i += 1
            self.cache.add(block)
            futures.append(future)
        return futures


class _Source:
    """What the C++ reader reads through: a `size` and `read(offset, n)`.

    The store raises ckptio's errors of their real kind (NotFoundError for a missing object,
    CorruptionError for a response that stayed short or damaged); the core keeps the kind and
    adds the tensor name."""

    def __init__(
        self, store: _Store, url: str, size: int, data: bytes | None = None, tail: int = 0
    ) -> None:
        self._store, self._url, self.size, self._data = store, url, size, data
        # A table (V1 file) is opened from its end: footer, index block, metaindex. The first
        # read there fetches the last `tail` bytes in one request and serves the rest from them.
        self._tail_start = max(0, size - tail) if tail else size
        self._tail: bytes | None = None

    def read(self, offset: int, n: int) -> bytes:
        if self._data is not None:
            if offset == 0 and n == len(self._data):
                data, self._data = self._data, None  # the index is read once: let it go
                return data
            return self._data[offset : offset + n]
        if n and offset >= self._tail_start and offset + n <= self.size:
            if self._tail is None:
                self._tail = self._store.fetch(
                    self._url, self._tail_start, self.size - self._tail_start
                )
            begin = offset - self._tail_start
            return self._tail[begin : begin + n]
        return self._store.fetch(self._url, offset, n)


class _RemoteCore:
    """The C++ reader, with one change for remote data: a checked read copies the bytes while
    checking them (one fetch), where a view would be fetched once to hand out and once more
    to check (which costs nothing for a mapped file)."""

    def __init__(self, core: Any) -> None:
        self._core = core

    def __getattr__(self, name: str) -> Any:
        return getattr(self._core, name)

    def tensor(self, name: Any, copy: bool = False, verify: bool = False) -> Any:
        if verify and not copy:
            value = self._core.tensor(name, copy=True, verify=True)
            value.flags.writeable = False
            return value
        return self._core.tensor(name, copy=copy, verify=verify)


def _opener(store: _Store) -> Callable[[str], _Source]:
    def open_source(url: str) -> _Source:
        data = store.objects.take_whole(url)
        if data is None and url.endswith(".index"):
            data = store.fetch_whole(url)  # one request, no HEAD: the index is read whole
        if data is not None:
            return _Source(store, url, len(data), data)
        # A shard's size is taken from the index (the end of its last record) rather than
        # asked with a HEAD request: reads past the real end come back short or refused, and
        # are reported as corruption like a short local file.
        size = store.objects.known_size(url)
        if size is None:
            size = store.extent(url)
        return _Source(store, url, size if size is not None else store.objects.size(url))

    return open_source


# --------------------------------------------------------------------------- the checkpoint


class RemoteCheckpoint(Checkpoint):
    """A V2 checkpoint read from a URL: the `Checkpoint` API, plus prefetching and counters.

    Arrays own the bytes fetched for them (there is no mapping to keep alive); reading the same
    tensor twice fetches it twice unless it was prefetched again in between.
    """

    def __init__(self, core: Any, url: str, store: _Store, storage_options: dict | None) -> None:
        super().__init__(core, url, "V2")
        self._store = store
        self._extents: dict[str, int] | None = None
        me = weakref.ref(self)  # (no cycle through the C++ reader's opener)
        store.extent = lambda shard: _extent_of(me, shard)
        self.storage_options = dict(storage_options or {})

    @property
    def is_remote(self) -> bool:
        return True

    @property
    def stats(self) -> dict[str, int]:
        """Requests made (``gets``, ``heads``, ``lists``, ``requests``), ``bytes`` received,
        ``retries`` and prefetch ``cache_hits`` so far."""
        return self._store.stats.as_dict()

    @property
    def options(self) -> RemoteOptions:
        return self._store.options

    def shard_sizes(self) -> dict[str, int]:
        """{object URL: size} for the objects whose size is known so far (fetched whole or
        asked); `open_url(known_sizes=...)` takes them."""
        return self._store.objects.known_sizes()

    def _extent(self, shard: str) -> int | None:
        """Bytes the index places in `shard`: the end of its last record."""
        if self._extents is None:
            extents: dict[str, int] = {}
            for name in self._name_list():
                for r in self.stored_records(name):
                    if r.path is not None and r.offset is not None:
                        extents[r.path] = max(extents.get(r.path, 0), r.offset + r.size)
            self._extents = extents
        return self._extents.get(shard)

    def _ranges(self, names: Iterable[str]) -> list[tuple[str, int, int]]:
        """(shard URL, offset, size) of each stored record behind `names`."""
        ranges = []
        for name in names:
            for r in self.stored_records(name):
                if r.path is not None and r.offset is not None and r.size > 0:
                    ranges.append((r.path, r.offset, r.size))
        return ranges

    def prefetch(self, names: Iterable[str], *, wait: bool = False) -> int:
        """Start fetching the bytes of `names` (partitioned tensors: all their slices).

        Neighbouring ranges of a shard are merged into one request (gaps up to
        `RemoteOptions.coalesce_gap`), and up to `max_concurrency` requests run at once. The
        following reads of these tensors take their bytes from the cache, waiting for them if
        needed; each block is dropped once every read it was fetched for has happened, and the
        cache never holds more than `cache_bytes` (oldest blocks are dropped first). With
        `wait=True`, returns once everything has arrived. Returns the bytes requested.
        """
        ranges = self._ranges(names)
        futures = self._store.prefetch(ranges)
        if wait:
            for f in futures:
                f.exception()  # errors are raised by the reads themselves
        return sum(n for _, _, n in ranges)

    def _windows(self, names: list[str], window_bytes: int | None) -> list[list[str]]:
        """`read_many`'s windows: up to `window_bytes` (default `RemoteOptions.window_bytes`)
        each, so memory stays near two windows plus the tensor in hand (a tensor larger than a
        window is a window of its own); each is fetched merged and in parallel (`prefetch`)."""
        window = max(1, window_bytes or self.options.window_bytes)
        windows: list[list[str]] = []
        current: list[str] = []
        size = 0
        for name in names:
            nbytes = sum(n for _, _, n in self._ranges([name]))
            if current and size + nbytes > window:
                windows.append(current)
                current, size = [], 0
            current.append(name)
            size += nbytes
        if current:
            windows.append(current)
        return windows

    def read_region(self, name: str, index: Any) -> np.ndarray:
        """`get_slice(name)[index]`: for an unpartitioned tensor, fetch only the contiguous byte
        span the region covers (for rows along axis 0, exactly those rows), then index it."""
        info = self._require(name)
        if info.slices:
            return super().read_region(name, index)
        dtype = numpy_dtypes().get(info.dtype_enum)
        shape = info.shape
        basic = basic_region(index, shape)
        if (
            basic is None
            or dtype is None
            or info.dtype_enum == STRING_ENUM
            or info.size != info.num_elements * dtype.itemsize
            or info.path is None
            or info.offset is None
        ):
            # Strings, odd layouts and damaged entries: the whole-tensor path handles (and
            # reports) them.
            return self._numpy(name)[index]
        region, squeeze = basic
        itemsize = dtype.itemsize
        strides = [itemsize] * len(shape)
        for axis in range(len(shape) - 2, -1, -1):
            strides[axis] = strides[axis + 1] * shape[axis + 1]
        out_shape = tuple(len(r) for r in region)
        if 0 in out_shape:
            out = np.empty(out_shape, dtype)
        else:
            first = sum(r.start * s for r, s in zip(region, strides))
            last = sum((r.start + (len(r) - 1) * r.step) * s for r, s in zip(region, strides))
            span = last + itemsize - first
            url = info.path
            try:
                data = self._store.fetch(url, info.offset + first, span)
            except CheckpointError as exc:
                raise type(exc)(exc.message, file=exc.file or url, key=name) from exc
            strided = np.ndarray(
                out_shape,
                dtype,
                buffer=data,
                strides=tuple(r.step * s for r, s in zip(region, strides)),
            )
            out = strided.copy()  # compact: drop the unselected bytes of the span
        out.flags.writeable = False
        return out[squeeze] if squeeze else out

    def close(self) -> None:
        super().close()
        self._store.close()


def _extent_of(ref: Callable[[], RemoteCheckpoint | None], shard: str) -> int | None:
    ckpt = ref()
    return None if ckpt is None or ckpt.closed else ckpt._extent(shard)


class RemoteV1Checkpoint(Checkpoint):
    """A V1 checkpoint read from URLs with ranged requests (see `_open_v1`)."""

    def __init__(self, core: Any, url: str, store: _Store) -> None:
        super().__init__(core, url, "V1")
        self._store = store

    @property
    def is_remote(self) -> bool:
        return True

    @property
    def stats(self) -> dict[str, int]:
        """Requests made and bytes received so far (as `RemoteCheckpoint.stats`)."""
        return self._store.stats.as_dict()

    def close(self) -> None:
        super().close()
        self._store.close()


# --------------------------------------------------------------------------- locating


def filesystem_for(url: str, storage_options: Mapping[str, Any] | None) -> Any:
    try:
        import fsspec
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"reading {url.split('://')[0]}:// URLs needs fsspec and the filesystem's package: "
            "pip install 'ckptio[remote]' (or 'ckptio[s3]', 'ckptio[gcs]')"
        ) from exc
    try:
        fs, _ = fsspec.core.url_to_fs(url, **dict(storage_options or {}))
    except ImportError as exc:
        raise ImportError(f"{exc} (pip install 'ckptio[s3]' or 'ckptio[gcs]')") from exc
    return fs


def _single_retry_layer(url: str, storage_options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Storage options that leave retrying to ckptio (`_Store.retry`, `RemoteOptions.attempts`):
    one place decides how often a request is tried, and its counts are the ones reported.

    For S3 the client's own retries (botocore: 4 more attempts of 5xx, throttling and
    connection errors, under each of ours) are set to one attempt, unless the caller set them
    in ``config_kwargs``. Backends whose retries fsspec does not expose as an option (s3fs's
    class-level `retries` loop around botocore, gcsfs's decorator) are left alone: changing
    them would mean mutating a filesystem instance fsspec may share with other code."""
    options = dict(storage_options or {})
    if url.split("://", 1)[0] in ("s3", "s3a"):
        config = dict(options.get("config_kwargs") or {})
        config.setdefault("retries", {"total_max_attempts": 1})
        options["config_kwargs"] = config
    return options


def _store_for(
    url: str,
    storage_options: Mapping[str, Any] | None,
    options: RemoteOptions | None,
    fs: Any = None,
) -> _Store:
    if fs is None:
        fs = filesystem_for(url, _single_retry_layer(url, storage_options))
    return _Store(fs, options or RemoteOptions())


def _join(directory: str, name: str) -> str:
    if is_url(name) or name.startswith("/"):
        return name
    return posixpath.join(directory.rstrip("/"), name)


def _read_state(store: _Store, directory: str, latest_filename: str) -> list[str] | None:
    state_url = _join(directory, latest_filename)
    try:
        text = store.fetch_whole(state_url).decode("utf-8", "surrogateescape")
    except NotFoundError:
        return None
    # Relative entries are relative to the directory, as in TF; absolute local paths (TF1
    # savers wrote them) are kept and resolved against the directory by name later.
    return [_join(directory, p) for p in parse_checkpoint_state(text, state_url)]


def read_checkpoint_state_url(
    directory: str,
    latest_filename: str = "checkpoint",
    *,
    storage_options: Mapping[str, Any] | None = None,
) -> list[str] | None:
    """`ckptio.paths.read_checkpoint_state` for a directory URL: the checkpoints its state
    file names, newest first, or None when it has none."""
    store = _store_for(directory, storage_options, None)
    return _read_state(store, directory, latest_filename)


def _latest(store: _Store, directory: str, latest_filename: str) -> str | None:
    state = _read_state(store, directory, latest_filename)
    if state is None:
        return None
    candidates = [state[0]]
    if not is_url(state[0]):  # an absolute local path from another machine: look by name
        candidates = [_join(directory, posixpath.basename(state[0]))]
    for prefix in candidates:
        if store.objects.exists(prefix + ".index") or store.objects.exists(prefix):
            return prefix
    return None


def latest_checkpoint_url(
    directory: str,
    latest_filename: str = "checkpoint",
    *,
    storage_options: Mapping[str, Any] | None = None,
) -> str | None:
    """`ckptio.latest_checkpoint` for a directory URL: the newest checkpoint prefix its
    `checkpoint` state file names, or None (no state file, or the files are gone)."""
    store = _store_for(directory, storage_options, None)
    return _latest(store, directory.rstrip("/"), latest_filename)


def _resolve(store: _Store, url: str, depth: int = 0) -> Resolved:
    """Locate the checkpoint a URL names, with as few requests as possible: a prefix costs one
    GET (its index, kept for the reader); a directory adds its state file."""
    url = url.rstrip("/") if not url.endswith("://") else url
    if url.endswith(".index"):
        return Resolved("V2", url[: -len(".index")])
    data = DATA_SUFFIX.search(url)
    if data:
        return Resolved("V2", url[: data.start()])
    try:
        store.objects.keep_whole(url + ".index", store.fetch_whole(url + ".index"))
        return Resolved("V2", url)
    except NotFoundError:
        pass
    if depth < 2:
        state = _read_state(store, url, "checkpoint")
        if state is not None:
            latest = state[0] if is_url(state[0]) else _join(url, posixpath.basename(state[0]))
            try:
                return _resolve(store, latest, depth + 1)
            except NotFoundError:
                moved = _join(url, posixpath.basename(state[0]))
                if moved != latest:
                    return _resolve(store, moved, depth + 1)
                raise
    if any(c in url.split("://", 1)[1] for c in "*?["):
        matches = store.objects.glob(url + ".index")
        if len(matches) == 1:
            return Resolved("V2", matches[0][: -len(".index")])
        files = store.objects.glob(url)
        if files:
            return Resolved("V1", url)
        raise NotFoundError(NO_MATCH, file=url)
    try:
        size = store.objects.size(url)
    except NotFoundError:
        size = None
    except CheckpointError:
        size = None  # some filesystems cannot stat a "directory": try listing it
    if size is not None:
        return Resolved("V1", url)
    try:
        entries = store.objects.listing(url)
    except NotFoundError:
        entries = []
    bundles = sorted(
        e["url"][: -len(".index")]
        for e in entries
        if e.get("type") == "file"
        and e["url"].endswith(".index")
        and not TEMP_SUFFIX.search(e["url"])
    )
    nothing = "no checkpoint here (no .index, no `checkpoint` state file)"
    return Resolved("V2", only_checkpoint(bundles, url, nothing))


def resolve_url(url: str, *, storage_options: Mapping[str, Any] | None = None) -> Resolved:
    """`ckptio.paths.resolve` for URLs: the format and prefix of the checkpoint `url` names."""
    return _resolve(_store_for(url, storage_options, None), url)


def open_url(
    url: str,
    verify: bool = False,
    *,
    storage_options: Mapping[str, Any] | None = None,
    options: RemoteOptions | None = None,
    fs: Any = None,
    known_sizes: Mapping[str, int] | None = None,
) -> Checkpoint:
    """Open the checkpoint at `url` (what `ckptio.open` does for URLs).

    Args:
        url: an fsspec URL of a prefix, a directory (its `checkpoint` state file, or its only
            bundle), the `.index` or a data shard.
        verify: check every checksum now (this reads every byte once).
        storage_options: passed to fsspec for the URL's filesystem (``endpoint_url``,
            credentials, ``anon``...).
        options: retries, concurrency, caching (`RemoteOptions`).
        fs: an fsspec filesystem to use instead of making one from the URL.
        known_sizes: {shard URL: size} already known, to skip those HEAD requests.

    Returns a `RemoteCheckpoint` for V2 bundles, a `RemoteV1Checkpoint` for V1 files (read in
    place with ranged requests, like V2).
    """
    store = _store_for(url, storage_options, options, fs)
    if known_sizes:
        store.objects.seed_sizes(known_sizes)
    located = _resolve(store, url)
    if located.format == "V1":
        ckpt: Checkpoint = _open_v1(store, located.prefix)
    else:
        try:
            core = _core.BundleReader(located.prefix, opener=_opener(store))
        except BaseException:
            store.close()
            raise
        ckpt = RemoteCheckpoint(
            _RemoteCore(core), located.prefix, store, dict(storage_options or {})
        )
    return verified(ckpt) if verify else ckpt


def _open_v1(store: _Store, pattern: str) -> Checkpoint:
    """A V1 checkpoint read in place with ranged reads: opening reads each file's tail (footer,
    index and metaindex blocks) and the block holding its meta record; each tensor read
    fetches the blocks holding its slices."""
    if any(c in pattern.split("://", 1)[1] for c in "*?["):
        urls = store.objects.glob(pattern)  # records each file's size: no HEAD per file
    else:
        urls = [pattern]
    if not urls:
        raise NotFoundError(NO_MATCH, pattern)

    def open_source(url: str) -> _Source:
        return _Source(store, url, store.objects.size(url), tail=store.options.table_tail_bytes)

    try:
        core = _core.V1Reader(urls, opener=open_source)
    except BaseException:
        store.close()
        raise
    return RemoteV1Checkpoint(core, pattern, store)


# --------------------------------------------------------------------------- worker reuse

_OPEN_LOCK = threading.Lock()
_OPENED: dict[tuple[str, str], Checkpoint] = {}


def shared_checkpoint(
    path: str, storage_options: Mapping[str, Any] | None, known_sizes: Mapping[str, int] | None
) -> Checkpoint:
    """One open checkpoint per process and source, reused by every task that reads it (a
    worker fetches the index once, not once per task). Kept until the process ends."""
    key = (path, repr(sorted((storage_options or {}).items())))
    with _OPEN_LOCK:
        ckpt = _OPENED.get(key)
        if ckpt is not None and not ckpt.closed:
            if known_sizes and isinstance(ckpt, RemoteCheckpoint):
                ckpt._store.objects.seed_sizes(known_sizes)
            return ckpt
        if is_url(path):
            ckpt = open_url(path, storage_options=storage_options, known_sizes=known_sizes)
        else:
            ckpt = open_local(path)
        _OPENED[key] = ckpt
        return ckpt


def _clear_shared() -> None:
    with _OPEN_LOCK:
        opened = list(_OPENED.values())
        _OPENED.clear()
    for ckpt in opened:
        ckpt.close()
