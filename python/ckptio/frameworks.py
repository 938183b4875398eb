"""Optional packages, and numpy arrays as PyTorch tensors sharing their memory.

Used by `ckptio.open(framework="pt")` and the converters; torch and the other packages are
imported only when asked for.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["TORCH_NATIVE", "TORCH_VIA", "require_module", "torch_supports", "torch_tensor"]


def require_module(module: str, extra: str) -> Any:
    """Import `module`, or say which ckptio extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"this conversion needs the {module.split('.')[0]!r} package: "
            f"pip install 'ckptio[{extra}]' ({exc})"
        ) from exc


# Dtypes torch.from_numpy does not take: (numpy dtype of the same width, torch dtype name).
TORCH_VIA = {
    "bfloat16": ("int16", "bfloat16"),
    "float8_e4m3fn": ("uint8", "float8_e4m3fn"),
    "float8_e5m2": ("uint8", "float8_e5m2"),
    "float8_e4m3fnuz": ("uint8", "float8_e4m3fnuz"),
    "float8_e5m2fnuz": ("uint8", "float8_e5m2fnuz"),
}
TORCH_NATIVE = frozenset(
    "bool uint8 int8 int16 int32 int64 uint16 uint32 uint64 float16 float32 float64 "
    "complex64 complex128".split()
)


def torch_supports(torch: Any, dtype: np.dtype) -> bool:
    """Whether `torch` has a dtype for numpy's `dtype`."""
    name = dtype.name
    if name in TORCH_VIA:
        return hasattr(torch, TORCH_VIA[name][1])
    return name in TORCH_NATIVE and hasattr(torch, name)  # uint16/32/64: torch >= 2.3


def torch_tensor(torch: Any, value: np.ndarray, copy: bool) -> Any:
    """A torch tensor sharing `value`'s memory, or a copy when asked or when torch cannot
    share it (negative strides after a reversal, misaligned data)."""
    if copy or not value.flags.aligned or any(s < 0 for s in value.strides):
        value = np.array(value, order="C", copy=True)
    via = TORCH_VIA.get(value.dtype.name)
    if via is not None:
        value = value.view(np.dtype(via[0]))
    import warnings

    with warnings.catch_warnings():
        # numpy's read-only flag protects ckptio's own views; the memory under them is a
        # private copy-on-write mapping that torch may write, so torch's warning is not true.
        warnings.filterwarnings("ignore", "The given NumPy array is not writable", UserWarning)
        tensor = torch.from_numpy(value)
    return tensor.view(getattr(torch, via[1])) if via is not None else tensor
