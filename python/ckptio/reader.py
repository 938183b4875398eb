"""Reading checkpoints: `open()`, the one place a path or URL is sent to the local reader
(ckptio.checkpoint: mapped files) or the remote one (ckptio.remote: ranged requests).

The `Checkpoint` API is defined in ckptio.checkpoint and re-exported here.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from .checkpoint import (
    HTML_MAX_ROWS,
    Checkpoint,
    DType,
    SliceExtent,
    TensorInfo,
    TensorLocation,
    TensorSlice,
    basic_region,
    framework_converter,
    html_escape,
    html_name,
    html_table,
    independent_views,
    open_local,
)
from .locate import is_url

__all__ = [
    "HTML_MAX_ROWS",
    "Checkpoint",
    "DType",
    "SliceExtent",
    "TensorInfo",
    "TensorLocation",
    "TensorSlice",
    "basic_region",
    "html_escape",
    "html_name",
    "html_table",
    "independent_views",
    "open",
    "opened",
]


def open(
    path: str | os.PathLike[str],
    verify: bool = False,
    *,
    storage_options: dict[str, Any] | None = None,
    framework: str = "np",
) -> Checkpoint:
    """Open a TensorFlow checkpoint for reading, without TensorFlow.

    `path` may be a checkpoint prefix (`model.ckpt-1000`, `ckpt-3`), a directory (its
    `checkpoint` state file names the newest checkpoint; otherwise the only bundle in it), the
    `.index` file, or any `.data-NNNNN-of-MMMMM` shard. With `verify=True` every checksum is
    checked before returning (reading every byte once).

    `path` may also be a URL (`s3://`, `gs://`, `https://`, any fsspec protocol): only the
    index is fetched on open, and each read fetches its own byte range (see `ckptio.remote`;
    `storage_options` go to fsspec).

    `framework="pt"` (as safetensors' `safe_open`) makes `get_tensor`, `[name]` and
    `get_slice(name)[...]` return PyTorch tensors (needs torch): they share memory with the
    mapped checkpoint like the numpy views do (bfloat16 and float8 included); a write into one
    lands in this reader's private copy of the page, never in the file (see "What a write into
    a view does" in the README). "np" (default) gives
    numpy arrays; ckptio's own converters and restore plans take numpy checkpoints.

    Raises NotFoundError when nothing matches, CorruptionError for damaged files.

    >>> with ckptio.open("examples/data/tiny_convnet") as ckpt:
    ...     ckpt.shapes()["convnet/embedding"], ckpt.get_dtype("convnet/embedding")
    ((20, 4), dtype('float32'))
    """
    to_framework = framework_converter(framework)
    if is_url(path):
        from .remote import open_url

        ckpt = open_url(str(path), verify, storage_options=storage_options)
    else:
        ckpt = open_local(path, verify)
    if to_framework is not None:
        ckpt.framework, ckpt._to_framework = "pt", to_framework
    return ckpt


@contextlib.contextmanager
def opened(src: Any) -> Iterator[Checkpoint]:
    """The checkpoint `src` names (a path or URL); closed afterwards only if opened here. An
    open checkpoint, or a view with its reading API (a `NameView`), is used as it is."""
    if not isinstance(src, (str, os.PathLike)):
        yield src
        return
    with open(src) as ckpt:
        yield ckpt
