"""From what a user types to the files of a checkpoint: one resolver, over a small filesystem
interface, for local paths (`LocalFileSystem`, here) and URLs (`ckptio.remote.filesystem`).

Accepts what TensorFlow accepts (a prefix, a directory with a `checkpoint` state file) and what
people actually have at hand: the `.index` file, any `.data-NNNNN-of-MMMMM` shard, a directory
holding one bundle (V2 or V1), a SavedModel directory or its `saved_model.pb`, a `.meta` file,
the `checkpoint` state file itself. Files that are not checkpoints at all (HDF5, zip archives,
protobuf graphs, Git LFS pointers, empty files) are recognized and named (ckptio.filekinds).

The rules and their messages are written once, in `Resolver`; a `FileSystem` answers the few
questions they ask. Each question costs a system call locally and at most one request remotely,
and the rules ask them in the order that keeps requests few: a prefix is one request (its
`.index`, fetched for the reader), a directory adds its state file.
"""

from __future__ import annotations

import builtins
import glob
import os
import posixpath
import re
from dataclasses import dataclass
from typing import IO, NamedTuple, Protocol

from .errors import CheckpointError, CorruptionError, NotACheckpointError, NotFoundError
from .filekinds import HEAD_BYTES, LFS_POINTER, TABLE_MAGIC, is_table_tail, what_is

__all__ = [
    "DATA_SUFFIX",
    "TEMP_SUFFIX",
    "Entry",
    "FileSystem",
    "LocalFileSystem",
    "Resolved",
    "Resolver",
    "check_is_checkpoint_file",
    "check_not_lfs_pointer",
    "is_url",
    "latest_local_checkpoint",
    "parse_checkpoint_state",
    "read_checkpoint_state",
    "resolve_local",
    "v1_files",
]

DATA_SUFFIX = re.compile(r"\.data-\d{5,}-of-\d{5,}$")
TEMP_SUFFIX = re.compile(r"\.tempstate\d+$")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
NO_MATCH = "failed to find any matching files for the checkpoint path"


def is_url(path: object) -> bool:
    """Whether `path` is a URL (`s3://`, `gs://`, `https://`...): read through ckptio.remote."""
    return isinstance(path, str) and _URL.match(path) is not None


@dataclass(frozen=True)
class Resolved:
    """A checkpoint located on disk: its format ("V2" or "V1") and the prefix to open."""

    format: str
    prefix: str


# --------------------------------------------------------------------------- the interface


class Entry(NamedTuple):
    """One name in a directory listing."""

    name: str
    path: str
    is_dir: bool


class FileSystem(Protocol):
    """The questions the resolver asks of a storage. Paths are the user's (local paths or
    URLs); a path this filesystem does not hold (`holds`) answers "no such file"."""

    # Whether "is this a directory?" is asked first (TF's rule: a directory wins over a
    # same-named prefix). Cheap locally; on an object store a directory is a key prefix and
    # asking costs a listing, so there the `.index` and state file are tried first.
    directory_first: bool

    def normalize(self, path: str) -> str: ...
    def holds(self, path: str) -> bool: ...
    def is_dir(self, path: str) -> bool: ...
    def is_file(self, path: str) -> bool: ...
    def exists(self, path: str) -> bool: ...
    def listdir(self, directory: str) -> list[Entry]: ...
    # The paths matching a glob; a path without glob characters matches itself if there.
    def glob(self, pattern: str) -> list[str]: ...
    def read_text(self, path: str) -> str | None: ...
    def head(self, path: str, n: int) -> tuple[bytes, int] | None: ...
    def is_table(self, path: str) -> bool: ...
    def open(self, path: str) -> IO[bytes]: ...


def join(directory: str, name: str) -> str:
    """`name` in `directory`; an absolute path or a URL stays as it is (as TF does)."""
    return name if is_url(name) else os.path.join(directory, name)


def _basename(path: str) -> str:
    return posixpath.basename(path.replace(os.sep, "/"))


# --------------------------------------------------------------------------- the rules

_V1_SHARD = re.compile(r"-\d{5}-of-(\d{5})$")
_NOT_V1 = re.compile(r"(\.index|\.data-\d+-of-\d+|\.meta|\.pbtxt|\.pb|\.json|\.txt)$")
_SAVED_MODEL_GRAPHS = ("saved_model.pb", "saved_model.pbtxt")
_STATE_FIELDS = (b"model_checkpoint_path", b"all_model_checkpoint_paths")


class Resolver:
    """TF's rules and ckptio's additions for what a path names, asked of one `FileSystem`."""

    def __init__(self, fs: FileSystem) -> None:
        self.fs = fs

    def resolve(self, path: str, depth: int = 0) -> Resolved:
        """The checkpoint `path` names; NotFoundError naming `path` if none, NotACheckpointError
        when `path` is a file of another kind."""
        fs = self.fs
        path = fs.normalize(path)
        if fs.directory_first and fs.is_dir(path):
            return self._directory(path, depth)
        if path.endswith(".index") and fs.is_file(path):
            return Resolved("V2", path[: -len(".index")])
        data = DATA_SUFFIX.search(path)
        if data and fs.is_file(path):
            return Resolved("V2", path[: data.start()])
        # TF's rule: a path is V2 when `<path>.index` exists (as a glob), otherwise V1.
        if fs.is_file(path + ".index"):
            return Resolved("V2", path)
        if not fs.directory_first and depth < 2:
            state = self.state(path)
            if state is not None:
                return self._from_state(path, state, depth)
        matches = fs.glob(path + ".index")  # (also a dangling link: the reader names it)
        if len(matches) == 1:
            return Resolved("V2", matches[0][: -len(".index")])
        if fs.is_file(path):
            return self._file(path, depth)
        if not fs.directory_first and fs.is_dir(path):
            return self._directory(path, depth, state_read=True)
        if fs.exists(path) or fs.glob(path):
            return Resolved("V1", path)
        raise NotFoundError(NO_MATCH, file=path)

    def state(self, directory: str, latest_filename: str = "checkpoint") -> list[str] | None:
        """The entries of `directory`'s state file (`model_checkpoint_path` first), relative
        ones joined to `directory` as TF does; None when there is no state file."""
        state_path = join(directory, latest_filename)
        text = self.fs.read_text(state_path)
        if text is None:
            return None
        return [join(directory, p) for p in parse_checkpoint_state(text, state_path)]

    def latest(self, directory: str, latest_filename: str = "checkpoint") -> str | None:
        """`latest_checkpoint`: the prefix the state file names, if its files are there. A path
        this filesystem does not hold (TF1 savers wrote absolute local paths) is looked up by
        name in `directory`."""
        state = self.state(directory, latest_filename)
        if state is None:
            return None
        named = state[0]
        prefix = named if self.fs.holds(named) else join(directory, _basename(named))
        return prefix if self._there(prefix) else None

    def check_kind(self, path: str) -> None:
        """Raise NotACheckpointError (saying what the file is and what to do) when `path` is
        recognizably something other than a checkpoint table."""
        got = self.fs.head(path, HEAD_BYTES)
        if got is None:
            return  # the reader reports it
        head, size = got
        what = what_is(path, head, size, lambda: self.fs.open(path))
        if what is not None:
            raise NotACheckpointError(what, file=path)

    # -- rules ---------------------------------------------------------------------------
    def _there(self, prefix: str) -> bool:
        """Whether a checkpoint's files are at `prefix` (its `.index`, the file, a glob)."""
        fs = self.fs
        if fs.is_file(prefix + ".index") or fs.exists(prefix):
            return True
        return bool(fs.glob(prefix + ".index") or fs.glob(prefix))

    def _from_state(self, directory: str, state: list[str], depth: int) -> Resolved:
        """The checkpoint a `checkpoint` state file names, or an error naming it: never another
        (older) checkpoint in its place."""
        named = state[0]
        # The directory was moved or copied from another machine (TF1 Saver wrote absolute
        # paths): the file name it records is still the right one.
        moved = join(directory, _basename(named))
        for candidate in dict.fromkeys((named, moved)):
            if self._there(candidate):
                return self.resolve(candidate, depth + 1)
        raise NotFoundError(
            f"the `checkpoint` state file names {named!r}, which is not there "
            f"(present: {self._present(directory)}); open one of those by prefix",
            file=join(directory, "checkpoint"),
        )

    def _directory(self, directory: str, depth: int, state_read: bool = False) -> Resolved:
        if not state_read and depth < 2:
            state = self.state(directory)
            if state is not None:
                return self._from_state(directory, state, depth)
        entries = self.fs.listdir(directory)
        kinds = {e.name: e.is_dir for e in entries}
        if kinds.get("variables") and any(kinds.get(g) is False for g in _SAVED_MODEL_GRAPHS):
            return self._saved_model_variables(directory)
        found = self._checkpoints_in(directory, entries)
        nothing = "no checkpoint (no `checkpoint` state file, no .index)"
        return self.resolve(only_checkpoint(found, directory, nothing), depth + 1)

    def _checkpoints_in(self, directory: str, entries: list[Entry]) -> list[str]:
        """Bundles in `directory` (by their `.index`) and V1 checkpoints (files that are tables,
        not parts of a V2 bundle), sharded ones as the glob TF uses for them
        (`model.ckpt-?????-of-00002`)."""
        found = [
            join(directory, e.name[: -len(".index")])
            for e in entries
            if e.name.endswith(".index") and not TEMP_SUFFIX.search(e.name)
        ]
        v1: list[str] = []
        for e in entries:
            if e.name == "checkpoint" or e.name.startswith("events.out.tfevents."):
                continue
            if _NOT_V1.search(e.name) or TEMP_SUFFIX.search(e.name) or e.is_dir:
                continue
            if not self.fs.is_table(e.path):
                continue
            shard = _V1_SHARD.search(e.name)
            path = e.path
            if shard:
                path = join(directory, e.name[: shard.start()] + f"-?????-of-{shard.group(1)}")
            if path not in v1:
                v1.append(path)
        return found + v1

    def _present(self, directory: str) -> str:
        found = self._checkpoints_in(directory, self.fs.listdir(directory))
        return ", ".join(_basename(p) for p in found) if found else "no checkpoint"

    def _saved_model_variables(self, directory: str) -> Resolved:
        prefix = join(join(directory, "variables"), "variables")
        if not self.fs.is_file(prefix + ".index"):
            raise NotFoundError(
                "SavedModel without variables (variables/variables.index is missing; a model "
                "with no variables has no checkpoint)",
                file=directory,
            )
        return Resolved("V2", prefix)

    def _file(self, path: str, depth: int) -> Resolved:
        """A file that is neither an `.index` nor a data shard: a V1 table, or the file of
        something else that says where the checkpoint is (or that there is none)."""
        fs = self.fs
        name = _basename(path)
        directory = os.path.dirname(path) or "."
        if name in _SAVED_MODEL_GRAPHS:
            return self._saved_model_variables(directory)
        if name.endswith(".meta"):
            prefix = path[: -len(".meta")]
            if self._there(prefix):
                return self.resolve(prefix, depth + 1)
            if fs.glob(prefix + "-?????-of-*"):  # a sharded V1 save
                return Resolved("V1", prefix + "-?????-of-*")
            raise NotFoundError(
                "a MetaGraph (the graph, not its weights); the checkpoint it goes with, "
                f"{_basename(prefix)!r}, is not there",
                file=path,
            )
        # A table is a V1 checkpoint (and neither a state file nor another kind of file).
        if fs.is_table(path) and not name.lower().endswith((".pb", ".pbtxt")):
            return Resolved("V1", path)
        got = fs.head(path, 64)
        if got is not None and got[0].lstrip().startswith(_STATE_FIELDS):
            state = self.state(directory, name)
            if state is not None:
                return self._from_state(directory, state, depth)
        self.check_kind(path)
        return Resolved("V1", path)


def only_checkpoint(found: list[str], directory: str, nothing: str) -> str:
    """The one checkpoint (prefix or V1 pattern) among `found` in `directory`: NotFoundError
    saying `nothing` when there is none, and naming them when there are several (TF would need
    a `checkpoint` state file to choose)."""
    if len(found) == 1:
        return found[0]
    if found:
        names = ", ".join(_basename(f) for f in found)
        raise NotFoundError(
            f"directory holds several checkpoints ({names}) and no `checkpoint` state file; "
            "open one of them by prefix",
            file=directory,
        )
    raise NotFoundError(nothing, file=directory)


def _unescape_text_proto(s: str) -> str:
    # Protobuf text format writes strings C-escaped; decode through bytes to undo \ooo octal.
    raw = s.encode("utf-8", "surrogateescape").decode("unicode_escape").encode("latin-1")
    return raw.decode("utf-8", "surrogateescape")


_STATE_LINE = re.compile(r'^\s*(\w+)\s*:\s*"((?:[^"\\]|\\.)*)"\s*$')


def parse_checkpoint_state(text: str, state_path: str) -> list[str]:
    """The entries of a `checkpoint` state file's text, as written: `model_checkpoint_path`
    first, then `all_model_checkpoint_paths` in order. Raises CorruptionError naming
    `state_path` when there is no model_checkpoint_path (TF raises ValueError there)."""
    latest = None
    others: list[str] = []
    for line in text.splitlines():
        m = _STATE_LINE.match(line)
        if not m:
            continue
        field, value = m.group(1), _unescape_text_proto(m.group(2))
        if field == "model_checkpoint_path":
            latest = value
        elif field == "all_model_checkpoint_paths":
            others.append(value)
    if not latest:
        raise CorruptionError("invalid checkpoint state: no model_checkpoint_path", file=state_path)
    return [latest, *others]


# --------------------------------------------------------------------------- local files


def _permission_denied(path: str) -> CheckpointError:
    return CheckpointError("permission denied", file=path)


class LocalFileSystem:
    """The resolver's questions answered with system calls."""

    directory_first = True

    def normalize(self, path: str) -> str:
        return os.path.expanduser(os.fspath(path))

    def holds(self, path: str) -> bool:
        return True

    def is_dir(self, path: str) -> bool:
        return os.path.isdir(path)

    def is_file(self, path: str) -> bool:
        return os.path.isfile(path)

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def listdir(self, directory: str) -> list[Entry]:
        try:
            with os.scandir(directory) as it:
                entries = [Entry(e.name, e.path, e.is_dir()) for e in it]
        except PermissionError:
            raise _permission_denied(directory) from None
        return sorted(entries)

    def glob(self, pattern: str) -> list[str]:
        return sorted(glob.glob(pattern))

    def read_text(self, path: str) -> str | None:
        try:
            with builtins.open(path, encoding="utf-8", errors="surrogateescape") as f:
                return f.read()
        except (FileNotFoundError, IsADirectoryError):
            return None
        except PermissionError:
            raise _permission_denied(path) from None

    def head(self, path: str, n: int) -> tuple[bytes, int] | None:
        try:
            with builtins.open(path, "rb") as f:
                return f.read(n), os.fstat(f.fileno()).st_size
        except PermissionError:
            raise _permission_denied(path) from None
        except OSError:
            return None

    def is_table(self, path: str) -> bool:
        try:
            with builtins.open(path, "rb") as f:
                size = f.seek(0, os.SEEK_END)
                if size < len(TABLE_MAGIC):
                    return False
                f.seek(-len(TABLE_MAGIC), os.SEEK_END)
                return is_table_tail(f.read(), size)
        except OSError:
            return False

    def open(self, path: str) -> IO[bytes]:
        return builtins.open(path, "rb")


LOCAL = Resolver(LocalFileSystem())


def resolve_local(path: str | os.PathLike[str]) -> Resolved:
    """Locate the checkpoint that the local `path` names; raise NotFoundError naming `path` if
    none, and NotACheckpointError when `path` is a file of another kind."""
    return LOCAL.resolve(os.fspath(path))


def read_checkpoint_state(directory: str, latest_filename: str = "checkpoint") -> list[str] | None:
    """Paths in a `checkpoint` state file, newest last, made absolute the way TF does.

    Returns None when the directory has no state file. The first element is
    `model_checkpoint_path`, followed by `all_model_checkpoint_paths` in order.
    """
    return LOCAL.state(directory, latest_filename)


def latest_local_checkpoint(directory: str, latest_filename: str = "checkpoint") -> str | None:
    """`ckptio.latest_checkpoint` for a local directory: the newest checkpoint prefix its state
    file names, or None (no state file, or its newest entry has no files)."""
    return LOCAL.latest(directory, latest_filename)


def check_is_checkpoint_file(path: str) -> None:
    """Raise NotACheckpointError (saying what the file is and what to do) when `path` is
    recognizably something other than a checkpoint table; CheckpointError on permission denied."""
    LOCAL.check_kind(path)


def check_not_lfs_pointer(path: str) -> None:
    """Raise NotACheckpointError when a checkpoint's file is a Git LFS pointer (a few hundred
    bytes of text standing in for the real file): one stat, a read only for tiny files."""
    try:
        if os.path.getsize(path) > 1024:
            return
        with builtins.open(path, "rb") as f:
            head = f.read(len(LFS_POINTER))
    except OSError:
        return  # the reader reports it
    if head == LFS_POINTER:
        raise NotACheckpointError(
            what_is(path, head, len(head), lambda: open(path, "rb")) or "", file=path
        )


def v1_files(pattern: str) -> list[str]:
    """The files of a V1 checkpoint: the file itself, or every match of the glob TF writes for
    sharded V1 saves (`model.ckpt-?????-of-00002`)."""
    if os.path.isfile(pattern):
        return [pattern]
    files = sorted(f for f in glob.glob(pattern) if os.path.isfile(f))
    if not files:
        raise NotFoundError(NO_MATCH, file=pattern)
    return files
