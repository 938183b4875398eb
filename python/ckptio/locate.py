"""From what a user types to the files of a local checkpoint (URLs: ckptio.remote; both
behind ckptio.paths).

Accepts what TensorFlow accepts (a prefix, a directory with a `checkpoint` state file) and what
people actually have at hand: the `.index` file, any `.data-NNNNN-of-MMMMM` shard, a directory
holding one bundle (V2 or V1), a SavedModel directory or its `saved_model.pb`, a `.meta` file,
the `checkpoint` state file itself. Files that are not checkpoints at all (HDF5, zip archives,
protobuf graphs, Git LFS pointers, empty files) are recognized and named.
"""

from __future__ import annotations

import glob
import os
import posixpath
import re
from dataclasses import dataclass

from .errors import CheckpointError, CorruptionError, NotACheckpointError, NotFoundError

__all__ = [
    "DATA_SUFFIX",
    "TEMP_SUFFIX",
    "Resolved",
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


def is_url(path: object) -> bool:
    """Whether `path` is a URL (`s3://`, `gs://`, `https://`...): read through ckptio.remote."""
    return isinstance(path, str) and _URL.match(path) is not None


@dataclass(frozen=True)
class Resolved:
    """A checkpoint located on disk: its format ("V2" or "V1") and the prefix to open."""

    format: str
    prefix: str


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


def read_checkpoint_state(directory: str, latest_filename: str = "checkpoint") -> list[str] | None:
    """Paths in a `checkpoint` state file, newest last, made absolute the way TF does.

    Returns None when the directory has no state file. The first element is
    `model_checkpoint_path`, followed by `all_model_checkpoint_paths` in order.
    """
    state_path = os.path.join(directory, latest_filename)
    try:
        with open(state_path, encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        return None
    except PermissionError:
        raise CheckpointError("permission denied", file=state_path) from None
    latest, *others = parse_checkpoint_state(text, state_path)

    def absolute(p: str) -> str:
        return p if os.path.isabs(p) else os.path.join(directory, p)

    return [absolute(latest)] + [absolute(p) for p in others]


def latest_local_checkpoint(directory: str, latest_filename: str = "checkpoint") -> str | None:
    """`ckptio.latest_checkpoint` for a local directory: the newest checkpoint prefix its state
    file names, or None (no state file, or its newest entry has no files)."""
    state = read_checkpoint_state(directory, latest_filename)
    if state is None:
        return None
    prefix = state[0]
    if _exists_v2(prefix) or _exists(prefix):
        return prefix
    return None


def _exists_v2(prefix: str) -> bool:
    return os.path.isfile(prefix + ".index") or bool(glob.glob(prefix + ".index"))


def _exists(pattern: str) -> bool:
    return os.path.exists(pattern) or bool(glob.glob(pattern))


def _listdir(directory: str) -> list[str]:
    try:
        return sorted(os.listdir(directory))
    except PermissionError:
        raise CheckpointError("permission denied", file=directory) from None


def _bundles_in(directory: str) -> list[str]:
    return [
        os.path.join(directory, n[: -len(".index")])
        for n in _listdir(directory)
        if n.endswith(".index") and not TEMP_SUFFIX.search(n)
    ]


_TABLE_MAGIC = bytes.fromhex("57fb808b247547db")  # LevelDB table magic, little-endian, last
_V1_SHARD = re.compile(r"-\d{5}-of-(\d{5})$")
_NOT_V1 = re.compile(r"(\.index|\.data-\d+-of-\d+|\.meta|\.pbtxt|\.pb|\.json|\.txt)$")


def _is_table(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() < 48:
                return False
            f.seek(-8, os.SEEK_END)
            return f.read(8) == _TABLE_MAGIC
    except OSError:
        return False


def _v1_checkpoints_in(directory: str) -> list[str]:
    """V1 checkpoints in `directory` (files that are tables, not parts of a V2 bundle), sharded
    ones as the glob TF uses for them (`model.ckpt-?????-of-00002`)."""
    found: list[str] = []
    for name in _listdir(directory):
        path = os.path.join(directory, name)
        if name == "checkpoint" or name.startswith("events.out.tfevents."):
            continue
        if _NOT_V1.search(name) or TEMP_SUFFIX.search(name):
            continue
        if not os.path.isfile(path) or not _is_table(path):
            continue
        shard = _V1_SHARD.search(name)
        if shard:
            path = os.path.join(directory, name[: shard.start()] + f"-?????-of-{shard.group(1)}")
        if path not in found:
            found.append(path)
    return found


NO_MATCH = "failed to find any matching files for the checkpoint path"


def only_checkpoint(found: list[str], directory: str, nothing: str) -> str:
    """The one checkpoint (prefix or V1 pattern) among `found` in `directory`, local or URL:
    NotFoundError saying `nothing` when there is none, and naming them when there are several
    (TF would need a `checkpoint` state file to choose)."""
    if len(found) == 1:
        return found[0]
    if found:
        names = ", ".join(posixpath.basename(f.replace(os.sep, "/")) for f in found)
        raise NotFoundError(
            f"directory holds several checkpoints ({names}) and no `checkpoint` state file; "
            "open one of them by prefix",
            file=directory,
        )
    raise NotFoundError(nothing, file=directory)


def _present(directory: str) -> str:
    names = [os.path.basename(p) for p in _bundles_in(directory) + _v1_checkpoints_in(directory)]
    return ", ".join(names) if names else "no checkpoint"


def _is_saved_model(directory: str) -> bool:
    return (
        os.path.isfile(os.path.join(directory, "saved_model.pb"))
        or os.path.isfile(os.path.join(directory, "saved_model.pbtxt"))
    ) and os.path.isdir(os.path.join(directory, "variables"))


def _saved_model_variables(directory: str) -> Resolved:
    prefix = os.path.join(directory, "variables", "variables")
    if not os.path.isfile(prefix + ".index"):
        raise NotFoundError(
            "SavedModel without variables (variables/variables.index is missing; a model "
            "with no variables has no checkpoint)",
            file=directory,
        )
    return Resolved("V2", prefix)


def _from_state(directory: str, state: list[str]) -> Resolved:
    """The checkpoint a `checkpoint` state file names, or an error naming it: never another
    (older) checkpoint in its place."""
    named = state[0]
    if _exists_v2(named) or _exists(named):
        return resolve_local(named)
    # The directory was moved or copied from another machine (TF1 Saver wrote absolute paths):
    # the file name it records is still the right one.
    moved = os.path.join(directory, os.path.basename(named))
    if _exists_v2(moved) or os.path.isfile(moved):
        return resolve_local(moved)
    raise NotFoundError(
        f"the `checkpoint` state file names {named!r}, which is not there "
        f"(present: {_present(directory)}); open one of those by prefix",
        file=os.path.join(directory, "checkpoint"),
    )


def _is_state_file(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        return False
    return head.lstrip().startswith((b"model_checkpoint_path", b"all_model_checkpoint_paths"))


def resolve_local(path: str | os.PathLike[str]) -> Resolved:
    """Locate the checkpoint that the local `path` names; raise NotFoundError naming `path` if
    none, and NotACheckpointError when `path` is a file of another kind."""
    path = os.path.expanduser(os.fspath(path))
    if os.path.isdir(path):
        state = read_checkpoint_state(path)
        if state is not None:
            return _from_state(path, state)
        if _is_saved_model(path):
            return _saved_model_variables(path)
        found = _bundles_in(path) + _v1_checkpoints_in(path)
        nothing = "no checkpoint (no `checkpoint` state file, no .index)"
        return resolve_local(only_checkpoint(found, path, nothing))
    if path.endswith(".index") and os.path.isfile(path):
        return Resolved("V2", path[: -len(".index")])
    data = DATA_SUFFIX.search(path)
    if data and os.path.isfile(path):
        return Resolved("V2", path[: data.start()])
    # TF's rule: a path is V2 when `<path>.index` exists (as a glob), otherwise V1.
    if os.path.isfile(path + ".index"):
        return Resolved("V2", path)
    matches = sorted(glob.glob(path + ".index"))
    if len(matches) == 1:
        return Resolved("V2", matches[0][: -len(".index")])
    if os.path.isfile(path):
        name = os.path.basename(path)
        directory = os.path.dirname(path) or "."
        if name in ("saved_model.pb", "saved_model.pbtxt"):
            return _saved_model_variables(directory)
        if name.endswith(".meta"):
            prefix = path[: -len(".meta")]
            if _exists_v2(prefix) or _exists(prefix):
                return resolve_local(prefix)
            if glob.glob(prefix + "-?????-of-*"):  # a sharded V1 save
                return Resolved("V1", prefix + "-?????-of-*")
            raise NotFoundError(
                "a MetaGraph (the graph, not its weights); the checkpoint it goes with, "
                f"{os.path.basename(prefix)!r}, is not there",
                file=path,
            )
        if _is_state_file(path):
            state = read_checkpoint_state(directory, name)
            if state is not None:
                return _from_state(directory, state)
        check_is_checkpoint_file(path)
    if _exists(path):
        return Resolved("V1", path)
    raise NotFoundError(NO_MATCH, file=path)


def check_is_checkpoint_file(path: str) -> None:
    """Raise NotACheckpointError (saying what the file is and what to do) when `path` is
    recognizably something other than a checkpoint table; CheckpointError on permission denied."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
            size = os.fstat(f.fileno()).st_size
    except PermissionError:
        raise CheckpointError("permission denied", file=path) from None
    except OSError:
        return  # the reader reports it
    what = _what_is(path, head, size)
    if what is not None:
        raise NotACheckpointError(what, file=path)


_LFS_POINTER = b"version https://git-lfs.github.com/spec/"


def check_not_lfs_pointer(path: str) -> None:
    """Raise NotACheckpointError when a checkpoint's file is a Git LFS pointer (a few hundred
    bytes of text standing in for the real file): one stat, a read only for tiny files."""
    try:
        if os.path.getsize(path) > 1024:
            return
        with open(path, "rb") as f:
            head = f.read(len(_LFS_POINTER))
    except OSError:
        return  # the reader reports it
    if head == _LFS_POINTER:
        raise NotACheckpointError(_what_is(path, head, len(head)) or "", file=path)


def _what_is(path: str, head: bytes, size: int) -> str | None:
    name = os.path.basename(path).lower()
    if size == 0:
        return "empty file (0 bytes), not a checkpoint: was it copied or downloaded completely?"
    if head.startswith(_LFS_POINTER):
        return (
            "a Git LFS pointer, not the file's contents: run `git lfs pull` in its repository "
            "(with git-lfs installed)"
        )
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return (
            "an HDF5 file (Keras .h5 weights?), not a TensorFlow checkpoint: load it with "
            "Keras (`model.load_weights`) or h5py"
        )
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        kind, how = _zip_kind(path)
        return f"a zip archive ({kind}), not a TensorFlow checkpoint: {how}"
    if len(head) >= 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < size:
        return "a safetensors file, not a TensorFlow checkpoint: load it with `safetensors`"
    if name.endswith((".pb", ".pbtxt")):
        return (
            "a protobuf file (a frozen GraphDef or a SavedModel's graph), not a checkpoint: "
            "a SavedModel's weights are in its variables/ directory (open the SavedModel "
            "directory); a frozen graph holds its weights as constants ckptio does not read"
        )
    if len(head) > 1 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "a Python pickle (a legacy PyTorch .pt/.pth?), not a checkpoint: use torch.load"
    if size < 48:
        return (
            f"{size} bytes, too short for a checkpoint table (one ends with a 48-byte footer): "
            "truncated, or not a checkpoint"
        )
    return None


def _zip_kind(path: str) -> tuple[str, str]:
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (OSError, zipfile.BadZipFile):
        return "unreadable", "not a checkpoint"
    if "config.json" in names and any(n.endswith(".weights.h5") for n in names):
        return "Keras .keras model", "load it with `keras.saving.load_model`"
    if any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
        return "PyTorch .pt", "load it with `torch.load`"
    if names and all(n.endswith(".npy") for n in names):
        return "numpy .npz", "load it with `numpy.load`"
    return "unknown contents", "not a checkpoint"


def v1_files(pattern: str) -> list[str]:
    """The files of a V1 checkpoint: the file itself, or every match of the glob TF writes for
    sharded V1 saves (`model.ckpt-?????-of-00002`)."""
    if os.path.isfile(pattern):
        return [pattern]
    files = sorted(f for f in glob.glob(pattern) if os.path.isfile(f))
    if not files:
        raise NotFoundError(NO_MATCH, file=pattern)
    return files
