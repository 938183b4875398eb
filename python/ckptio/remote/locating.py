"""Locating a checkpoint on a URL: a prefix, a directory (its `checkpoint` state file, or its
only bundle), the `.index` or a data shard, with as few requests as possible."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from ..errors import CheckpointError, NotFoundError
from ..locate import (
    DATA_SUFFIX,
    NO_MATCH,
    TEMP_SUFFIX,
    Resolved,
    is_url,
    only_checkpoint,
    parse_checkpoint_state,
)
from .store import Store, store_for

__all__ = ["latest_checkpoint_url", "read_checkpoint_state_url", "resolve_in", "resolve_url"]


def _join(directory: str, name: str) -> str:
    if is_url(name) or name.startswith("/"):
        return name
    return posixpath.join(directory.rstrip("/"), name)


def _read_state(store: Store, directory: str, latest_filename: str) -> list[str] | None:
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
    store = store_for(directory, storage_options, None)
    return _read_state(store, directory, latest_filename)


def _latest(store: Store, directory: str, latest_filename: str) -> str | None:
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
    store = store_for(directory, storage_options, None)
    return _latest(store, directory.rstrip("/"), latest_filename)


def resolve_in(store: Store, url: str, depth: int = 0) -> Resolved:
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
                return resolve_in(store, latest, depth + 1)
            except NotFoundError:
                moved = _join(url, posixpath.basename(state[0]))
                if moved != latest:
                    return resolve_in(store, moved, depth + 1)
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
    return resolve_in(store_for(url, storage_options, None), url)
