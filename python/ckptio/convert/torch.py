"""PyTorch: `as_torch`, `to_torch` (a state dict sharing the mapped memory), `save_torch`."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import UnsupportedError
from ..frameworks import require_module as _require
from ..frameworks import torch_supports as _torch_supports
from ..frameworks import torch_tensor as _tensor
from ..planning import ConversionOptions, plan_conversion
from ..reader import independent_views
from ..reader import opened as _opened
from . import pipeline
from .pipeline import ConversionReport, Progress, Source

if TYPE_CHECKING:
    from typing_extensions import Unpack


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
            for item, value in pipeline.stream(
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
    float8 become torch's own dtypes. `verify` checks the source checksums. Options: see
    `ckptio.convert`; with ``unsupported="skip"`` the tensors left out are simply absent
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
    bytes compared with the source. Options: see `ckptio.convert`.
    """
    torch = _require("torch", "torch")
    state, report = _torch_state_dict(src, False, verify, progress, os.fspath(path), options)
    with pipeline.into_place(path, overwrite) as temp:
        torch.save(state, temp)
        if verify:
            loaded = torch.load(temp, map_location="cpu", weights_only=True, mmap=True)
            if set(loaded) != set(state):
                raise pipeline.verify_failed(report.path, None, "the set of tensor names")
            for name, tensor in state.items():
                back = loaded[name]
                if back.dtype != tensor.dtype or tuple(back.shape) != tuple(tensor.shape):
                    raise pipeline.verify_failed(report.path, name, "dtype or shape")
                if not pipeline.same_bytes(_torch_bits(torch, back), _torch_bits(torch, tensor)):
                    raise pipeline.verify_failed(report.path, name, "the stored bytes")
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
    return pipeline.bytes_of(tensor.numpy())
