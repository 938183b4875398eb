"""How remote reads are made (`RemoteOptions`) and what they cost (`RemoteStats`)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

__all__ = ["RemoteOptions", "RemoteStats"]

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
