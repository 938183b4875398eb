"""What is known about a filesystem's objects: sizes (asked, listed or seeded) and objects
fetched whole and kept for their reader."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from ..errors import NotFoundError
from ..locate import is_url
from .options import RemoteStats
from .retry import RetryPolicy

__all__ = ["Objects"]


class Objects:
    """What is known about a filesystem's objects: sizes (asked, listed or seeded), glob
    matches, and bytes fetched while locating a checkpoint and kept for its reader (an index
    fetched whole, a V1 file's tail). Thread-safe."""

    def __init__(self, fs: Any, retry: RetryPolicy, stats: RemoteStats) -> None:
        self.fs, self._retry, self._stats = fs, retry, stats
        self._lock = threading.Lock()
        self._sizes: dict[str, int] = {}
        self._whole: dict[str, bytes] = {}
        self._tails: dict[str, tuple[int, bytes]] = {}
        self._globs: dict[str, list[str]] = {}

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
        """The URLs matching `pattern`, sorted; their sizes are recorded (no HEAD later). Asked
        once: the resolver's answer is the reader's."""
        with self._lock:
            if pattern in self._globs:
                return list(self._globs[pattern])
        self._stats.add(lists=1)
        found = self._retry.call(
            "glob", pattern, lambda: self.fs.glob(self.path(pattern), detail=True)
        )
        protocol = pattern.split("://", 1)[0]
        urls = sorted(self._record(protocol, name, entry) for name, entry in found.items())
        with self._lock:
            self._globs[pattern] = urls
        return list(urls)

    def keep_whole(self, url: str, data: bytes) -> None:
        with self._lock:
            self._whole[url] = data

    def has_whole(self, url: str) -> bool:
        with self._lock:
            return url in self._whole

    def take_whole(self, url: str) -> bytes | None:
        with self._lock:
            return self._whole.pop(url, None)

    def keep_tail(self, url: str, start: int, data: bytes) -> None:
        """Keep the bytes from `start` to the end of `url` (a table's footer and index)."""
        with self._lock:
            self._tails[url] = (start, data)

    def kept_tail(self, url: str) -> tuple[int, bytes] | None:
        with self._lock:
            return self._tails.get(url)

    def take_tail(self, url: str) -> tuple[int, bytes] | None:
        with self._lock:
            return self._tails.pop(url, None)

    def clear(self) -> None:
        """Drop the kept bytes no reader took (and the glob matches): the checkpoint is open."""
        with self._lock:
            self._whole.clear()
            self._tails.clear()
            self._globs.clear()
