"""One open checkpoint per process and source, shared by the tasks of a worker."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from ..checkpoint import Checkpoint, open_local
from ..locate import is_url
from .checkpoint import RemoteCheckpoint, open_url

__all__ = ["shared_checkpoint"]

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
