"""`fill_onnx`: an existing ONNX model's initializers filled from a checkpoint."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from ..casting import cast_array, lossy_reason, refusal
from ..errors import CheckpointError, LossyCastError
from ..frameworks import require_module as _require
from ..reader import Checkpoint
from ..reader import opened as _opened
from ..writer import make_parent_directory
from . import pipeline
from .pipeline import ConversionReport, Progress, Source, Transforms

_ONNX_AUTO_EXTERNAL = 1 << 30  # a protobuf message cannot exceed 2 GiB; stay well below it
_ALIGN_THRESHOLD, _ALIGNMENT = 1 << 20, 1 << 16  # as onnx's own external-data writer aligns


def fill_onnx(
    model: Any,
    src: Source,
    path: str | os.PathLike[str],
    *,
    name_map: Mapping[str, str] | Callable[[str], str | None] | None = None,
    transforms: Transforms = None,
    cast: bool = False,
    allow_lossy_cast: bool = False,
    strict: bool = True,
    external_data: bool | None = None,
    location: str | None = None,
    size_threshold: int = 1024,
    verify: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> ConversionReport:
    """Fill the initializers of an existing ONNX model with tensors of the checkpoint `src`
    and save the model at `path` (with the ``onnx`` package).

    Args:
        model: the ONNX model, a path or an ``onnx.ModelProto`` (not modified).
        name_map: {ONNX initializer name: checkpoint name}, or a function returning the
            checkpoint name (or None); by default, initializers named like a checkpoint tensor.
            Initializers it does not map (shape constants, ...) keep the model's values and are
            listed in `report.skipped` under their ONNX name. `report.written` maps checkpoint
            names to initializer names.
        transforms: keyed by checkpoint name (or one ``fn(name, array)``): ONNX layouts often
            differ from TF's (a ``Gemm`` weight is ``[out, in]`` with ``transB=1``).
        cast: convert values whose dtype differs from the initializer's (otherwise an error),
            under the cast policy (`ckptio.casting`): a cast that could change values beyond
            rounding floats (float to integer, an integer type too narrow) raises
            `LossyCastError` unless `allow_lossy_cast`, and then saturates.
        strict: raise when `name_map` names a tensor the checkpoint does not have (otherwise
            that initializer keeps the model's value too).
        external_data: store tensors of at least `size_threshold` bytes in a separate file
            (`location`, default ``<file name>.data`` next to `path`), written tensor by tensor;
            None decides by size (needed past protobuf's 2 GiB limit).
        verify: check the source checksums, then load the saved model (with its external data),
            run ``onnx.checker`` on it and compare every filled initializer bit for bit.

    Each initializer's shape must equal the tensor's (after `transforms`).
    """
    onnx = _require("onnx", "onnx")
    from onnx import external_data_helper, numpy_helper

    base_dir = None
    if isinstance(model, (str, os.PathLike)):
        base_dir = os.path.dirname(os.fspath(model))
        model = onnx.load(os.fspath(model), load_external_data=False)
    else:
        copied = onnx.ModelProto()
        copied.CopyFrom(model)
        model = copied
    path = os.fspath(path)
    mapping = _onnx_names(name_map)
    initializers = list(model.graph.initializer)
    report = ConversionReport(path, "onnx")
    with _opened(src) as ckpt:
        plan = []
        for init in initializers:
            source = mapping(init.name, ckpt)
            if source is not None and source not in ckpt:
                if strict:
                    raise CheckpointError(
                        f"no such tensor for ONNX initializer {init.name!r}", ckpt.path, source
                    )
                report.skipped[init.name] = f"kept the model's value (no tensor {source!r})"
            elif source is None:
                report.skipped[init.name] = "kept the model's value (not mapped)"
            else:
                plan.append((init, source))
        if external_data is None:
            external_data = sum(ckpt.info(s).nbytes for _, s in plan) > _ONNX_AUTO_EXTERNAL
        location = location or os.path.basename(path) + ".data"
        # Initializers left as they were must not point at the old model's data file.
        for init in initializers:
            if init.name in report.skipped and base_dir is not None:
                if external_data_helper.uses_external_data(init):
                    external_data_helper.load_external_data_for_tensor(init, base_dir)
        data_path = os.path.join(os.path.dirname(path), location) if external_data else None
        digests: dict[str, bytes] = {}
        # (Nested rather than parenthesized: Python 3.9 has no parenthesized context managers.)
        with pipeline.into_place(path, overwrite) as model_temp:
            with _external_file(data_path, overwrite) as data:
                for done, (init, source) in enumerate(plan, 1):
                    value = ckpt.get_tensor(source, verify=verify)
                    value = _onnx_value(
                        init,
                        pipeline.apply_transform(transforms, source, value),
                        cast=cast,
                        allow_lossy_cast=allow_lossy_cast,
                        file=ckpt.path,
                        key=source,
                    )
                    filled = numpy_helper.from_array(value, init.name)
                    if data is not None and len(filled.raw_data) >= size_threshold:
                        _move_to_external(filled, data, location)
                    init.CopyFrom(filled)
                    if verify:
                        digests[init.name] = pipeline.digest(value)
                    report.written[source] = init.name
                    report.nbytes += value.nbytes
                    if progress is not None:
                        progress(done, len(plan), source)
                onnx.save_model(model, model_temp)
                if data is not None:
                    data.commit()  # the data file goes into place first, the model last
                if verify:
                    _verify_onnx(onnx, model_temp, digests, path)
                    report.verified = True
    return report


def _onnx_value(
    init: Any,
    value: np.ndarray,
    *,
    cast: bool,
    allow_lossy_cast: bool,
    file: str,
    key: str,
) -> np.ndarray:
    """`value` checked against (and with `cast`, converted to, under the cast policy) the
    initializer's dtype and shape; `CheckpointError` naming `file` and `key` when it does not
    fit, `LossyCastError` for a cast that could lose values unless `allow_lossy_cast`."""
    from onnx import helper

    want = np.dtype(helper.tensor_dtype_to_np_dtype(init.data_type))
    if value.dtype != want:
        if not cast:
            raise CheckpointError(
                f"dtype {value.dtype.name} differs from ONNX initializer {init.name!r} "
                f"({want.name}); pass cast=True to convert",
                file,
                key,
            )
        why = lossy_reason(value.dtype, want)
        if why is not None and not allow_lossy_cast:
            where = f" for ONNX initializer {init.name!r}"
            raise LossyCastError(
                refusal(value.dtype.name, want.name, why, where), file=file, key=key
            )
        value = cast_array(value, want)
    if value.shape != tuple(init.dims):
        raise CheckpointError(
            f"shape {list(value.shape)} differs from ONNX initializer {init.name!r} "
            f"{list(init.dims)} (a layout transform may be needed)",
            file,
            key,
        )
    return pipeline.contiguous(value)


class _ExternalFile:
    """The external data file being written: appended to under a temporary name, moved into
    place by `commit`, removed if anything fails before the model itself is in place."""

    def __init__(self, path: str, overwrite: bool) -> None:
        if not overwrite and os.path.exists(path):
            raise CheckpointError("file exists (pass overwrite=True to replace it)", file=path)
        self.path = path
        make_parent_directory(path)
        self.temp = f"{path}.tempstate{os.getpid()}"
        self.file = open(self.temp, "wb")  # closed by commit() or abort()
        self.committed = False

    def tell(self) -> int:
        return self.file.tell()

    def seek(self, offset: int) -> None:
        self.file.seek(offset)

    def write(self, data: bytes) -> None:
        self.file.write(data)

    def commit(self) -> None:
        self.file.close()
        os.replace(self.temp, self.path)
        self.committed = True

    def abort(self) -> None:
        self.file.close()
        for leftover in (self.temp, self.path if self.committed else None):
            if leftover and os.path.exists(leftover):
                os.remove(leftover)


@contextlib.contextmanager
def _external_file(path: str | None, overwrite: bool) -> Iterator[_ExternalFile | None]:
    if path is None:
        yield None
        return
    data = _ExternalFile(path, overwrite)
    try:
        yield data
    except BaseException:
        data.abort()
        raise
    if not data.committed:
        data.commit()


def _onnx_names(
    name_map: Mapping[str, str] | Callable[[str], str | None] | None,
) -> Callable[[str, Checkpoint], str | None]:
    """(initializer name, checkpoint) -> the checkpoint name to fill it from, or None."""
    if name_map is None:  # same names; other initializers (shape constants...) are kept
        return lambda name, ckpt: name if name in ckpt else None
    if callable(name_map):
        return lambda name, ckpt: name_map(name)
    return lambda name, ckpt: name_map.get(name)


def _move_to_external(tensor: Any, data: Any, location: str) -> None:
    """Append a tensor's raw bytes to the external data file and point the tensor at them."""
    from onnx import TensorProto

    raw = tensor.raw_data
    offset = data.tell()
    if len(raw) >= _ALIGN_THRESHOLD and offset % _ALIGNMENT:
        # Aligned so that runtimes can map large tensors straight from the file.
        offset += _ALIGNMENT - offset % _ALIGNMENT
        data.seek(offset)
    data.write(raw)
    del tensor.external_data[:]
    for key, value in (("location", location), ("offset", offset), ("length", len(raw))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, str(value)
    tensor.data_location = TensorProto.EXTERNAL
    tensor.ClearField("raw_data")


def _verify_onnx(onnx: Any, model_path: str, digests: Mapping[str, bytes], shown: str) -> None:
    """Check the saved model (by path, so its external data file is found next to it) and
    compare its filled initializers, loading one tensor's data at a time."""
    from onnx import external_data_helper, numpy_helper

    onnx.checker.check_model(model_path)
    model = onnx.load(model_path, load_external_data=False)
    base_dir = os.path.dirname(model_path)
    for tensor in model.graph.initializer:
        if tensor.name not in digests:
            continue
        if external_data_helper.uses_external_data(tensor):
            external_data_helper.load_external_data_for_tensor(tensor, base_dir)
        if pipeline.digest(numpy_helper.to_array(tensor)) != digests[tensor.name]:
            raise pipeline.verify_failed(shown, tensor.name, "the stored bytes")
        tensor.ClearField("raw_data")
