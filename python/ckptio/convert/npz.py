"""`to_npz`: a numpy ``.npz`` archive, written member by member."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..planning import ConversionOptions, plan_conversion
from ..reader import opened as _opened
from . import pipeline
from .pipeline import ConversionReport, Progress, Source

if TYPE_CHECKING:
    from typing_extensions import Unpack


def to_npz(
    src: Source,
    path: str | os.PathLike[str],
    *,
    compress: bool = False,
    verify: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
    **options: Unpack[ConversionOptions],
) -> ConversionReport:
    """Write the checkpoint `src` as a numpy ``.npz`` archive at `path` (`np.load` reads it).

    Each tensor is written straight into the zip archive as ``<name>.npy`` (what `np.savez`
    does), one at a time. Dtypes numpy lacks (bfloat16, float8, int4, from ml_dtypes) are
    stored as `np.save` stores them, raw bits of a void dtype (``|V2`` for bfloat16): read them
    with ``.view(ml_dtypes.bfloat16)``, or pass ``cast="float32"``. `compress` deflates the
    members (`np.savez_compressed`). Options: see `ckptio.convert`.
    """
    import zipfile

    with _opened(src) as ckpt:
        items, skipped = plan_conversion(
            ckpt, lambda dtype: dtype != np.dtype(object), "npz", **options
        )
        report = ConversionReport(os.fspath(path), "npz", skipped=skipped)
        written: dict[str, tuple[np.dtype, tuple[int, ...], bytes]] = {}
        mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        with pipeline.into_place(path, overwrite) as temp:
            with zipfile.ZipFile(temp, "w", compression=mode, allowZip64=True) as archive:
                tensors = pipeline.stream(
                    ckpt, items, verify=verify, progress=progress, report=report
                )
                for item, value in tensors:
                    # force_zip64: the member size is not known before it is written.
                    with archive.open(item.target + ".npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, _npy_storable(value), allow_pickle=False)
                    if verify:
                        written[item.target] = (value.dtype, value.shape, pipeline.digest(value))
            if verify:
                _verify_npz(temp, written, report.path)
                report.verified = True
    return report


def _npy_storable(value: np.ndarray) -> np.ndarray:
    """`value`, or a view of its raw bits as a void dtype when the .npy header cannot describe
    its dtype (ml_dtypes: bfloat16 would be written as "<V2" anyway, but float8 as "<f1",
    which `np.load` rejects)."""
    try:
        descr = np.lib.format.dtype_to_descr(value.dtype)
        if np.lib.format.descr_to_dtype(descr) == value.dtype:
            return value
    except (TypeError, ValueError):
        pass
    return pipeline.contiguous(value).view(np.dtype(f"V{value.dtype.itemsize}"))


def _verify_npz(path: str, written: Mapping[str, Any], shown: str | None) -> None:
    with np.load(path, allow_pickle=False) as archive:
        if set(archive.files) != set(written):
            raise pipeline.verify_failed(shown or path, None, "the set of tensor names")
        for name, (dtype, shape, expected) in written.items():
            stored = archive[name]
            # numpy has no bfloat16/float8: those come back as raw bits of a void dtype.
            same_type = stored.dtype == dtype or (
                stored.dtype.kind == "V" and stored.dtype.itemsize == dtype.itemsize
            )
            if not same_type or stored.shape != shape:
                raise pipeline.verify_failed(shown or path, name, "dtype or shape")
            if pipeline.digest(stored) != expected:
                raise pipeline.verify_failed(shown or path, name, "the stored bytes")
