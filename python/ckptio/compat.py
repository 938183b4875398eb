"""Drop-in look-alikes of TensorFlow's checkpoint reader functions, without TensorFlow.

    from ckptio import compat as tf_ckpt
    reader = tf_ckpt.load_checkpoint("model.ckpt-1000")   # tf.train.load_checkpoint
    reader.get_variable_to_shape_map()                     # {name: [dims]}
    reader.get_tensor("dense/kernel")                      # a numpy copy, like TF

Values match TF's: dtype maps give objects whose `.name` is TF's dtype name; `get_tensor`
returns a fresh array (a numpy scalar for rank 0, `bytes` for a scalar string), checksum
verified as TF always does.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from typing import Any

from .paths import is_url, resolve, v1_files
from .reader import Checkpoint
from .reader import open as _open

__all__ = [
    "CheckpointReader",
    "DType",
    "NewCheckpointReader",
    "list_variables",
    "load_checkpoint",
    "load_variable",
]


class DType:
    """Stands in for `tf.DType` in dtype maps: `.name` is TF's name ("float32", "string")."""

    __slots__ = ("_numpy", "name")

    def __init__(self, name: str, numpy_dtype: Any) -> None:
        self.name = name
        self._numpy = numpy_dtype

    @property
    def as_numpy_dtype(self) -> Any:
        """The numpy type (`object` for strings), like `tf.DType.as_numpy_dtype`."""
        return self._numpy

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DType):
            return self.name == other.name
        return getattr(other, "name", other) == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"tf.{self.name}"


class CheckpointReader:
    """TF's `CheckpointReader` (what `tf.train.load_checkpoint` returns), TF-free."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._ckpt: Checkpoint = _open(path)

    def get_variable_to_shape_map(self) -> dict[str, list[int]]:
        return {name: list(shape) for name, shape in self._ckpt.shapes().items()}

    def get_variable_to_dtype_map(self) -> dict[str, DType]:
        dtypes = self._ckpt.dtypes()
        return {
            name: DType(tf_name, object if dtypes[name] == "string" else dtypes[name])
            for name, tf_name in self._ckpt.dtype_names().items()
        }

    def has_tensor(self, name: str) -> bool:
        return name in self._ckpt

    def get_tensor(self, name: str) -> Any:
        return _value(self._ckpt, name)

    def debug_string(self) -> bytes:
        return self._ckpt.debug_string()

    def close(self) -> None:
        self._ckpt.close()


def NewCheckpointReader(path: str | os.PathLike[str]) -> CheckpointReader:
    """`tf.compat.v1.train.NewCheckpointReader` without TensorFlow."""
    return CheckpointReader(path)


def load_checkpoint(path: str | os.PathLike[str]) -> CheckpointReader:
    """`tf.train.load_checkpoint`: a prefix, or a directory with a `checkpoint` state file."""
    return CheckpointReader(path)


# --- Reader cache for the one-call functions ---------------------------------------------------
# Loaders call load_variable(path, name) once per variable: without a cache each call would
# parse the whole index again. An open reader is reused only while every file it read still has
# the same identity (device, inode), size and mtime, so a checkpoint rewritten in place or
# replaced is reopened, never served stale. Files modified within _RACY_NS of the open are not
# trusted (a filesystem's coarse timestamps could hide a same-size rewrite in the same tick):
# such a checkpoint is opened afresh on every call, as TF does.
_CACHE_SIZE = 4
_RACY_NS = 2_000_000_000
_cache: OrderedDict[tuple[str, str], tuple[tuple[Any, ...], Checkpoint]] = OrderedDict()
_cache_lock = threading.Lock()
# Paths that named a V2 checkpoint by its own prefix (what loaders pass), so that a call can
# find its cached reader without resolving the path again: such a path resolves the same while
# it is no directory and its .index is the file cached (checked by the reader's identity).
_as_prefix: dict[str, tuple[str, str]] = {}
_AS_PREFIX_SIZE = 64


def _identity(files: list[str]) -> tuple[Any, ...] | None:
    """(path, dev, ino, size, mtime_ns) of each file, or None if one is missing."""
    out = []
    for f in files:
        try:
            st = os.stat(f)
        except OSError:
            return None
        out.append((f, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)


def clear_cache() -> None:
    """Close the readers kept for `load_variable` / `list_variables`."""
    with _cache_lock:
        for _, ckpt in _cache.values():
            ckpt.close()
        _cache.clear()
        _as_prefix.clear()


def _cached(key: tuple[str, str], check_v1: bool) -> Checkpoint | None:
    """The cached reader under `key` if its files are still the ones it read, else None (a
    stale one is closed and dropped). Called with _cache_lock held."""
    hit = _cache.get(key)
    if hit is None:
        return None
    ident, ckpt = hit
    files = [f[0] for f in ident]
    if (not check_v1 or v1_files(key[1]) == files) and _identity(files) == ident:
        _cache.move_to_end(key)
        return ckpt
    del _cache[key]
    ckpt.close()
    return None


def _with_checkpoint(path: str | os.PathLike[str], use: Any) -> Any:
    """Call use(checkpoint) with a cached reader of `path` when it is provably current."""
    if is_url(path):
        with _open(path) as ckpt:
            return use(ckpt)
    given = os.fspath(path)
    key = _as_prefix.get(given) if isinstance(given, str) else None
    if key is not None and not os.path.isdir(given):
        with _cache_lock:  # held while in use: another call may otherwise close it meanwhile
            cached = _cached(key, check_v1=False)
            if cached is not None:
                return use(cached)
    located = resolve(path)
    key = (located.format, located.prefix)
    if located.format == "V2" and located.prefix == given:
        if len(_as_prefix) >= _AS_PREFIX_SIZE:
            _as_prefix.clear()
        _as_prefix[given] = key
    with _cache_lock:
        cached = _cached(key, check_v1=located.format == "V1")
        if cached is not None:
            return use(cached)
    opened_ns = time.time_ns()
    first = located.prefix + ".index" if located.format == "V2" else None
    before = _identity([first]) if first else None
    ckpt = _open(located.prefix)
    try:
        result = use(ckpt)
        ident = _identity(ckpt.files())
        cacheable = (
            ident is not None
            and (first is None or (before is not None and before[0] == ident[0]))
            and all(f[4] < opened_ns - _RACY_NS for f in ident)
        )
    except BaseException:
        ckpt.close()
        raise
    if not cacheable:
        ckpt.close()
        return result
    with _cache_lock:
        old = _cache.pop(key, None)
        if old is not None:
            old[1].close()
        _cache[key] = (ident, ckpt)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)[1][1].close()
    return result


def _value(ckpt: Checkpoint, name: str) -> Any:
    value = ckpt.get_tensor(name, copy=True, verify=True)
    if not value.flags.writeable:  # (empty string tensors): TF's arrays are always writable
        value = value.copy()
    return value[()] if value.ndim == 0 else value


def list_variables(path: str | os.PathLike[str]) -> list[tuple[str, list[int]]]:
    """`tf.train.list_variables`: sorted (name, shape) pairs."""
    return _with_checkpoint(
        path, lambda ckpt: sorted((name, list(shape)) for name, shape in ckpt.shapes().items())
    )


def load_variable(path: str | os.PathLike[str], name: str) -> Any:
    """`tf.train.load_variable`: one tensor's value; a trailing `:0` is ignored."""
    if name.endswith(":0"):
        name = name[:-2]
    return _with_checkpoint(path, lambda ckpt: _value(ckpt, name))
