"""The shared pipeline of the converters: a plan read tensor by tensor (transformed, laid out,
cast), written under a temporary name and moved into place, verified by digest."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

from ..casting import cast_array, cast_error
from ..errors import CheckpointError
from ..planning import PlannedTensor, transform_for
from ..reader import Checkpoint
from ..writer import make_parent_directory

Source = Union[str, "os.PathLike[str]", Checkpoint, Any]
"""A checkpoint path, an open `Checkpoint`, or a view of one under other names (`NameView`,
e.g. ``ckptio.object_graph(path).view("full_name")`` for a TF2 checkpoint's TF1-style names)."""
Select = Union[Callable[[str], bool], Iterable[str], None]
Rename = Union[Mapping[str, str], Callable[[str], "str | None"], None]
Cast = Union[str, Mapping[str, str], None]
Transforms = Union[
    Mapping[str, Callable[[np.ndarray], np.ndarray]], Callable[[str, np.ndarray], np.ndarray], None
]
Progress = Callable[[int, int, str], None]


@dataclass
class ConversionReport:
    """What a conversion did.

    Attributes:
        path: the file written (None for in-memory conversions such as `to_torch`).
        format: "safetensors", "npz", "pt" or "onnx".
        written: {source name: name in the output}, in the order written.
        skipped: {source name: why it was not converted}.
        nbytes: bytes of tensor data written.
        verified: True when the written file was read back and compared.
        cast_errors: with `verify`, {source name: {"from", "to", "max_abs_error",
            "max_rel_error"}} for every cast tensor.
    """

    path: str | None
    format: str
    written: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    nbytes: int = 0
    verified: bool = False
    cast_errors: dict[str, dict[str, Any]] = field(default_factory=dict)


def apply_transform(transforms: Transforms, name: str, value: np.ndarray) -> np.ndarray:
    fn = transform_for(transforms, name)
    return value if fn is None else np.asarray(fn(value))


def stream(
    ckpt: Checkpoint,
    items: list[PlannedTensor],
    *,
    verify: bool,
    progress: Progress | None,
    report: ConversionReport,
) -> Iterator[tuple[PlannedTensor, np.ndarray]]:
    """(item, array) for each planned tensor: read (zero-copy where possible), transformed,
    laid out and cast, one at a time; once the caller has stored it, it is counted in
    `report`. With `verify`, each cast's errors go to `report` too."""
    for done, item in enumerate(items, 1):
        value = ckpt.get_tensor(item.source, verify=verify)
        if item.transform is not None:  # (the layout's transposes included)
            value = np.asarray(item.transform(value))
        if item.cast is not None:
            original, value = value, cast_array(value, item.cast)
            if verify:
                worst_abs, worst_rel = cast_error(original, value)
                report.cast_errors[item.source] = {
                    "from": original.dtype.name,
                    "to": value.dtype.name,
                    "max_abs_error": worst_abs,
                    "max_rel_error": worst_rel,
                }
            del original
        yield item, value
        report.written[item.source] = item.target
        report.nbytes += value.nbytes
        if progress is not None:
            progress(done, len(items), item.source)


def contiguous(value: np.ndarray) -> np.ndarray:
    # (np.ascontiguousarray turns 0-d arrays into 1-d ones on older numpy.)
    return value if value.flags.c_contiguous else value.copy(order="C")


def bytes_of(value: np.ndarray) -> np.ndarray:
    """The bytes of an array as a flat uint8 array (a view when it is contiguous)."""
    return contiguous(value).reshape(-1).view(np.uint8)


def same_bytes(a: np.ndarray, b: np.ndarray, chunk: int = 1 << 24) -> bool:
    """Whether two flat uint8 arrays are equal, compared in chunks to bound temporaries."""
    if a.size != b.size:
        return False
    return all(np.array_equal(a[i : i + chunk], b[i : i + chunk]) for i in range(0, a.size, chunk))


def new_digest() -> Any:
    """An incremental hash giving what `digest` gives for the bytes fed to its `update`."""
    return hashlib.blake2b(digest_size=16)


def digest(data: Any) -> bytes:
    """The digest verifiers compare: of an array's bytes, or of a buffer."""
    if isinstance(data, np.ndarray):
        data = bytes_of(data).data
    hashed = new_digest()
    hashed.update(data)
    return hashed.digest()


@contextlib.contextmanager
def into_place(path: str | os.PathLike[str], overwrite: bool) -> Iterator[str]:
    """A temporary name next to `path`, renamed to `path` when the block succeeds."""
    path = os.fspath(path)
    if not overwrite and os.path.exists(path):
        raise CheckpointError("file exists (pass overwrite=True to replace it)", file=path)
    make_parent_directory(path)
    temp = f"{path}.tempstate{os.getpid()}"
    try:
        # Created here as open(path, "w") creates files (0666 less the umask); the final file
        # gets that mode whatever the library writing it does (safetensors makes 0600 files).
        os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666))
        mode = os.stat(temp).st_mode & 0o7777
        yield temp
        os.chmod(temp, mode)
        os.replace(temp, path)
    except Exception as exc:
        if isinstance(exc, CheckpointError) or temp not in str(exc):
            raise
        # The library's message names the temporary file: name the one the user asked for.
        raise CheckpointError(str(exc).replace(temp, path), file=path) from None
    finally:
        if os.path.exists(temp):
            os.remove(temp)


def verify_failed(path: str, name: str | None, what: str) -> CheckpointError:
    return CheckpointError(f"verification failed: {what} differs from the source", path, name)
