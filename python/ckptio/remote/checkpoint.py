"""Checkpoints read from URLs: `open_url`, `RemoteCheckpoint` (V2) and `RemoteV1Checkpoint`."""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from typing import Any, Callable

import numpy as np

from .. import _core
from .._dtypes import STRING_ENUM, numpy_dtypes
from ..checkpoint import Checkpoint, basic_region, verified
from ..errors import CheckpointError, NotFoundError
from ..locate import NO_MATCH
from .filesystem import resolve_in
from .options import RemoteOptions
from .store import Source, Store, opener, store_for

__all__ = ["RemoteCheckpoint", "RemoteCore", "RemoteV1Checkpoint", "open_url"]


class RemoteCore:
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


class StoreBackedCheckpoint(Checkpoint):
    """What every checkpoint read from URLs shares: its `Store` (requests, retries, counters),
    closed with it."""

    def __init__(self, core: Any, url: str, fmt: str, store: Store) -> None:
        super().__init__(core, url, fmt)
        self._store = store

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

    def close(self) -> None:
        super().close()
        self._store.close()


class RemoteCheckpoint(StoreBackedCheckpoint):
    """A V2 checkpoint read from a URL: the `Checkpoint` API, plus prefetching and counters.

    Arrays own the bytes fetched for them (there is no mapping to keep alive); reading the same
    tensor twice fetches it twice unless it was prefetched again in between.
    """

    def __init__(self, core: Any, url: str, store: Store, storage_options: dict | None) -> None:
        super().__init__(core, url, "V2", store)
        self._extents: dict[str, int] | None = None
        me = weakref.ref(self)  # (no cycle through the C++ reader's opener)
        store.extent = lambda shard: _extent_of(me, shard)
        self.storage_options = dict(storage_options or {})

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


def _extent_of(ref: Callable[[], RemoteCheckpoint | None], shard: str) -> int | None:
    ckpt = ref()
    return None if ckpt is None or ckpt.closed else ckpt._extent(shard)


class RemoteV1Checkpoint(StoreBackedCheckpoint):
    """A V1 checkpoint read from URLs with ranged requests (see `_open_v1`)."""

    def __init__(self, core: Any, url: str, store: Store) -> None:
        super().__init__(core, url, "V1", store)


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
    store = store_for(url, storage_options, options, fs)
    if known_sizes:
        store.objects.seed_sizes(known_sizes)
    try:
        located = resolve_in(store, url)
    except BaseException:
        store.close()
        raise
    if located.format == "V1":
        ckpt: Checkpoint = _open_v1(store, located.prefix)
    else:
        try:
            core = _core.BundleReader(located.prefix, opener=opener(store))
        except BaseException:
            store.close()
            raise
        ckpt = RemoteCheckpoint(
            RemoteCore(core), located.prefix, store, dict(storage_options or {})
        )
    store.objects.clear()  # what locating kept and the reader did not take
    return verified(ckpt) if verify else ckpt


def _open_v1(store: Store, pattern: str) -> Checkpoint:
    """A V1 checkpoint read in place with ranged reads: opening reads each file's tail (footer,
    index and metaindex blocks) and the block holding its meta record; each tensor read
    fetches the blocks holding its slices."""
    if any(c in pattern.split("://", 1)[1] for c in "*?["):
        urls = store.objects.glob(pattern)  # records each file's size: no HEAD per file
    else:
        urls = [pattern]
    if not urls:
        raise NotFoundError(NO_MATCH, pattern)

    def open_source(url: str) -> Source:
        return Source(store, url, store.objects.size(url), tail=store.options.table_tail_bytes)

    try:
        core = _core.V1Reader(urls, opener=open_source)
    except BaseException:
        store.close()
        raise
    return RemoteV1Checkpoint(core, pattern, store)
