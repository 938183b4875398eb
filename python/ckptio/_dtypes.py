"""TensorFlow DataType enum values and their numpy dtypes.

numpy and ml_dtypes are imported on first use, not with this module: listing a checkpoint
(`ckptio ls`) needs neither, and importing them is most of a short command's run time.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# TF enum -> numpy dtype, for every dtype stored as raw little-endian elements. Quantized types
# have no numpy equivalent; their storage type is used (as TF's own numpy conversion does).
_PLAIN: dict[int, str] = {
    1: "<f4",
    2: "<f8",
    3: "<i4",
    4: "u1",
    5: "<i2",
    6: "i1",
    8: "<c8",
    9: "<i8",
    10: "?",
    11: "i1",
    12: "u1",
    13: "<i4",
    15: "<i2",
    16: "<u2",
    17: "<u2",
    18: "<c16",
    19: "<f2",
    22: "<u4",
    23: "<u8",
}
_ML_DTYPES: dict[int, str] = {
    14: "bfloat16",
    24: "float8_e5m2",
    25: "float8_e4m3fn",
    26: "float8_e4m3fnuz",
    27: "float8_e4m3b11fnuz",
    28: "float8_e5m2fnuz",
    29: "int4",
    30: "uint4",
    31: "int2",
    32: "uint2",
    33: "float4_e2m1fn",
}
STRING_ENUM = 7


def install() -> None:
    """Give the C++ core its table of numpy dtypes (called by the core on first use)."""
    from . import _core

    _core.set_numpy_dtypes(numpy_dtypes())


@functools.cache
def _ml_dtypes():
    try:
        import ml_dtypes
    except ImportError:  # pragma: no cover - ml_dtypes is a dependency; stay usable without it
        return None
    return ml_dtypes


@functools.cache
def numpy_dtypes() -> dict[int, np.dtype]:
    """Every TF enum value that maps to a numpy dtype on this installation."""
    import numpy as np

    ml_dtypes = _ml_dtypes()
    table = {code: np.dtype(spec) for code, spec in _PLAIN.items()}
    if ml_dtypes is not None:
        for code, name in _ML_DTYPES.items():
            if hasattr(ml_dtypes, name):
                table[code] = np.dtype(getattr(ml_dtypes, name))
    return table


QUANTIZED = {11: "qint8", 12: "quint8", 13: "qint32", 15: "qint16", 16: "quint16"}


def enum_for(dtype: np.dtype) -> int:
    """The TF enum a numpy dtype is written as (quantized types only when asked by name)."""
    for code, np_dtype in numpy_dtypes().items():
        if code not in QUANTIZED and np_dtype == dtype:
            return code
    raise TypeError(f"numpy dtype {dtype} has no TensorFlow equivalent")


def enum_for_name(name: str) -> int:
    """The TF enum for a TF dtype name ("float32", "qint8", "bfloat16", "string", ...)."""
    if name == "string":
        return STRING_ENUM
    for code, quantized in QUANTIZED.items():
        if quantized == name:
            return code
    import numpy as np

    return enum_for(np.dtype(getattr(_ml_dtypes(), name, name)))


# numpy (ml_dtypes) dtype name -> safetensors dtype code (ckptio.convert's writer and read-back,
# distributed.py's streaming writer, `TensorSlice.get_dtype`).
SAFETENSORS_CODES = {
    "bool": "BOOL",
    "uint8": "U8",
    "int8": "I8",
    "uint16": "U16",
    "int16": "I16",
    "uint32": "U32",
    "int32": "I32",
    "uint64": "U64",
    "int64": "I64",
    "float16": "F16",
    "bfloat16": "BF16",
    "float32": "F32",
    "float64": "F64",
    "complex64": "C64",
    "float8_e4m3fn": "F8_E4M3",
    "float8_e5m2": "F8_E5M2",
    "float8_e4m3fnuz": "F8_E4M3FNUZ",
    "float8_e5m2fnuz": "F8_E5M2FNUZ",
}
