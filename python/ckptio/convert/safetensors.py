"""`to_safetensors`: a safetensors file, written by the ``safetensors`` package."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from ..frameworks import require_module as _require
from ..planning import ConversionOptions, plan_conversion
from ..reader import opened as _opened
from . import pipeline
from .pipeline import ConversionReport, Progress, Source
from .safetensors_file import SAFETENSORS_CODES, verify_file

if TYPE_CHECKING:
    from typing_extensions import Unpack


_SAFETENSORS_ACCEPTS: dict[np.dtype, bool] = {}


def _safetensors_supports(dtype: np.dtype) -> bool:
    """Whether the installed safetensors writes `dtype` (asked once per dtype: newer releases
    accept more, e.g. complex64 and the float8 "fnuz" variants)."""
    if dtype not in _SAFETENSORS_ACCEPTS:
        from safetensors.numpy import save

        try:
            save({"probe": np.zeros((0,), dtype)})
            _SAFETENSORS_ACCEPTS[dtype] = True
        except Exception:  # the library raises its own SafetensorError (or TypeError)
            _SAFETENSORS_ACCEPTS[dtype] = False
    return _SAFETENSORS_ACCEPTS[dtype]


def to_safetensors(
    src: Source,
    path: str | os.PathLike[str],
    *,
    metadata: Mapping[str, str] | None = None,
    verify: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
    **options: Unpack[ConversionOptions],
) -> ConversionReport:
    """Write the checkpoint `src` as a safetensors file at `path`.

    Written by the ``safetensors`` package (``safetensors.numpy.save_file``), which stores
    bfloat16 and float8 (``F8_E4M3``, ``F8_E5M2``) natively from ml_dtypes arrays; tensors
    are passed to it as zero-copy views of the mapped checkpoint (safetensors >= 0.8 writes
    straight from them; older releases copy each into memory first), so only tensors that must
    be materialized (partitioned, cast or transformed ones) are held in memory until the file
    is written. `metadata` goes to the header's ``__metadata__`` (Hugging Face loaders want
    ``{"format": "pt"}``). With `verify`, the file is read back (header and raw bytes, parsed
    here so that every dtype is covered) and compared with what was written. Options: see
    `ckptio.convert`.
    """
    save_file = _require("safetensors.numpy", "safetensors").save_file
    with _opened(src) as ckpt:
        items, skipped = plan_conversion(ckpt, _safetensors_supports, "safetensors", **options)
        report = ConversionReport(os.fspath(path), "safetensors", skipped=skipped)
        tensors: dict[str, np.ndarray] = {}
        for item, value in pipeline.stream(
            ckpt, items, verify=verify, progress=progress, report=report
        ):
            tensors[item.target] = pipeline.contiguous(value)
        with pipeline.into_place(path, overwrite) as temp:
            save_file(tensors, temp, metadata=dict(metadata) if metadata else None)
            if verify:
                _verify_safetensors(temp, tensors, report.path)
                report.verified = True
    return report


def _verify_safetensors(path: str, tensors: Mapping[str, np.ndarray], shown: str | None) -> None:
    expected = {
        name: (SAFETENSORS_CODES.get(value.dtype.name, ""), value.shape, pipeline.digest(value))
        for name, value in tensors.items()
    }
    verify_file(path, shown or path, expected)
