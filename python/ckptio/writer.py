"""Writing checkpoints TensorFlow reads back: `save()`, the streaming `BundleWriter`, and
`rewrite()` for renaming, subsetting and casting an existing checkpoint.

    ckptio.save("out/model.ckpt-0", {"dense/kernel": w, "dense/bias": b})

    with ckptio.BundleWriter("out/model.ckpt-0") as writer:   # one tensor in memory at a time
        for name, array in produce():
            writer.add(name, array)

Files are written under temporary names (`*.tempstate<N>`) and renamed into place when the
writer finishes, data shards first and the index last: an exception or a killed process leaves
no partial checkpoint under the final name, and no other file is touched.
"""

from __future__ import annotations

import glob
import os
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _core, planning
from ._dtypes import enum_for, enum_for_name
from ._names import check_rename, require_some
from .casting import cast_array
from .errors import CheckpointError
from .locate import read_checkpoint_state

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "BundleWriter",
    "MergePlan",
    "RewritePlan",
    "merge",
    "rewrite",
    "save",
    "update_checkpoint_state",
]


def _as_string_elements(value: Any) -> tuple[list[int], list[bytes]] | None:
    """(shape, elements as bytes) when `value` is a string tensor, else None."""
    if isinstance(value, (bytes, str)):
        value = np.array(value, dtype=object)
    array = np.asarray(value) if not isinstance(value, np.ndarray) else value
    if array.dtype.kind not in "OSU":
        return None
    elements = []
    for e in array.reshape(-1):
        if isinstance(e, (bytes, np.bytes_)):
            elements.append(bytes(e))
        elif isinstance(e, str):
            elements.append(e.encode("utf-8"))
        else:
            raise TypeError(f"string tensors hold bytes or str, not {type(e).__name__}")
    return list(array.shape), elements


class BundleWriter:
    """Streams tensors into a new V2 checkpoint at `prefix`.

    Args:
        prefix: the checkpoint prefix to create (`dir/model.ckpt-100`); its directory must exist.
        max_shard_bytes: start a new data shard before a tensor that would take the current one
            past this many bytes (default: one shard, as TF writes).
        overwrite: replace an existing checkpoint at `prefix` (default: refuse).
        update_state: also record the checkpoint in `dir/checkpoint`, as TF's savers do.
        sync: fsync every file before it is renamed into place (durable across power loss).

    Use as a context manager: it finishes on success and aborts (removing its temporary files)
    on an exception.
    """

    def __init__(
        self,
        prefix: str | os.PathLike[str],
        *,
        max_shard_bytes: int | None = None,
        overwrite: bool = False,
        update_state: bool = False,
        sync: bool = False,
    ) -> None:
        self.prefix = os.fspath(prefix)
        if not overwrite and os.path.exists(self.prefix + ".index"):
            raise CheckpointError(
                "a checkpoint already exists here (pass overwrite=True to replace it)",
                file=self.prefix + ".index",
            )
        make_parent_directory(self.prefix)  # as tf.train.Checkpoint.write does
        self._update_state = update_state
        self._overwrite = overwrite
        self._core = _core.BundleWriter(self.prefix, max_shard_bytes or 0, sync)
        self._done = False

    def add(self, name: str, value: Any, dtype: str | None = None) -> None:
        """Add one tensor: a numpy array (any dtype ckptio reads), a scalar, or strings.

        `dtype` names a TF dtype to store instead of the array's own ("qint8", "bfloat16"...);
        the values are converted with numpy's casting rules when it differs.
        """
        if self._done:
            raise CheckpointError("writer is already finished", file=self.prefix, key=name)
        if dtype == "string" or (dtype is None and (strings := _as_string_elements(value))):
            shape, elements = _as_string_elements(value) if dtype == "string" else strings
            self._core.add_strings(name, shape, elements)
            return
        array = np.asarray(value)
        if dtype is not None:
            enum = enum_for_name(dtype)
            from ._dtypes import numpy_dtypes

            array = array.astype(numpy_dtypes()[enum], copy=False)
        else:
            enum = enum_for(array.dtype)
        if not array.flags.c_contiguous:  # (np.ascontiguousarray would turn 0-d into 1-d)
            array = array.copy(order="C")
        self._core.add_array(name, enum, array)

    def add_copy(self, name: str, source: Any, source_name: str) -> None:
        """Add `source_name` of an open V2 checkpoint `source` under `name`, copying its stored
        bytes (and checksum) without decoding them."""
        loc = source.location(source_name)
        self._core.add_copy(
            name,
            loc.dtype_enum,
            list(loc.shape),
            loc.path,
            loc.offset,
            loc.size,
            loc.masked_crc32c,
        )

    def finish(self) -> str:
        """Write the index and move the files into place; returns the prefix."""
        self._core.finish()
        self._done = True
        if self._overwrite:
            self._remove_stale_shards()
        if self._update_state:
            update_checkpoint_state(self.prefix)
        return self.prefix

    def _remove_stale_shards(self) -> None:
        # Data files of the checkpoint this one replaced, left over when it had another shard
        # count (same-count files were replaced by the rename).
        count = _core.BundleReader(self.prefix).num_shards
        keep = f"-of-{count:05d}"
        for path in glob.glob(glob.escape(self.prefix) + ".data-[0-9]*-of-[0-9]*"):
            if not path.endswith(keep) and re.search(r"\.data-\d{5,}-of-\d{5,}$", path):
                os.remove(path)

    def abort(self) -> None:
        """Discard everything written so far."""
        self._core.abort()
        self._done = True

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(self, exc_type: Any, *exc: object) -> None:
        if self._done:
            return
        if exc_type is None:
            self.finish()
        else:
            self.abort()


def save(
    prefix: str | os.PathLike[str],
    tensors: Mapping[str, Any] | Iterable[tuple[str, Any]],
    **options: Any,
) -> str:
    """Write `tensors` ({name: array}) as a V2 checkpoint at `prefix`; returns the prefix.

    Options are those of `BundleWriter` (max_shard_bytes, overwrite, update_state, sync).
    """
    items = tensors.items() if isinstance(tensors, Mapping) else tensors
    with BundleWriter(prefix, **options) as writer:
        for name, value in items:
            writer.add(name, value)
    return writer.prefix


def _text_proto_string(s: str) -> str:
    out = []
    for b in s.encode("utf-8", "surrogateescape"):
        c = chr(b)
        if c in '"\\':
            out.append("\\" + c)
        elif 32 <= b < 127:
            out.append(c)
        else:
            out.append(f"\\{b:03o}")
    return '"' + "".join(out) + '"'


def update_checkpoint_state(
    prefix: str | os.PathLike[str], latest_filename: str = "checkpoint"
) -> None:
    """Record `prefix` as the newest checkpoint in its directory's state file (atomically),
    keeping earlier entries; paths inside the directory are stored relative, as TF2 does."""
    prefix = os.fspath(prefix)
    directory = os.path.dirname(prefix) or "."
    previous = read_checkpoint_state(directory, latest_filename) or []
    entries = [p for p in previous[1:] if os.path.abspath(p) != os.path.abspath(prefix)]
    entries.append(prefix)

    def stored(p: str) -> str:
        rel = os.path.relpath(p, directory)
        return p if rel.startswith("..") else rel

    lines = [f"model_checkpoint_path: {_text_proto_string(stored(prefix))}"]
    lines += [f"all_model_checkpoint_paths: {_text_proto_string(stored(p))}" for p in entries]
    path = os.path.join(directory, latest_filename)
    # A unique temporary name: several writers (threads, processes) may record checkpoints in one
    # directory at once; each replaces the file whole, the last one wins. Created with 0666 less
    # the umask, as open(path, "w") would (mkstemp's files are 0600).
    temp = f"{path}.tempstate{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    except BaseException:
        os.unlink(temp)
        raise
    os.replace(temp, path)


def make_parent_directory(path: str) -> None:
    """Create the directories `path` will live in, if missing (as TF's writers do)."""
    directory = os.path.dirname(path)
    if not directory or os.path.isdir(directory):
        return
    if os.path.exists(directory):
        raise CheckpointError("not a directory", file=directory)
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise CheckpointError(
            f"cannot create the output directory: {exc.strerror or exc}", file=directory
        ) from exc


Rename = planning.Rename


def rewrite(
    src: Any,
    dst: str | os.PathLike[str],
    *,
    transforms: Mapping[str, Callable[[np.ndarray], np.ndarray]] | None = None,
    overwrite: bool = False,
    update_state: bool = False,
    dry_run: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
    **options: Unpack[planning.RewriteOptions],
) -> RewritePlan:
    """Write a new checkpoint at `dst` from `src` (a path or an open Checkpoint).

    Args:
        select: the source names to keep: a predicate, or an iterable of names.
        rename: {old: new} exact names and `"old_scope/": "new_scope/"` prefixes, or a function
            returning the new name (None drops the tensor).
        cast: a TF dtype name for every floating tensor ("bfloat16"), or {name: dtype}.
            Casts that could lose values (float to int, narrowing...) raise
            `LossyCastError` unless `allow_lossy_cast` (the policy: `ckptio.casting`).
        transforms: {source name: function(array) -> array} applied before writing.
        keep_object_graph: TF2 checkpoints carry `_CHECKPOINTABLE_OBJECT_GRAPH`, whose node
            keys would no longer match renamed tensors; it is dropped by default (TF then
            restores by name, `tf.train.load_checkpoint` is unaffected). With True it is kept
            only when no key was renamed or dropped.
        dry_run: compute and return the plan without writing.
        allow_empty: write a checkpoint even when nothing is selected (else `UsageError`).
        progress: ``fn(done, total, source name)``, called after each tensor is written.

    Tensors that are neither cast nor transformed are copied byte for byte from the source
    shards (their checksums carried over) without being decoded. `dst` may not be the source
    checkpoint unless `overwrite=True`. Every key of `rename`, `cast` and `transforms` must
    match a written tensor (`UsageError`, with the closest names). Returns a `RewritePlan`,
    {source name: destination name} with the casts in `.casts`.
    """
    from .reader import Checkpoint
    from .reader import open as open_checkpoint

    ckpt = src if isinstance(src, Checkpoint) else open_checkpoint(src)
    dst = os.fspath(dst)
    planned = planning.plan_rewrite(
        ckpt, dst, transforms=transforms, overwrite=overwrite, **options
    )
    plan = RewritePlan((item.source, item.target) for item in planned)
    plan.casts = {
        item.source: (ckpt.info(item.source).dtype_name, item.cast.name)
        for item in planned
        if item.cast is not None
    }
    if not dry_run:
        write_plan(dst, ckpt, planned, progress, overwrite=overwrite, update_state=update_state)
    return plan


def write_plan(
    dst: str,
    ckpt: Any,
    plan: list[planning.PlannedTensor],
    progress: Callable[[int, int, str], None] | None = None,
    **options: Any,
) -> None:
    """Write the tensors of `plan` from `ckpt` into a new bundle at `dst` (`options`: those of
    `BundleWriter`)."""
    with BundleWriter(dst, **options) as writer:
        for done, item in enumerate(plan, 1):
            _transfer(writer, ckpt, item)
            if progress is not None:
                progress(done, len(plan), item.source)


def _transfer(writer: BundleWriter, ckpt: Any, item: planning.PlannedTensor) -> None:
    """Write `item` of `ckpt`: its stored bytes (and checksum) copied without decoding when the
    plan says so, else decoded, transformed, cast and encoded again."""
    if item.raw_copy:
        writer.add_copy(item.target, ckpt, item.source)
        return
    value = ckpt[item.source]
    if item.transform is not None:
        value = item.transform(value)
    if item.cast is not None:
        value = cast_array(value, item.cast)
    writer.add(item.target, value, dtype=None if item.cast is None else item.cast.name)


class RewritePlan(dict):
    """{source name: destination name} of a rewrite, in order, with the casts it makes.

    Attributes:
        casts: {source name: (stored dtype name, dtype name written)} for cast tensors.
    """

    casts: dict[str, tuple[str, str]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.casts = {}


MergeSource = Any
"""A source of `merge`: a path or open `Checkpoint`, or ``(source, {"select": ...,
"rename": ...})`` with options for that source alone."""


class MergePlan(dict):
    """{destination name: (source path, source name)} of a merge, in writing order."""


def merge(
    dst: str | os.PathLike[str],
    sources: Iterable[MergeSource],
    *,
    select: Callable[[str], bool] | Iterable[str] | None = None,
    rename: Rename | None = None,
    prefer: str | None = None,
    overwrite: bool = False,
    update_state: bool = False,
    dry_run: bool = False,
    allow_empty: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
) -> MergePlan:
    """Write one checkpoint at `dst` from several: the backbone from one, the head from another.

        ckptio.merge("out/model.ckpt-0", [
            ("pretrained/model.ckpt-30000", {"select": lambda n: n.startswith("resnet/")}),
            ("finetuned/model.ckpt-500", {"select": lambda n: n.startswith("logits/")}),
        ])

    Args:
        sources: paths or open `Checkpoint`s, each optionally paired with its own options
            ``{"select": ..., "rename": ...}`` (the forms `rewrite` accepts).
        select, rename: options applied to every source, after the source's own: a name is
            kept when both selections keep it; the global rename maps the names the source's
            own rename produced.
        prefer: a destination name written by more than one source is a `UsageError` naming
            it and its sources, unless `prefer` is ``"first"`` or ``"last"`` (the source listed
            first or last wins).
        overwrite, update_state, dry_run, allow_empty: as for `rewrite`.
        progress: ``fn(done, total, source name)``, called after each tensor is written.

    Tensors are copied as `rewrite` copies them: the stored bytes and checksums of local V2
    shards without decoding. Every source's `_CHECKPOINTABLE_OBJECT_GRAPH` is left out (its
    node keys describe one model only); TensorFlow restores the result by name. Returns the
    `MergePlan`.
    """
    from contextlib import ExitStack

    from .errors import UsageError
    from .reader import Checkpoint
    from .reader import open as open_checkpoint

    if prefer not in (None, "first", "last"):
        raise ValueError(f"prefer must be None, 'first' or 'last', not {prefer!r}")
    dst = os.fspath(dst)
    keep_all = planning.keeper(select)
    global_name = planning.renamer(rename)
    with ExitStack() as stack:
        opened: list[tuple[Any, dict[str, str]]] = []  # (checkpoint, {source name: name})
        for entry in sources:
            src, options = entry if isinstance(entry, tuple) else (entry, {})
            unknown = set(options) - {"select", "rename"}
            if unknown:
                raise TypeError(f"unknown merge source options: {', '.join(sorted(unknown))}")
            if isinstance(src, Checkpoint):
                ckpt = src
            else:
                ckpt = stack.enter_context(open_checkpoint(src))
            if os.path.abspath(dst) == os.path.abspath(ckpt.path) and not overwrite:
                raise CheckpointError("refusing to merge into one of the sources", file=dst)
            keep = planning.keeper(options.get("select"))
            own_name = planning.renamer(options.get("rename"))
            kept = [n for n in ckpt if n != "_CHECKPOINTABLE_OBJECT_GRAPH" and keep(n)]
            check_rename(options.get("rename"), kept, ckpt, ckpt.path)
            names = {}
            for name in kept:
                if keep_all(name) and (renamed := own_name(name)) is not None:
                    names[name] = renamed
            opened.append((ckpt, names))
        every = [name for _, names in opened for name in names.values()]
        check_rename(rename, every, every, dst)
        chosen: dict[str, tuple[int, str]] = {}  # destination name -> (source index, name)
        for index, (ckpt, names) in enumerate(opened):
            for source, middle in names.items():
                target = global_name(middle)
                if target is None:
                    continue
                if target in chosen:
                    first, first_source = chosen[target]
                    if prefer is None:

                        def where(path: str, name: str, target: str = target) -> str:
                            return path if name == target else f"{path} (as {name!r})"

                        raise UsageError(
                            "in more than one source: "
                            f"{where(opened[first][0].path, first_source)} and "
                            f"{where(ckpt.path, source)}; leave it out of one, or pass "
                            "prefer='first' or 'last'",
                            file=dst,
                            key=target,
                        )
                    if prefer == "first":
                        continue
                    del chosen[target]  # (re-inserted: "last" writes it in its source's order)
                chosen[target] = (index, source)
        require_some(len(chosen), allow_empty, dst)
        plan = MergePlan(
            (target, (opened[i][0].path, source)) for target, (i, source) in chosen.items()
        )
        if dry_run:
            return plan
        with BundleWriter(dst, overwrite=overwrite, update_state=update_state) as writer:
            for done, (target, (index, source)) in enumerate(chosen.items(), 1):
                ckpt = opened[index][0]
                raw = planning.can_copy_raw(ckpt, source)
                _transfer(writer, ckpt, planning.PlannedTensor(source, target, raw_copy=raw))
                if progress is not None:
                    progress(done, len(chosen), source)
    return plan
