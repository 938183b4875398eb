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
    """What is known about a filesystem's objects: sizes (asked, listed or seeded), and objects
    fetched whole and kept for their reader (the index the resolver fetched). Thread-safe."""

    def __init__(self, fs: Any, retry: RetryPolicy, stats: RemoteStats) -> None:
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
