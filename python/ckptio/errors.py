"""The exceptions ckptio raises. Every one names the file and, where there is one, the key."""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "CorruptionError",
    "LossyCastError",
    "NotACheckpointError",
    "NotFoundError",
    "RecipeError",
    "UnsupportedError",
    "UsageError",
]


class CheckpointError(Exception):
    """Base class of every ckptio error.

    Attributes:
        message: what went wrong, without the file and key.
        file: the file concerned, or None.
        key: the tensor name concerned, or None.
    """

    def __init__(self, message: str, file: str | None = None, key: str | None = None) -> None:
        self.message = message
        self.file = file
        self.key = key
        super().__init__(message, file, key)

    def __str__(self) -> str:
        parts = []
        if self.file is not None:
            parts.append(str(self.file))
        if self.key is not None:
            parts.append(f"key {self.key!r}")
        parts.append(self.message)
        return ": ".join(parts)

    def __reduce__(self):  # keep file and key through pickling (multiprocessing)
        return (type(self), (self.message, self.file, self.key))


class NotFoundError(CheckpointError, KeyError):
    """A checkpoint file, shard or tensor name that does not exist. Also a KeyError."""

    __str__ = CheckpointError.__str__  # KeyError would show the repr of the arguments


class CorruptionError(CheckpointError):
    """The files are not a valid checkpoint (bad table or entry, checksum mismatch, short shard)."""


class UnsupportedError(CheckpointError):
    """A valid checkpoint feature ckptio does not read (variant tensors, big-endian bundles...)."""


class UsageError(CheckpointError, ValueError):
    """An argument that cannot be what the caller meant: an unknown dtype name, a name, rename,
    transform or pattern that matches no tensor, a selection that leaves nothing to write.
    Also a ValueError. The message quotes what was given and the closest names. The command
    line reports it as a usage error (exit status 2)."""


class LossyCastError(UsageError):
    """A requested cast that could lose values (float to integer, narrowing integers, complex
    to real...), refused unless the caller opts in (``allow_lossy_cast=True``)."""


class NotACheckpointError(UnsupportedError):
    """A file that is not a TensorFlow checkpoint at all (HDF5 or Keras weights, a zip archive,
    a protobuf graph, a Git LFS pointer, an empty file): not damage, so not CorruptionError. The
    message says what the file is and what to do with it."""


# Codes of the C++ core's Status (src/status.h), in enum order.
_BY_CODE: dict[int, type[CheckpointError]] = {
    1: NotFoundError,
    2: CorruptionError,
    3: CheckpointError,  # invalid argument
    4: CheckpointError,  # I/O error
    5: UnsupportedError,
}


def from_status(code: int, message: str, file: str | None, key: str | None) -> CheckpointError:
    """Build the exception for a C++ Status (called by the core's exception translator)."""
    return _BY_CODE.get(code, CheckpointError)(message, file=file, key=key)


class RecipeError(CheckpointError, ValueError):
    """A conversion recipe does not fit the checkpoint (a rule matching no tensor, a tensor
    no rule covers): see `ckptio.recipes`."""
