"""The resolver's `FileSystem` (ckptio.locate) over an fsspec filesystem, and the URL forms
of `resolve`, `latest_checkpoint` and `read_checkpoint_state`.

The rules are ckptio.locate's, as for local paths; this module only answers their questions
with as few requests as it can. What a question fetches is kept for the reader that opens the
checkpoint next (an `.index` fetched whole, a V1 file's tail), and every answer is remembered for
the rest of the resolution, so no object is asked about twice.
"""

from __future__ import annotations

import glob
import posixpath
from collections.abc import Mapping
from typing import IO, Any

from ..errors import CheckpointError, NotFoundError
from ..filekinds import TABLE_FOOTER, is_table_tail
from ..locate import Entry, Resolved, Resolver, is_url
from .store import Store, store_for

__all__ = [
    "FsspecFileSystem",
    "latest_checkpoint_url",
    "read_checkpoint_state_url",
    "resolve_in",
    "resolve_url",
]


class FsspecFileSystem:
    """`ckptio.locate.FileSystem` over a `Store` (an fsspec filesystem, the retry policy and
    the object sizes known so far).

    With `fetch_index` (the default), asking whether an `.index` exists fetches it whole, one
    GET, and keeps it for the reader that opens the checkpoint next, where a HEAD now would be
    followed by the reader's GET (and a HEAD of a missing object costs s3fs a listing too).
    Other questions of existence are one HEAD."""

    # On an object store a directory is only a key prefix: asking costs a listing, so the
    # `.index` and the state file are tried first (one GET each).
    directory_first = False

    def __init__(self, store: Store, *, fetch_index: bool = True) -> None:
        self.store, self.fetch_index = store, fetch_index
        self._missing: set[str] = set()
        self._listings: dict[str, list[Entry]] = {}

    def normalize(self, path: str) -> str:
        return path.rstrip("/") if not path.endswith("://") else path

    def holds(self, path: str) -> bool:
        return is_url(path)

    def _absent(self, path: str) -> bool:
        """Whether `path` is known not to be there, without a request: asked before, not in
        its directory's listing, or under an object (which has no children)."""
        if path in self._missing:
            return True
        parent = posixpath.dirname(path)
        if parent in self._listings:
            return all(e.path != path for e in self._listings[parent])
        above = self._listings.get(posixpath.dirname(parent))
        return above is not None and any(e.path == parent and not e.is_dir for e in above)

    @staticmethod
    def _pattern(path: str) -> bool:
        # A URL with glob characters is a pattern (as in TF's GetMatchingPaths), not an
        # object's name; only its `.index` is asked for by name, as ever.
        return glob.has_magic(path.split("://", 1)[1]) and not path.endswith(".index")

    def is_file(self, path: str) -> bool:
        objects = self.store.objects
        if not is_url(path) or self._pattern(path):
            return False
        if objects.known_size(path) is not None or objects.has_whole(path):
            return True
        if self._absent(path):
            return False
        try:
            if self.fetch_index and path.endswith(".index"):
                objects.keep_whole(path, self.store.fetch_whole(path))
            else:
                objects.size(path)
            return True
        except NotFoundError:
            pass
        except CheckpointError:
            if path.endswith(".index"):
                raise  # refused credentials, say: the error says so
            # (some filesystems cannot stat a "directory": it is not a file)
        self._missing.add(path)
        return False

    def exists(self, path: str) -> bool:
        return self.is_file(path)  # an object store has objects, and prefixes of their keys

    def is_dir(self, path: str) -> bool:
        return not self._pattern(path) and bool(self.listdir(path))

    def listdir(self, directory: str) -> list[Entry]:
        if not is_url(directory):
            return []
        if directory not in self._listings:
            try:
                found = self.store.objects.listing(directory)
            except NotFoundError:
                found = []
            entries = [
                Entry(posixpath.basename(e["url"]), e["url"], e.get("type") == "directory")
                for e in found
                if e["url"].rstrip("/") != directory  # (a listing of a file lists the file)
            ]
            self._listings[directory] = sorted(entries)
        return self._listings[directory]

    def glob(self, pattern: str) -> list[str]:
        if not is_url(pattern):
            return []
        if not glob.has_magic(pattern.split("://", 1)[1]):
            return [pattern] if self.is_file(pattern) else []  # no listing for one name
        return self.store.objects.glob(pattern)

    def read_text(self, path: str) -> str | None:
        if not is_url(path) or self._absent(path):
            return None
        try:
            data = self.store.fetch_whole(path)
        except NotFoundError:
            self._missing.add(path)
            return None
        return data.decode("utf-8", "surrogateescape")

    def head(self, path: str, n: int) -> tuple[bytes, int] | None:
        if not self.is_file(path):
            return None
        objects = self.store.objects
        size = objects.size(path)
        n = min(n, size)
        kept = objects.kept_tail(path)
        if kept is not None and kept[0] == 0 and len(kept[1]) >= n:
            return kept[1][:n], size
        try:
            return self.store.fetch(path, 0, n), size
        except NotFoundError:
            return None

    def is_table(self, path: str) -> bool:
        """Whether `path` ends like a table: its tail is fetched (the `RemoteOptions.
        table_tail_bytes` a V1 reader starts from) and kept for that reader."""
        if not self.is_file(path):
            return False
        objects = self.store.objects
        size = objects.size(path)
        if size < TABLE_FOOTER:
            return False
        kept = objects.kept_tail(path)
        if kept is not None:
            return is_table_tail(kept[1], size)
        start = max(0, size - max(TABLE_FOOTER, self.store.options.table_tail_bytes))
        try:
            tail = self.store.fetch(path, start, size - start)
        except NotFoundError:
            return False
        objects.keep_tail(path, start, tail)
        return is_table_tail(tail, size)

    def open(self, path: str) -> IO[bytes]:
        return self.store.fs.open(self.store.objects.path(path), "rb")


def resolve_in(store: Store, url: str) -> Resolved:
    """The checkpoint `url` names, located through `store` (ckptio.locate's rules): a prefix
    costs one request (its `.index`), a directory adds its state file."""
    return Resolver(FsspecFileSystem(store)).resolve(url)


def resolve_url(url: str, *, storage_options: Mapping[str, Any] | None = None) -> Resolved:
    """`ckptio.paths.resolve` for URLs: the format and prefix of the checkpoint `url` names."""
    return resolve_in(store_for(url, storage_options, None), url)


def read_checkpoint_state_url(
    directory: str,
    latest_filename: str = "checkpoint",
    *,
    storage_options: Mapping[str, Any] | None = None,
) -> list[str] | None:
    """`ckptio.paths.read_checkpoint_state` for a directory URL: the checkpoints its state
    file names, newest first, or None when it has none."""
    store = store_for(directory, storage_options, None)
    return Resolver(FsspecFileSystem(store)).state(directory, latest_filename)


def latest_checkpoint_url(
    directory: str,
    latest_filename: str = "checkpoint",
    *,
    storage_options: Mapping[str, Any] | None = None,
) -> str | None:
    """`ckptio.latest_checkpoint` for a directory URL: the newest checkpoint prefix its
    `checkpoint` state file names, or None (no state file, or the files are gone)."""
    store = store_for(directory, storage_options, None)
    # The newest entry's `.index` is asked with a HEAD: nothing is opened here.
    resolver = Resolver(FsspecFileSystem(store, fetch_index=False))
    return resolver.latest(directory.rstrip("/"), latest_filename)
