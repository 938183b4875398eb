"""From what a user types to the files of a checkpoint, for local paths and URLs alike.

Accepts what TensorFlow accepts (a prefix, a directory with a `checkpoint` state file) and what
people actually have at hand: the `.index` file, any `.data-NNNNN-of-MMMMM` shard, a directory
holding one bundle (V2 or V1), a SavedModel directory or its `saved_model.pb`, a `.meta` file,
the `checkpoint` state file itself. Files that are not checkpoints at all (HDF5, zip archives,
protobuf graphs, Git LFS pointers, empty files) are recognized and named.

This module only dispatches: the rules are ckptio.locate's `Resolver`, asked of the local
filesystem (`ckptio.locate.LocalFileSystem`) or, for a URL, of fsspec
(`ckptio.remote.filesystem`, imported when a URL is given: `import ckptio` needs no fsspec).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .locate import (
    Resolved,
    check_is_checkpoint_file,
    check_not_lfs_pointer,
    is_url,
    latest_local_checkpoint,
    parse_checkpoint_state,
    read_checkpoint_state,
    resolve_local,
    v1_files,
)

__all__ = [
    "Resolved",
    "check_is_checkpoint_file",
    "check_not_lfs_pointer",
    "is_url",
    "latest_checkpoint",
    "parse_checkpoint_state",
    "read_checkpoint_state",
    "resolve",
    "v1_files",
]


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
    return latest_local_checkpoint(os.fspath(directory), latest_filename)


def resolve(
    path: str | os.PathLike[str], *, storage_options: Mapping[str, Any] | None = None
) -> Resolved:
    """Locate the checkpoint that `path` (a local path or a URL) names; raise NotFoundError
    naming `path` if none, and NotACheckpointError when `path` is a file of another kind."""
    if is_url(path):
        from .remote import resolve_url

        return resolve_url(str(path), storage_options=storage_options)
    return resolve_local(path)
