"""The `Checkpoint` mapping of names to read-only arrays, and opening one from local files.

`ckptio.open` (ckptio.reader) picks this or ckptio.remote by the path; `RemoteCheckpoint`
overrides the methods marked as such."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

from . import _core
from ._dtypes import STRING_ENUM, numpy_dtypes
from .errors import CheckpointError, CorruptionError, NotFoundError, UnsupportedError
from .locate import check_not_lfs_pointer, resolve_local, v1_files

__all__ = [
    "Checkpoint",
    "SliceExtent",
    "TensorInfo",
    "TensorLocation",
    "TensorSlice",
    "open_local",
    "verified",
]

if TYPE_CHECKING:
    import numpy as np

# How far `read_many` asks ahead on local files by default: the disk's parallel rate is
# reached with a few 16 MiB reads in flight.
_LOCAL_WINDOW = 64 << 20

# numpy is imported when a tensor is first read, not with this module (see _dtypes).
DType = Union["np.dtype", str]
"""A numpy dtype, or "string" for string tensors (object arrays of bytes), or TF's name for
dtypes numpy cannot hold ("variant", "resource")."""


@dataclass(frozen=True)
class TensorInfo:
    """What the index says about one tensor, without reading it.

    Attributes:
        name: the key in the checkpoint.
        dtype: numpy dtype, "string", or TF's name for unreadable dtypes ("variant").
        dtype_name: TF's name for the dtype ("float32", "bfloat16", "string", ...).
        shape: the full shape.
        nbytes: bytes the tensor occupies in the data files (all slices, for partitioned ones).
        shard: data shard index, or None for a partitioned tensor (its slices have their own).
        offset: byte offset in that shard, or None for a partitioned tensor.
        sliced: True for a partitioned tensor stored as several slices.
    """

    name: str
    dtype: DType
    dtype_name: str
    shape: tuple[int, ...]
    nbytes: int
    shard: int | None
    offset: int | None
    sliced: bool

    @property
    def size(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)

    def _repr_html_(self) -> str:
        rows = [
            ("name", html_name(self.name)),
            ("dtype", html_escape(self.dtype_name)),
            ("shape", html_escape(_fmt_shape(self.shape))),
            ("elements", f"{self.size:,}"),
            ("stored", html_escape(human_bytes(self.nbytes))),
            ("partitioned" if self.sliced else "location",
             "yes" if self.sliced else f"shard {self.shard}, offset {self.offset:,}"),
        ]  # fmt: skip
        body = "".join(
            f"<tr><th style='text-align:left'>{k}</th><td>{v}</td></tr>" for k, v in rows
        )
        return f"<table>{body}</table>"


@dataclass(frozen=True)
class SliceExtent:
    """One stored slice of a partitioned tensor: where it sits in the full tensor, and the key
    of its own record (`Checkpoint.location(key)`)."""

    starts: tuple[int, ...]
    lengths: tuple[int, ...]
    key: str | bytes


@dataclass(frozen=True)
class TensorLocation:
    """Where one tensor's record is stored, as the index says (nothing is read).

    The one typed form of the core's index entry: every module that needs offsets, sizes or
    checksums takes them from here (`Checkpoint.location`).

    Attributes:
        name: the key in the checkpoint.
        dtype_enum: TF's DataType number; dtype_name: TF's name for it ("float32", ...).
        shape: the full shape; num_elements: its product.
        path: the data file (local path or URL) holding the bytes, or None (a partitioned
            tensor's own entry, a V1 tensor, or an entry without data).
        shard: data shard index, or None. offset: byte offset in that file, or None.
        size: bytes stored in this record (0 for a partitioned tensor's own entry).
        masked_crc32c: the stored masked CRC32C of those bytes (None when there is none).
        sliced: True for a partitioned tensor; slices: its stored slices (empty otherwise);
        slices_cover_tensor: whether those slices tile the whole tensor.
    """

    name: str
    dtype_enum: int
    dtype_name: str
    shape: tuple[int, ...]
    num_elements: int
    path: str | None
    shard: int | None
    offset: int | None
    size: int
    masked_crc32c: int | None
    sliced: bool
    slices: tuple[SliceExtent, ...]
    slices_cover_tensor: bool

    @classmethod
    def from_core(cls, d: Mapping[str, Any]) -> TensorLocation:
        """From the core's `info()` dict: the only place its keys are read."""
        return cls(
            name=d["name"],
            dtype_enum=d["dtype_enum"],
            dtype_name=d["dtype_name"],
            shape=tuple(d["shape"]),
            num_elements=d["num_elements"],
            path=d.get("data_path"),
            shard=d.get("shard"),
            offset=d.get("offset"),
            size=d["size"],
            masked_crc32c=d.get("masked_crc32c"),
            sliced=bool(d["sliced"]),
            slices=tuple(
                SliceExtent(tuple(starts), tuple(lengths), key)
                for starts, lengths, key in d["slices"]
            ),
            slices_cover_tensor=bool(d.get("slices_cover_tensor", False)),
        )

    @property
    def dtype(self) -> DType:
        """numpy dtype, "string", or TF's name for dtypes numpy cannot hold."""
        return _dtype_of(self.dtype_enum, self.dtype_name)


# --- notebook display ---------------------------------------------------------------------
HTML_MAX_ROWS = 60
"""Rows a checkpoint's HTML table shows (the first and last halves; the count of the rest)."""

_HTML_NAME_CHARS = 120


def html_escape(text: str) -> str:
    import html

    return html.escape(text, quote=True)


def html_name(name: str) -> str:
    """A tensor name for HTML: escaped, its middle elided past _HTML_NAME_CHARS (full name in
    the tooltip)."""
    shown = name
    if len(name) > _HTML_NAME_CHARS:
        half = _HTML_NAME_CHARS // 2 - 1
        shown = name[:half] + "\u2026" + name[-half:]
    return f"<code title='{html_escape(name)}'>{html_escape(shown)}</code>"


def _fmt_shape(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


def human_bytes(nbytes: int, *, group_digits: bool = True) -> str:
    """`nbytes` as "512 B", "1.5 KiB" ... "2.0 TiB"; whole bytes with thousands separators
    unless `group_digits=False`."""
    value, unit = float(nbytes), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    if unit == "B":
        return f"{nbytes:,} B" if group_digits else f"{nbytes} B"
    return f"{value:.1f} {unit}"


def html_table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]], caption: str) -> str:
    """An HTML table of already-escaped cells; past HTML_MAX_ROWS rows, the first and last
    halves with a row saying how many were left out."""
    if len(rows) > HTML_MAX_ROWS:
        half = HTML_MAX_ROWS // 2
        gap = (f"\u2026 {len(rows) - 2 * half:,} more \u2026",) + ("",) * (len(header) - 1)
        rows = [*rows[:half], gap, *rows[-half:]]
    head = "".join(f"<th style='text-align:left'>{h}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td style='text-align:left'>{c}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return (
        f"<table><caption style='text-align:left'>{caption}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _dtype_of(enum: int, name: str) -> DType:
    if enum == STRING_ENUM:
        return "string"
    return numpy_dtypes().get(enum, name)


class Checkpoint(Mapping[str, "np.ndarray"]):
    """An open checkpoint: a read-only mapping from tensor names to numpy arrays.

    Arrays are zero-copy views of the memory-mapped data shards, read-only, and stay valid after
    `close()`: each keeps its shard mapped until the array itself is gone. Partitioned tensors are
    listed once under their full name and assembled on read; string tensors are object arrays of
    `bytes`. Use as a context manager to close it promptly.
    """

    def __init__(self, core: Any, path: str, format: str) -> None:
        self._core = core
        self.path = path
        """What the checkpoint was opened from (the prefix for V2, the file pattern for V1)."""
        self.format = format
        """"V2" (TensorBundle) or "V1" (legacy tensor-slice table, possibly sharded)."""
        self._names: list[str] | None = None
        self._index: dict[str, int] | None = None
        self._partitioned: frozenset[str] | None = None
        self.framework = "np"
        """What `get_tensor` and `[name]` return: "np" (numpy arrays) or "pt" (torch tensors
        sharing the arrays' memory; see `open`)."""
        self._to_framework: Any = None
        self.storage_options: dict[str, Any] = {}
        """The fsspec options a remote checkpoint was opened with (workers reopen it with
        them); empty for local files."""

    # --- Mapping ------------------------------------------------------------------------
    def _name_list(self) -> list[str]:
        if self._names is None:
            self._names = self._core.names()
        return self._names

    def _name_index(self) -> dict[str, int]:
        if self._index is None:
            self._index = {name: i for i, name in enumerate(self._name_list())}
        return self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._name_list())

    def __len__(self) -> int:
        return len(self._name_list())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._name_index()

    def __getitem__(self, name: str) -> np.ndarray:
        return self.get_tensor(name)

    # A checkpoint is an open resource, not a value: equal only to itself, hashable. (Mapping's
    # __eq__ would compare every array, and numpy's answer to `==` has no truth value.)
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{len(self)} tensors"
        return f"<ckptio.Checkpoint {self.format} {self.path!r} ({state})>"

    def _ipython_key_completions_(self) -> list[str]:
        """IPython/Jupyter: `ckpt["conv1/<TAB>` completes tensor names."""
        return [] if self.closed else list(self._name_list())

    def _repr_html_(self) -> str:
        """Jupyter: a table of the tensors (name, dtype, shape, stored size), from the index."""
        if self.closed:
            return f"<code>{html_escape(repr(self))}</code>"
        rows, params, total = [], 0, 0
        for name, dtype, shape, nbytes in self.summary():
            rows.append(
                (
                    html_name(name),
                    html_escape(dtype),
                    html_escape(_fmt_shape(shape)),
                    human_bytes(nbytes),
                )
            )
            params += math.prod(shape)
            total += nbytes
        caption = (
            f"<b>ckptio.Checkpoint</b> {self.format} <code>{html_escape(str(self.path))}</code>: "
            f"{len(rows):,} tensors, {params:,} parameters, {human_bytes(total)}"
        )
        return html_table(("name", "dtype", "shape", "size"), rows, caption)

    # --- Reading ------------------------------------------------------------------------
    def get_tensor(self, name: str, *, copy: bool = False, verify: bool = False) -> np.ndarray:
        """The tensor `name` as a numpy array.

        By default a read-only view of the mapped data (no bytes read until used). With
        `copy=True`, a fresh writable array; with `verify=True` the stored checksum is checked
        first (in the same pass as the copy). Raises NotFoundError (a KeyError) for unknown names.
        """
        value = self._numpy(name, copy=copy, verify=verify)
        if self._to_framework is not None:
            return self._to_framework(value, copy)
        return value

    def _numpy(self, name: str, *, copy: bool = False, verify: bool = False) -> np.ndarray:
        """`get_tensor` as a numpy array, whatever `framework` says."""
        if name in self._partitioned_names():
            return self._assemble(self._require(name), None, copy=copy, verify=verify)
        if not isinstance(name, str):
            raise TypeError(f"tensor names are str, not {type(name).__name__}")
        return self._core.tensor(name, copy=copy, verify=verify)

    def get_dtype(self, name: str) -> DType:
        """The dtype of `name` from the index alone: a numpy dtype, "string", or TF's name for
        dtypes numpy cannot hold (as `dtypes()`; `info(name).dtype_name` gives TF's name)."""
        return self._require(name).dtype

    def info(self, name: str) -> TensorInfo:
        """Name, dtype, shape, size and location of one tensor, without reading it."""
        loc = self._require(name)
        nbytes = loc.size
        if loc.slices:
            nbytes = sum(r.size for r in self.stored_records(name))
        return TensorInfo(
            name=loc.name,
            dtype=loc.dtype,
            dtype_name=loc.dtype_name,
            shape=loc.shape,
            nbytes=nbytes,
            shard=loc.shard,
            offset=loc.offset,
            sliced=loc.sliced,
        )

    def location(self, name: str) -> TensorLocation:
        """Where `name` is stored (file, shard, offset, size, checksum, slices), from the index.
        A partitioned tensor's slices have records of their own: `stored_records(name)`.
        Raises NotFoundError for unknown names."""
        return self._require(name)

    def stored_records(self, name: str) -> list[TensorLocation]:
        """The records holding `name`'s bytes: its own, or those of each of its slices."""
        loc = self._require(name)
        if not loc.slices:
            return [loc]
        return [TensorLocation.from_core(self._core.info(s.key)) for s in loc.slices]

    def _partitioned_names(self) -> frozenset[str]:
        if self._partitioned is None:
            self._partitioned = frozenset(self._core.partitioned_names())
        return self._partitioned

    # The maps are built in one pass in the core, straight into the dict (no per-key Python).
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """{name: shape} for every tensor, in key order."""
        return self._core.shape_map()

    def dtypes(self) -> dict[str, DType]:
        """{name: numpy dtype, or "string"} for every tensor, in key order."""
        return self._core.dtype_map()

    def summary(self) -> list[tuple[str, str, tuple[int, ...], int]]:
        """(name, TF dtype name, shape, stored bytes) of every tensor in key order, from the
        index alone: the cheapest complete listing."""
        return self._core.summary()

    def nbytes(self) -> dict[str, int]:
        """{name: bytes of its values as stored} for every tensor, in key order (V1: decoded
        size; strings there count 0 until read)."""
        return self._core.nbytes_map()

    def listing(
        self, names: list[str] | None = None, *, by_size: bool = False, as_json: bool = False
    ) -> tuple[int, int, int, str | list[tuple[str, str, tuple[int, ...], int]]] | None:
        """What `ckptio ls` prints of `names` (default: every tensor), from the index in one
        pass in the core: (tensors, parameters, stored bytes, listing) with the listing in
        natural name order (by descending size first with `by_size`): the JSON array of
        `ls --json`, or (name, TF dtype name, shape, stored bytes) rows. None when a name holds
        a digit run too long for the core to order (the caller sorts in Python)."""
        return self._core.ls(names, by_size=by_size, as_json=as_json)

    def dtype_names(self) -> dict[str, str]:
        """{name: TF dtype name} for every tensor ("float32", "bfloat16", "string", ...)."""
        return self._core.dtype_name_map()

    def get_slice(self, name: str) -> TensorSlice:
        """A lazy handle on one tensor: index it (`[0:10, ...]`) to read only that region."""
        return TensorSlice(self, name)

    def verify(self, name: str | None = None) -> None:
        """Check stored checksums: of `name`, or of every tensor. Raises CorruptionError."""
        if name is not None:
            self._require(name)
        self._core.verify(name)

    def debug_string(self) -> bytes:
        """The index as text, as TF's `CheckpointReader.debug_string` gives it."""
        return self._core.debug_string()

    # --- Reads a remote checkpoint does its own way (ckptio.remote overrides these) ----
    @property
    def is_remote(self) -> bool:
        """Whether the data is read through requests (a URL) rather than mapped files."""
        return False

    @property
    def stats(self) -> dict[str, int]:
        """Requests made and bytes received so far: empty for mapped files (nothing is
        requested); see `RemoteCheckpoint.stats`."""
        return {}

    def files(self) -> list[str]:
        """The local files this checkpoint reads: the `.index` and every data shard (V2), or the
        table files (V1)."""
        if self.format == "V1":
            return v1_files(self.path)
        n = self._core.num_shards
        return [self.path + ".index"] + [f"{self.path}.data-{i:05d}-of-{n:05d}" for i in range(n)]

    def shard_sizes(self) -> dict[str, int]:
        """{data file: size} already known without asking storage (a remote checkpoint passes
        them to workers that reopen it); empty for local files, whose sizes cost one stat."""
        return {}

    def prefetch(self, names: Iterable[str], *, wait: bool = False) -> int:
        """Start fetching the bytes of `names` ahead of their reads; returns the bytes
        requested. Mapped files: the kernel is asked to read them into its cache without
        waiting (bytes cached already are not asked for again); `wait` is ignored. V1 files
        (decoded on read): 0."""
        prefetch = getattr(self._core, "prefetch", None)
        if prefetch is None or self.closed:
            return 0
        return prefetch(names if isinstance(names, (list, tuple)) else list(names))

    def read_many(
        self,
        names: Iterable[str],
        *,
        verify: bool = False,
        copy: bool = False,
        window_bytes: int | None = None,
    ) -> Iterator[tuple[str, np.ndarray]]:
        """(name, array) for each of `names`, in order, fetching ahead.

        While one window of tensors (`window_bytes`; see `_windows`) is handed out, the next is
        being fetched (`prefetch`): on a cold disk the next tensors' reads are in flight while
        the caller works on this one, in whatever order `names` come.
        """
        windows = self._windows(list(names), window_bytes)
        if windows:
            self.prefetch(windows[0])
        for i, chunk in enumerate(windows):
            if i + 1 < len(windows):
                self.prefetch(windows[i + 1])
            for name in chunk:
                yield name, self.get_tensor(name, copy=copy, verify=verify)

    def _windows(self, names: list[str], window_bytes: int | None) -> list[list[str]]:
        """`names` cut into the consecutive groups `read_many` prefetches one at a time: up to
        `window_bytes` (default 64 MiB) of stored bytes each, so that what is asked for ahead
        stays bounded (a tensor larger than a window is a window of its own; names not in
        the checkpoint count nothing, their read reports them)."""
        if self.format == "V1" or not names:
            return [names] if names else []  # V1 is decoded on read: nothing to fetch ahead
        window = max(1, window_bytes or _LOCAL_WINDOW)
        sizes = self.nbytes()
        windows: list[list[str]] = []
        current: list[str] = []
        size = 0
        for name in names:
            nbytes = sizes.get(name, 0) if isinstance(name, str) else 0
            if current and size + nbytes > window:
                windows.append(current)
                current, size = [], 0
            current.append(name)
            size += nbytes
        windows.append(current)
        return windows

    def read_region(self, name: str, index: Any) -> np.ndarray:
        """`self._numpy(name)[index]` (numpy, whatever `framework` says), reading only the data
        the region touches where the index is basic (integers, positive-step slices, Ellipsis).
        `get_slice(name)[index]` calls this."""
        loc = self._require(name)
        if not loc.slices:
            return self._numpy(name)[index]
        basic = basic_region(index, loc.shape)
        if basic is None:
            return self._numpy(name)[index]
        region, squeeze = basic
        out = self._assemble(loc, region, copy=False, verify=False)
        return out[squeeze] if squeeze else out

    # --- Lifetime -----------------------------------------------------------------------
    def close(self) -> None:
        """Release the index. Arrays already handed out stay valid."""
        self._core.close()

    @property
    def closed(self) -> bool:
        return self._core.closed

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _detach_views(self) -> None:
        """Let later reads map the data afresh: views handed out so far keep their own memory,
        so a write into them (torch, ctypes) is not seen by later reads, nor theirs by them."""
        if not self.closed:
            self._core.detach_views()

    # --- Internals ----------------------------------------------------------------------
    def _require(self, name: str) -> TensorLocation:
        if not isinstance(name, str):
            raise TypeError(f"tensor names are str, not {type(name).__name__}")
        if self.closed:
            raise CheckpointError("checkpoint is closed", file=self.path, key=name)
        if name not in self._name_index():
            raise NotFoundError("key not found in checkpoint", file=self.path, key=name)
        return TensorLocation.from_core(self._core.info(name))

    def _assemble(
        self,
        info: TensorLocation,
        region: tuple[range, ...] | None,
        *,
        copy: bool,
        verify: bool,
    ) -> np.ndarray:
        """Build a partitioned tensor (or the `region` of it) from its slices."""
        import numpy as np

        name, shape = info.name, info.shape
        if info.dtype_enum == STRING_ENUM:
            dtype = np.dtype(object)
        elif info.dtype_enum in numpy_dtypes():
            dtype = numpy_dtypes()[info.dtype_enum]
        else:
            raise UnsupportedError(f"cannot read dtype {info.dtype_name}", self.path, name)
        if region is None:
            if not info.slices_cover_tensor:
                raise CorruptionError(
                    "the stored slices do not cover the whole partitioned tensor", self.path, name
                )
            region = tuple(range(n) for n in shape)
        # Map (and bounds-check) every needed slice before allocating the result, so a damaged
        # index cannot make us allocate what its data files do not hold.
        parts = []
        covered = 0
        for part in info.slices:
            placed = _place(region, part.starts, part.lengths)
            if placed is not None:
                parts.append((placed, self._core.tensor(part.key, copy=False, verify=verify)))
                covered += math.prod(d.stop - d.start for d in placed[0])
        # Slices never overlap (the core checks), so they fill the region exactly when their
        # counts add up; otherwise part of it would be left as uninitialized memory.
        out_shape = tuple(len(r) for r in region)
        if covered != math.prod(out_shape):
            raise CorruptionError(
                "the stored slices do not cover the requested region of the partitioned tensor",
                self.path,
                name,
            )
        out = np.empty(out_shape, dtype=dtype)
        for (dst, src), part in parts:
            out[dst] = part[src]
        if not copy:
            out.flags.writeable = False
        return out


def _place(
    region: tuple[range, ...], starts: tuple[int, ...], lengths: tuple[int, ...]
) -> tuple[tuple[slice, ...], tuple[slice, ...]] | None:
    """Where a stored slice meets a strided region: (index into the output, index into the
    slice), or None if they do not meet. Ranges have positive steps."""
    dst, src = [], []
    for r, start, length in zip(region, starts, lengths):
        stop = start + length
        step = r.step
        # First and one-past-last positions k of the region with start <= r[k] < stop.
        k0 = max(0, -(-(start - r.start) // step))
        k1 = min(len(r), -(-(stop - r.start) // step))
        if k0 >= k1:
            return None
        dst.append(slice(k0, k1))
        src.append(slice(r[k0] - start, r[k1 - 1] - start + 1, step))
    return tuple(dst), tuple(src)


class TensorSlice:
    """Lazy access to one tensor: `ckpt.get_slice(name)[0:10, ...]` reads only that region.

    Basic indexing (integers, slices with positive steps, Ellipsis) reads just the data it
    touches, from the mapped shard or, for partitioned tensors, from the slices that overlap it.
    Anything else reads the whole tensor first.
    """

    def __init__(self, ckpt: Checkpoint, name: str) -> None:
        self._ckpt = ckpt
        self._info = ckpt._require(name)
        self.name = name

    @property
    def shape(self) -> tuple[int, ...]:
        return self._info.shape

    @property
    def dtype(self) -> DType:
        return self._info.dtype

    def get_shape(self) -> list[int]:
        """The shape as a list (safetensors' `get_slice(name).get_shape()`)."""
        return list(self.shape)

    def get_dtype(self) -> str:
        """The dtype as safetensors spells it ("F32", "BF16", "I64"...: safetensors'
        `get_slice(name).get_dtype()`); TF's name for dtypes safetensors lacks ("string")."""
        from ._dtypes import SAFETENSORS_CODES

        name = self._info.dtype_name
        return SAFETENSORS_CODES.get(name, name)

    def __repr__(self) -> str:
        return (
            f"<ckptio.TensorSlice {self.name!r} {self._info.dtype_name} "
            f"{_fmt_shape(self.shape)}{' partitioned' if self._info.slices else ''}>"
        )

    def __getitem__(self, index: Any) -> np.ndarray:
        value = self._ckpt.read_region(self.name, index)
        convert = self._ckpt._to_framework
        return value if convert is None else convert(value, False)


def basic_region(index: Any, shape: tuple[int, ...]) -> tuple[tuple[range, ...], Any] | None:
    """Turn basic numpy indexing into one positive-step range per dimension plus the integer
    dimensions to drop afterwards, or None when the index is not of that simple kind."""
    items = index if isinstance(index, tuple) else (index,)
    if sum(1 for i in items if i is Ellipsis) > 1:
        return None
    if Ellipsis in [i for i in items if i is Ellipsis]:
        at = next(k for k, i in enumerate(items) if i is Ellipsis)
        fill = len(shape) - (len(items) - 1)
        items = items[:at] + (slice(None),) * fill + items[at + 1 :]
    if len(items) > len(shape):
        return None
    items = items + (slice(None),) * (len(shape) - len(items))
    region, squeeze = [], []
    for item, n in zip(items, shape):
        if not isinstance(item, (bool, slice)) and hasattr(type(item), "__index__"):
            i = int(item) + n if item < 0 else int(item)
            if not 0 <= i < n:
                raise IndexError(f"index {item} is out of bounds for axis with size {n}")
            region.append(range(i, i + 1))
            squeeze.append(0)
        elif isinstance(item, slice):
            r = range(*item.indices(n))
            if r.step < 0:
                return None
            region.append(r)
            squeeze.append(slice(None))
        else:
            return None
    has_int = any(s == 0 for s in squeeze if not isinstance(s, slice))
    return tuple(region), (tuple(squeeze) if has_int else None)


@contextlib.contextmanager
def independent_views(source: Any) -> Iterator[None]:
    """Arrays read from `source` (a Checkpoint, or a view of one) inside this block share memory
    with no array read outside it: one `plan.load()` or `to_torch()` call gets views of its own.
    Costs one fresh mapping per data file used, nothing per tensor."""
    ckpt = source
    while not isinstance(ckpt, Checkpoint) and hasattr(ckpt, "checkpoint"):
        ckpt = ckpt.checkpoint
    if not isinstance(ckpt, Checkpoint):
        yield
        return
    ckpt._detach_views()
    try:
        yield
    finally:
        ckpt._detach_views()


def open_local(path: str | os.PathLike[str], verify: bool = False) -> Checkpoint:
    """`ckptio.open` for a local path (the reader maps its files)."""
    located = resolve_local(path)
    if located.format == "V2":
        check_not_lfs_pointer(located.prefix + ".index")
        core: Any = _core.BundleReader(located.prefix)
        n = core.num_shards
        for i in range(n):  # pointers instead of shards would only fail at the first read
            check_not_lfs_pointer(f"{located.prefix}.data-{i:05d}-of-{n:05d}")
    else:
        core = _core.V1Reader(v1_files(located.prefix))
    ckpt = Checkpoint(core, located.prefix, located.format)
    return verified(ckpt) if verify else ckpt


def verified(ckpt: Checkpoint) -> Checkpoint:
    """`ckpt` once every checksum is checked; closed (and the error raised) when one fails."""
    try:
        ckpt.verify()
    except BaseException:
        ckpt.close()
        raise
    return ckpt


def framework_converter(framework: str) -> Any:
    """None for numpy, else `(array, copy) -> tensor` for the framework named."""
    if framework in ("np", "numpy"):
        return None
    if framework in ("pt", "torch"):
        from .frameworks import require_module, torch_tensor

        torch = require_module("torch", "torch")
        return lambda value, copy: torch_tensor(torch, value, copy)
    raise ValueError(f"framework must be 'np' or 'pt', not {framework!r}")
