"""`to_safetensors`: a safetensors file, streamed tensor by tensor (`safetensors_file`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from ..errors import CheckpointError
from ..planning import ConversionOptions, plan_conversion
from ..reader import opened as _opened
from . import pipeline
from .pipeline import ConversionReport, Progress, Source
from .safetensors_file import SAFETENSORS_CODES, StreamingWriter

if TYPE_CHECKING:
    from typing_extensions import Unpack


def _safetensors_supports(dtype: np.dtype) -> bool:
    return getattr(dtype, "name", None) in SAFETENSORS_CODES


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

    Written here, without the ``safetensors`` package (which wants every tensor in memory at
    once): the header comes from the checkpoint's index, then each tensor is read (a zero-copy
    view where possible), cast and written in turn, so one tensor is in memory at a time.
    Only tensors with a `transforms` entry or a layout rule (whose shape their function
    decides) are computed before the header is written and held until then. bfloat16 and float8
    (``BF16``, ``F8_E4M3``, ``F8_E5M2``, ...) are stored natively. Wider elements come first
    in the file, as the ``safetensors`` package orders them, so every tensor is aligned to its
    element size. `metadata` goes to the header's ``__metadata__`` (Hugging Face loaders want
    ``{"format": "pt"}``). With `verify`, the file is read back (header and raw bytes) and
    compared with what was written. Options: see `ckptio.convert`.
    """
    with _opened(src) as ckpt:
        items, skipped = plan_conversion(ckpt, _safetensors_supports, "safetensors", **options)
        report = ConversionReport(os.fspath(path), "safetensors", skipped=skipped)
        shapes, dtypes = ckpt.shapes(), ckpt.dtypes()
        # A transformed tensor's shape (and dtype) are known once it is computed: those go
        # first, and are held until the header is written; the rest stream in file order.
        early = [item for item in items if item.transform is not None]
        late = {item.target: item for item in items if item.transform is None}
        total = len(items)

        def counted(offset: int) -> Progress | None:
            if progress is None:
                return None
            return lambda done, _, name: progress(offset + done, total, name)

        held: dict[str, np.ndarray] = {}
        for item, value in pipeline.stream(
            ckpt, early, verify=verify, progress=counted(0), report=report
        ):
            held[item.target] = pipeline.contiguous(value)
        entries = [(target, value.dtype, value.shape) for target, value in held.items()]
        entries += [
            (target, dtypes[item.source] if item.cast is None else item.cast, shapes[item.source])
            for target, item in late.items()
        ]
        with pipeline.into_place(path, overwrite) as temp, open(temp, "wb") as file:
            writer = StreamingWriter(file, entries, metadata, keep_digests=verify)
            streamed = pipeline.stream(
                ckpt,
                [late[target] for target in writer.order if target in late],
                verify=verify,
                progress=counted(len(early)),
                report=report,
            )
            for target in writer.order:
                if target in held:
                    writer.write(target, held.pop(target))
                    continue
                item, value = next(streamed)
                try:
                    writer.write(target, value)
                except ValueError as exc:  # the index promised another shape or dtype
                    raise CheckpointError(f"read {exc}", ckpt.path, item.source) from None
                del value
            for _ in streamed:  # (counts the last tensor in the report)
                pass
            file.flush()
            if verify:
                writer.verify(temp, report.path or temp)
                report.verified = True
    return report
