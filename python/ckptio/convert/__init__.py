"""Converting TensorFlow checkpoints to other formats, without TensorFlow.

    import ckptio
    ckptio.to_safetensors("train/model.ckpt-1000", "model.safetensors", verify=True)
    ckptio.to_npz("train/", "model.npz", select=lambda name: name.startswith("encoder/"))
    state = ckptio.to_torch("train/", layout="torch")        # {name: torch.Tensor}
    model.load_state_dict(state)
    ckptio.save_torch("train/", "model.pt")
    ckptio.fill_onnx("model.onnx", "train/", "filled.onnx", name_map={"fc.weight": "fc/w"})

Every converter takes a checkpoint path, an open `Checkpoint` or a view of one under other
names (``ckptio.object_graph(path).view("full_name")``: a TF2 checkpoint under its TF1-style
variable names, which layout rules understand), reads it tensor by tensor and takes the same
options:

* ``select``: the source names to convert, a predicate or an iterable of names;
* ``rename``: ``{"old": "new", "old_scope/": "new_scope/"}`` or a function (None drops the
  tensor), with the same rules as `ckptio.rewrite`;
* ``cast``: a dtype name for every floating tensor (``"float32"``) or ``{source name: dtype}``;
  casts that could lose values (float to int, narrowing...) raise `LossyCastError` unless
  ``allow_lossy_cast=True`` (the policy: `ckptio.casting`);
* ``transforms``: ``{source name: fn(array) -> array}`` or one ``fn(name, array) -> array``;
* ``allow_empty``: write a file even when nothing is selected (otherwise `UsageError`);
* ``layout``: ``"torch"`` (or a layout object of `ckptio.transforms`) to rename and transpose
  TF/Keras variables into PyTorch's conventions, after ``rename``;
* ``unsupported``: what to do with tensors the format cannot hold (strings everywhere;
  int4, complex128... depending on the format): ``"raise"`` (the default, before anything is
  written) or ``"skip"`` (listed in the report's ``skipped``);
* ``verify``: check the source checksums while reading, read the written file back and compare
  every tensor bit for bit before moving the file into place; cast tensors' largest absolute
  and relative errors are recorded in the report's ``cast_errors``;
* ``progress``: ``fn(done, total, name)``, called after each tensor.

Files are written under a temporary name and renamed into place once complete (and verified),
so a failed conversion leaves nothing under the destination name. The TF2 object graph
(``_CHECKPOINTABLE_OBJECT_GRAPH``, checkpoint metadata) is never converted.

Each format's library is an optional dependency, imported only when that format is used:
``pip install ckptio[safetensors]``, ``ckptio[torch]``, ``ckptio[onnx]``; ``.npz`` needs only
numpy.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from ..casting import cast_array, cast_error
from ..errors import CheckpointError, UnsupportedError, UsageError
from ..frameworks import require_module as _require
from ..frameworks import torch_supports as _torch_supports
from ..frameworks import torch_tensor as _tensor
from ..planning import ConversionOptions, PlannedTensor, plan_conversion, transform_for
from ..reader import Checkpoint, independent_views
from ..reader import opened as _opened
from ..writer import make_parent_directory
from .safetensors_file import SAFETENSORS_CODES, digest, verify_file

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "FORMATS",
    "ConversionReport",
    "as_torch",
    "convert",
    "fill_onnx",
    "save_torch",
    "to_npz",
    "to_safetensors",
    "to_torch",
]


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


# --------------------------------------------------------------------------- the shared pipeline


def _apply(transforms: Transforms, name: str, value: np.ndarray) -> np.ndarray:
    fn = transform_for(transforms, name)
    return value if fn is None else np.asarray(fn(value))


def _stream(
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


def _contiguous(value: np.ndarray) -> np.ndarray:
    # (np.ascontiguousarray turns 0-d arrays into 1-d ones on older numpy.)
    return value if value.flags.c_contiguous else value.copy(order="C")


def _bits(value: np.ndarray) -> np.ndarray:
    """The bytes of an array as a flat uint8 array (a view when it is contiguous)."""
    return _contiguous(value).reshape(-1).view(np.uint8)


def _same_bits(a: np.ndarray, b: np.ndarray, chunk: int = 1 << 24) -> bool:
    """Whether two flat uint8 arrays are equal, compared in chunks to bound temporaries."""
    if a.size != b.size:
        return False
    return all(np.array_equal(a[i : i + chunk], b[i : i + chunk]) for i in range(0, a.size, chunk))


def _digest(value: np.ndarray) -> bytes:
    import hashlib  # (here and below: `import ckptio` stays light; most uses never convert)

    return hashlib.blake2b(_bits(value), digest_size=16).digest()


@contextlib.contextmanager
def _into_place(path: str | os.PathLike[str], overwrite: bool) -> Iterator[str]:
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


def _verify_failed(path: str, name: str | None, what: str) -> CheckpointError:
    return CheckpointError(f"verification failed: {what} differs from the source", path, name)


# --------------------------------------------------------------------------- safetensors

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
    here so that every dtype is covered) and compared with what was written. Options: see the
    module documentation.
    """
    save_file = _require("safetensors.numpy", "safetensors").save_file
    with _opened(src) as ckpt:
        items, skipped = plan_conversion(ckpt, _safetensors_supports, "safetensors", **options)
        report = ConversionReport(os.fspath(path), "safetensors", skipped=skipped)
        tensors: dict[str, np.ndarray] = {}
        for item, value in _stream(ckpt, items, verify=verify, progress=progress, report=report):
            tensors[item.target] = _contiguous(value)
        with _into_place(path, overwrite) as temp:
            save_file(tensors, temp, metadata=dict(metadata) if metadata else None)
            if verify:
                _verify_safetensors(temp, tensors, report.path)
                report.verified = True
    return report


def _verify_safetensors(path: str, tensors: Mapping[str, np.ndarray], shown: str | None) -> None:
    expected = {
        name: (SAFETENSORS_CODES.get(value.dtype.name, ""), value.shape, digest(value))
        for name, value in tensors.items()
    }
    verify_file(path, shown or path, expected)


# --------------------------------------------------------------------------- npz


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
    members (`np.savez_compressed`). Options: see the module documentation.
    """
    import zipfile

    with _opened(src) as ckpt:
        items, skipped = plan_conversion(
            ckpt, lambda dtype: dtype != np.dtype(object), "npz", **options
        )
        report = ConversionReport(os.fspath(path), "npz", skipped=skipped)
        written: dict[str, tuple[np.dtype, tuple[int, ...], bytes]] = {}
        mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        with _into_place(path, overwrite) as temp:
            with zipfile.ZipFile(temp, "w", compression=mode, allowZip64=True) as archive:
                stream = _stream(ckpt, items, verify=verify, progress=progress, report=report)
                for item, value in stream:
                    # force_zip64: the member size is not known before it is written.
                    with archive.open(item.target + ".npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, _npy_storable(value), allow_pickle=False)
                    if verify:
                        written[item.target] = (value.dtype, value.shape, _digest(value))
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
    return _contiguous(value).view(np.dtype(f"V{value.dtype.itemsize}"))


def _verify_npz(path: str, written: Mapping[str, Any], shown: str | None) -> None:
    with np.load(path, allow_pickle=False) as archive:
        if set(archive.files) != set(written):
            raise _verify_failed(shown or path, None, "the set of tensor names")
        for name, (dtype, shape, digest) in written.items():
            stored = archive[name]
            # numpy has no bfloat16/float8: those come back as raw bits of a void dtype.
            same_type = stored.dtype == dtype or (
                stored.dtype.kind == "V" and stored.dtype.itemsize == dtype.itemsize
            )
            if not same_type or stored.shape != shape:
                raise _verify_failed(shown or path, name, "dtype or shape")
            if _digest(stored) != digest:
                raise _verify_failed(shown or path, name, "the stored bytes")


# --------------------------------------------------------------------------- PyTorch


def as_torch(array: np.ndarray, *, copy: bool = False) -> Any:
    """`array` (one that ckptio handed out) as a torch tensor sharing its memory, without
    torch's warning about numpy's read-only flag: the memory under ckptio's views is a private
    copy-on-write mapping, so writing into the tensor is safe and stays in this process (see
    `to_torch`). bfloat16 and float8 become torch's own dtypes; arrays torch cannot share
    (reversed strides, misaligned) and ``copy=True`` give a copy. For example::

        model = module.state_dict()
        plan = ckptio.plan_restore(path, model)
        plan.load(callback=lambda name, array: model[name].copy_(ckptio.as_torch(array)))
    """
    torch = _require("torch", "torch")
    if not _torch_supports(torch, array.dtype):
        raise UnsupportedError(f"torch has no dtype for {array.dtype.name}")
    return _tensor(torch, array, copy)


def _torch_state_dict(
    src: Source, copy: bool, verify: bool, progress: Progress | None, path: str | None, options: Any
) -> tuple[dict[str, Any], ConversionReport]:
    torch = _require("torch", "torch")
    with _opened(src) as ckpt:
        items, skipped = plan_conversion(
            ckpt, lambda dtype: _torch_supports(torch, dtype), "PyTorch", **options
        )
        report = ConversionReport(path, "pt", skipped=skipped)
        state: dict[str, Any] = {}
        with independent_views(ckpt):  # this state dict's memory is its own
            for item, value in _stream(
                ckpt, items, verify=verify, progress=progress, report=report
            ):
                state[item.target] = _tensor(torch, value, copy)
    return state, report


def to_torch(
    src: Source,
    *,
    copy: bool = False,
    verify: bool = False,
    progress: Progress | None = None,
    **options: Unpack[ConversionOptions],
) -> dict[str, Any]:
    """The checkpoint `src` as a PyTorch state dict ``{name: torch.Tensor}``.

    By default the tensors share memory with ckptio's zero-copy views of the checkpoint: pages
    of a private copy-on-write mapping, so nothing is read or copied until used. They are
    writable: an in-place write (``t.add_(1)``, an optimizer step on it) copies the page it
    touches, privately, and never reaches the file, other `to_torch` / `plan.load` results, or
    other openings of the checkpoint (when `src` is an open Checkpoint, its own views taken
    before or after this call are unaffected too). ``copy=True`` copies up front instead.
    Tensors torch cannot share (reversed strides, misaligned data) are copied. bfloat16 and
    float8 become torch's own dtypes. `verify` checks the source checksums. Options: see the
    module documentation; with ``unsupported="skip"`` the tensors left out are simply absent
    (`save_torch` reports them).
    """
    state, _ = _torch_state_dict(src, copy, verify, progress, None, options)
    return state


def save_torch(
    src: Source,
    path: str | os.PathLike[str],
    *,
    verify: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
    **options: Unpack[ConversionOptions],
) -> ConversionReport:
    """Write the checkpoint `src` as a PyTorch file (``torch.save`` of the `to_torch` state
    dict) at `path`; load it with ``torch.load(path, weights_only=True)``.

    With `verify`, the file is loaded back (memory-mapped) and every tensor's dtype, shape and
    bytes compared with the source. Options: see the module documentation.
    """
    torch = _require("torch", "torch")
    state, report = _torch_state_dict(src, False, verify, progress, os.fspath(path), options)
    with _into_place(path, overwrite) as temp:
        torch.save(state, temp)
        if verify:
            loaded = torch.load(temp, map_location="cpu", weights_only=True, mmap=True)
            if set(loaded) != set(state):
                raise _verify_failed(report.path, None, "the set of tensor names")
            for name, tensor in state.items():
                back = loaded[name]
                if back.dtype != tensor.dtype or tuple(back.shape) != tuple(tensor.shape):
                    raise _verify_failed(report.path, name, "dtype or shape")
                if not _same_bits(_torch_bits(torch, back), _torch_bits(torch, tensor)):
                    raise _verify_failed(report.path, name, "the stored bytes")
            del loaded
            report.verified = True
    return report


def _torch_bits(torch: Any, tensor: Any) -> np.ndarray:
    """A tensor's bytes as a flat uint8 numpy array (via a same-width integer view for the
    dtypes numpy lacks)."""
    tensor = tensor.contiguous()
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.view(torch.int16)
    elif tensor.dtype.is_floating_point and tensor.dtype.itemsize == 1:
        tensor = tensor.view(torch.uint8)  # the float8 family
    return _bits(tensor.numpy())


# --------------------------------------------------------------------------- ONNX

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
        cast: convert values whose dtype differs from the initializer's (otherwise an error).
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
        with _into_place(path, overwrite) as model_temp:
            with _external_file(data_path, overwrite) as data:
                for done, (init, source) in enumerate(plan, 1):
                    value = ckpt.get_tensor(source, verify=verify)
                    value = _onnx_value(init, _apply(transforms, source, value), cast)
                    if isinstance(value, str):
                        raise CheckpointError(value, ckpt.path, source)
                    filled = numpy_helper.from_array(value, init.name)
                    if data is not None and len(filled.raw_data) >= size_threshold:
                        _move_to_external(filled, data, location)
                    init.CopyFrom(filled)
                    if verify:
                        digests[init.name] = _digest(value)
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


def _onnx_value(init: Any, value: np.ndarray, cast: bool) -> np.ndarray | str:
    """`value` checked against (and with `cast`, converted to) the initializer's dtype and
    shape; an error message instead when it does not fit."""
    from onnx import helper

    want = np.dtype(helper.tensor_dtype_to_np_dtype(init.data_type))
    if value.dtype != want:
        if not cast:
            return (
                f"dtype {value.dtype.name} differs from ONNX initializer {init.name!r} "
                f"({want.name}); pass cast=True to convert"
            )
        value = value.astype(want)
    if value.shape != tuple(init.dims):
        return (
            f"shape {list(value.shape)} differs from ONNX initializer {init.name!r} "
            f"{list(init.dims)} (a layout transform may be needed)"
        )
    return _contiguous(value)


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
        if _digest(numpy_helper.to_array(tensor)) != digests[tensor.name]:
            raise _verify_failed(shown, tensor.name, "the stored bytes")
        tensor.ClearField("raw_data")


# --------------------------------------------------------------------------- by format name

FORMATS: dict[str, Callable[..., ConversionReport]] = {
    "safetensors": to_safetensors,
    "npz": to_npz,
    "pt": save_torch,
}
"""The file formats `convert` writes, by name."""

_SUFFIXES = {".safetensors": "safetensors", ".npz": "npz", ".pt": "pt", ".pth": "pt"}


def convert(
    src: Source, path: str | os.PathLike[str], to: str | None = None, **options: Any
) -> ConversionReport:
    """Convert `src` into the file `path`, in format `to` ("safetensors", "npz" or "pt"; by
    default from the file name's suffix). `options` are those of the format's function."""
    if to is None:
        to = _SUFFIXES.get(os.path.splitext(os.fspath(path))[1].lower())
        if to is None:
            known = ", ".join(sorted(FORMATS))
            raise UsageError(f"cannot tell the format from {os.fspath(path)!r}: pass to= ({known})")
    if to not in FORMATS:
        raise UsageError(f"unknown format {to!r} (known: {', '.join(sorted(FORMATS))})")
    return FORMATS[to](src, path, **options)
