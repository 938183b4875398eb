"""Prefetched byte ranges waiting for the reads they were fetched for."""

from __future__ import annotations

import threading
from concurrent.futures import Future

from .options import RemoteStats

__all__ = ["Block", "BlockCache"]


class Block:
    """Prefetched bytes of one shard, waiting for the reads they were fetched for."""

    __slots__ = ("future", "pending", "start", "stop", "url")

    def __init__(self, url: str, start: int, stop: int, future: Future[bytes]) -> None:
        self.url, self.start, self.stop, self.future = url, start, stop, future
        self.pending: set[tuple[int, int]] = set()  # (offset, n) not read yet


class BlockCache:
    """Prefetched blocks, oldest first, holding at most `cache_bytes` (older blocks dropped
    first); a block is dropped once every read it was fetched for has taken its bytes."""

    def __init__(self, cache_bytes: int, stats: RemoteStats) -> None:
        self._limit, self._stats = cache_bytes, stats
        self._lock = threading.Lock()
        self._blocks: list[Block] = []
        self.nbytes = 0

    def covers(self, url: str, offset: int, n: int) -> bool:
        with self._lock:
            return self._covering(url, offset, n) is not None

    def add(self, block: Block) -> None:
        with self._lock:
            self._blocks.append(block)
            self.nbytes += block.stop - block.start
            while self.nbytes > self._limit and len(self._blocks) > 1:
                old = self._blocks.pop(0)
                self.nbytes -= old.stop - old.start

    def _covering(self, url: str, offset: int, n: int) -> Block | None:
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
