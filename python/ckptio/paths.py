"""From what a user types to the files of a checkpoint.

Accepts what TensorFlow accepts (a prefix, a directory with a `checkpoint` state file) and what
people actually have at hand: the `.index` file, any `.data-NNNNN-of-MMMMM` shard, a directory
holding one bundle.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import CorruptionError, NotFoundError

__all__ = [
    "Resolved",
    "is_url",
    "latest_checkpoint",
    "read_checkpoint_state",
    "resolve",
    "v1_files",
]

_DATA_SUFFIX = re.compile(r"\.data-\d{5,}-of-\d{5,}$")
_TEMP_SUFFIX = re.compile(r"\.tempstate\d+$")
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
    latest, *others = parse_checkpoint_state(text, state_path)

    def absolute(p: str) -> str:
        return p if os.path.isabs(p) else os.path.join(directory, p)

    return [absolute(latest)] + [absolute(p) for p in others]


def latest_checkpoint(
    directory: str | os.PathLike[str],
    latest_filename: str = "checkpoint",
    *,
    storage_options: Mapping[str, Any] | None = None,
) -> str | None:
    """The newest checkpoint prefix in `directory`, like `tf.train.latest_checkpoint`.

    Reads the `checkpoint` state file; relative entries are taken relative to `directory`.
    Returns None when there is no state file or its newest entry has no files. `directory`
    may be a URL (`gs://bucket/run`): see `ckptio.remote`; `storage_options` go to fsspec, as
    for `ckptio.open` (and, as there, unused for a local directory).

    >>> ckptio.latest_checkpoint("examples/data/tiny_convnet")
    'examples/data/tiny_convnet/model.ckpt-3'
    """
    if is_url(directory):
        from .remote import latest_checkpoint_url

        return latest_checkpoint_url(
            str(directory), latest_filename, storage_options=storage_options
        )
    directory = os.fspath(directory)
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


def _bundles_in(directory: str) -> list[str]:
    names = sorted(os.listdir(directory))
    return [
        os.path.join(directory, n[: -len(".index")])
        for n in names
        if n.endswith(".index") and not _TEMP_SUFFIX.search(n)
    ]


def resolve(path: str | os.PathLike[str]) -> Resolved:
    """Locate the checkpoint that `path` names; raise NotFoundError naming `path` if none."""
    if is_url(path):
        from .remote import resolve_url

        return resolve_url(path)
    path = os.fspath(path)
    if os.path.isdir(path):
        latest = latest_checkpoint(path)
        if latest is not None:
            return resolve(latest)
        state = read_checkpoint_state(path)
        if state is not None:
            # The state file names a path that is gone: usually the directory was moved or
            # copied from another machine (TF1 Saver wrote absolute paths). Its file name is
            # still the right one.
            moved = os.path.join(path, os.path.basename(state[0]))
            if _exists_v2(moved) or os.path.isfile(moved):
                return resolve(moved)
        bundles = _bundles_in(path)
        if len(bundles) == 1:
            return Resolved("V2", bundles[0])
        if bundles:
            names = ", ".join(os.path.basename(b) for b in bundles)
            raise NotFoundError(
                f"directory holds several checkpoints ({names}) and no `checkpoint` state file; "
                "open one of them by prefix",
                file=path,
            )
        raise NotFoundError("no checkpoint (no `checkpoint` state file, no .index)", file=path)
    if path.endswith(".index") and os.path.isfile(path):
        return Resolved("V2", path[: -len(".index")])
    data = _DATA_SUFFIX.search(path)
    if data and os.path.isfile(path):
        return Resolved("V2", path[: data.start()])
    # TF's rule: a path is V2 when `<path>.index` exists (as a glob), otherwise V1.
    if os.path.isfile(path + ".index"):
        return Resolved("V2", path)
    matches = sorted(glob.glob(path + ".index"))
    if len(matches) == 1:
        return Resolved("V2", matches[0][: -len(".index")])
    if _exists(path):
        return Resolved("V1", path)
    raise NotFoundError("failed to find any matching files for the checkpoint path", file=path)


def v1_files(pattern: str) -> list[str]:
    """The files of a V1 checkpoint: the file itself, or every match of the glob TF writes for
    sharded V1 saves (`model.ckpt-?????-of-00002`)."""
    if os.path.isfile(pattern):
        return [pattern]
    files = sorted(f for f in glob.glob(pattern) if os.path.isfile(f))
    if not files:
        raise NotFoundError(
            "failed to find any matching files for the checkpoint path", file=pattern
        )
    return files
