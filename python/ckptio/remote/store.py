"""One filesystem read through the retry policy: byte ranges fetched (whole, in parallel
parts, or prefetched into the block cache) and the sources the C++ reader reads through."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

from .cache import Block, BlockCache
from .objects import Objects
from .options import RemoteOptions, RemoteStats
from .retry import RetryPolicy, single_retry_layer

__all__ = ["Source", "Store", "filesystem_for", "opener", "store_for"]


class Store:
    """One filesystem read through the retry policy, with what is known about its objects,
    the prefetch cache, the fetch pool and the request counters. Thread-safe."""

    def __init__(self, fs: Any, options: RemoteOptions) -> None:
        self.fs = fs
        self.options = options
        self.stats = RemoteStats()
        self.policy = RetryPolicy(options, self.stats)
        self.objects = Objects(fs, self.policy, self.stats)
        self.cache = BlockCache(options.cache_bytes, self.stats)
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
            block = Block(url, start, stop, future)
            while i < len(wanted) and wanted[i][0] == url and start <= wanted[i][1]:
                _, offset, n = wanted[i]
                if offset + n > stop:
                    break
                block.pending.add((offset, n))
                i += 1
            self.cache.add(block)
            futures.append(future)
        return futures


class Source:
    """What the C++ reader reads through: a `size` and `read(offset, n)`.

    The store raises ckptio's errors of their real kind (NotFoundError for a missing object,
    CorruptionError for a response that stayed short or damaged); the core keeps the kind and
    adds the tensor name."""

    def __init__(
        self, store: Store, url: str, size: int, data: bytes | None = None, tail: int = 0
    ) -> None:
        self._store, self._url, self.size, self._data = store, url, size, data
        # A table (V1 file) is opened from its end: footer, index block, metaindex. The first
        # read there fetches the last `tail` bytes in one request and serves the rest from them.
        self._tail_start = max(0, size - tail) if tail else size
        self._tail: bytes | None = None
        kept = store.objects.take_tail(url) if tail else None
        if kept is not None:  # fetched by the resolver to tell a table (ckptio.remote.filesystem)
            self._tail_start, self._tail = kept

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


def opener(store: Store) -> Callable[[str], Source]:
    def open_source(url: str) -> Source:
        data = store.objects.take_whole(url)
        if data is None and url.endswith(".index"):
            data = store.fetch_whole(url)  # one request, no HEAD: the index is read whole
        if data is not None:
            return Source(store, url, len(data), data)
        # A shard's size is taken from the index (the end of its last record) rather than
        # asked with a HEAD request: reads past the real end come back short or refused, and
        # are reported as corruption like a short local file.
        size = store.objects.known_size(url)
        if size is None:
            size = store.extent(url)
        return Source(store, url, size if size is not None else store.objects.size(url))

    return open_source


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


def store_for(
    url: str,
    storage_options: Mapping[str, Any] | None,
    options: RemoteOptions | None,
    fs: Any = None,
) -> Store:
    if fs is None:
        fs = filesystem_for(url, single_retry_layer(url, storage_options))
    return Store(fs, options or RemoteOptions())
