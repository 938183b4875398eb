"""What a file is when it is not a checkpoint table: recognised from its first bytes (and, for
zip archives, its member names), so the error says what the file is and what to do with it.

The resolver (ckptio.locate) asks these for local and remote files alike.
"""

from __future__ import annotations

import os
import posixpath
from typing import IO, Callable

__all__ = ["HEAD_BYTES", "LFS_POINTER", "TABLE_MAGIC", "is_table_tail", "what_is"]

HEAD_BYTES = 512  # what `what_is` needs of a file's start
TABLE_MAGIC = bytes.fromhex("57fb808b247547db")  # LevelDB table magic, little-endian, last
TABLE_FOOTER = 48  # a table ends with a 48-byte footer
LFS_POINTER = b"version https://git-lfs.github.com/spec/"


def is_table_tail(tail: bytes, size: int) -> bool:
    """Whether a file of `size` bytes ending in `tail` is a LevelDB table (a V1 checkpoint)."""
    return size >= TABLE_FOOTER and tail[-len(TABLE_MAGIC) :] == TABLE_MAGIC


def what_is(path: str, head: bytes, size: int, open_file: Callable[[], IO[bytes]]) -> str | None:
    """What the file at `path` (`size` bytes, starting with `head`) is, when recognisably not a
    checkpoint table: a message saying so and what to do; None otherwise. `open_file` opens it
    (for a zip archive's member names)."""
    name = posixpath.basename(path.replace(os.sep, "/")).lower()
    if size == 0:
        return "empty file (0 bytes), not a checkpoint: was it copied or downloaded completely?"
    if head.startswith(LFS_POINTER):
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
        kind, how = _zip_kind(open_file)
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
    if size < TABLE_FOOTER:
        return (
            f"{size} bytes, too short for a checkpoint table (one ends with a 48-byte footer): "
            "truncated, or not a checkpoint"
        )
    return None


def _zip_kind(open_file: Callable[[], IO[bytes]]) -> tuple[str, str]:
    import zipfile

    try:
        with open_file() as f, zipfile.ZipFile(f) as z:
            names = z.namelist()
    except (OSError, ValueError, zipfile.BadZipFile):
        return "unreadable", "not a checkpoint"
    if "config.json" in names and any(n.endswith(".weights.h5") for n in names):
        return "Keras .keras model", "load it with `keras.saving.load_model`"
    if any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
        return "PyTorch .pt", "load it with `torch.load`"
    if names and all(n.endswith(".npy") for n in names):
        return "numpy .npz", "load it with `numpy.load`"
    return "unknown contents", "not a checkpoint"
