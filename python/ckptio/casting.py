"""The cast policy of `rewrite` and every converter: which casts keep every value, which are
refused unless the caller opts in, and how values are converted.

Allowed by default (no value's magnitude class is lost):

* float to float: float64, float32, float16, bfloat16, the float8 family (precision is
  reduced, which is what such a cast is for; values beyond the target's range become inf);
* integer to a wider integer, unsigned to a wider signed one (every value survives);
* integer to a float that holds all its values exactly (int8/uint8/int16 to float32, int32 to
  float64; int64 to nothing: TF's int64 step counters must survive);
* bool to any number (0 and 1), real to complex, complex to a narrower complex.

Refused with `LossyCastError` unless ``allow_lossy_cast=True`` (``--allow-lossy-cast``): float
to integer, a narrower integer, signed to unsigned, an integer to a float that cannot hold it,
complex to real, anything to bool. Opted in, values saturate instead of wrapping around: float
to integer truncates toward zero and clips to the target's range (NaN becomes 0), integers are
clipped to the narrower range, complex keeps the real part, bool is "nonzero".

A cast given as one dtype name (``cast="bfloat16"``) applies to every floating tensor; integer,
bool and string tensors are left as they are. A mapping (``{name: dtype}``) casts the named
tensors, whatever their dtype; each name must be a tensor that is written.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any, Union

import numpy as np

from ._dtypes import QUANTIZED, numpy_dtypes
from ._names import did_you_mean
from .errors import LossyCastError, UsageError

__all__ = [
    "cast_array",
    "cast_error",
    "dtype_names",
    "lossy_reason",
    "plan_casts",
    "refusal",
    "target_dtype",
]

Cast = Union[str, Mapping[str, str], None]


@functools.cache
def _by_name() -> dict[str, np.dtype]:
    return {dtype.name: dtype for code, dtype in numpy_dtypes().items() if code not in QUANTIZED}


def dtype_names() -> list[str]:
    """The dtype names a cast accepts, sorted."""
    return sorted(_by_name())


def target_dtype(name: Any) -> np.dtype:
    """The numpy dtype a cast to `name` produces; `UsageError` listing the accepted names."""
    dtype = _by_name().get(name) if isinstance(name, str) else None
    if dtype is None:
        raise UsageError(
            f"unknown dtype {name!r} to cast to{did_you_mean(str(name), _by_name())}; "
            f"accepted: {', '.join(dtype_names())}"
        )
    return dtype


def _is_float(dtype: np.dtype) -> bool:
    return dtype.kind == "f" or (dtype.kind == "V" and "float" in dtype.name)


def _is_int(dtype: np.dtype) -> bool:
    return dtype.kind in "iu" or (dtype.kind == "V" and "int" in dtype.name)


def _iinfo(dtype: np.dtype) -> Any:
    if dtype.kind in "iu":
        return np.iinfo(dtype)
    import ml_dtypes

    return ml_dtypes.iinfo(dtype)


def _finfo(dtype: np.dtype) -> Any:
    if dtype.kind == "c":
        dtype = np.dtype(f"f{dtype.itemsize // 2}")
    if dtype.kind == "f":
        return np.finfo(dtype)
    import ml_dtypes

    return ml_dtypes.finfo(dtype)


def lossy_reason(src: np.dtype, dst: np.dtype) -> str | None:
    """Why casting `src` to `dst` could change values beyond rounding floats, or None."""
    d = dst.name
    if src == dst or src.kind == "b":
        return None
    if dst.kind == "b":
        return "only whether each value is nonzero would survive"
    if src.kind == "c":
        return None if dst.kind == "c" else "the imaginary parts would be dropped"
    if _is_float(src):
        if _is_float(dst) or dst.kind == "c":
            return None
        info = _iinfo(dst)
        return f"fractions and values outside {d}'s range [{info.min}, {info.max}] would be lost"
    if _is_int(src):
        have = _iinfo(src)
        if _is_int(dst):
            want = _iinfo(dst)
            if want.min <= have.min and have.max <= want.max:
                return None
            return f"values outside {d}'s range [{want.min}, {want.max}] would not survive"
        if _is_float(dst) or dst.kind == "c":
            info = _finfo(dst)
            exact = 2 ** (int(info.nmant) + 1)
            if max(-int(have.min), int(have.max)) <= min(exact, float(info.max)):
                return None
            return f"{d} holds integers exactly only up to 2**{int(info.nmant) + 1}"
    return "it is not a numeric conversion ckptio checks"


def refusal(src: str, dst: str, why: str, where: str = "") -> str:
    """The one wording of a refused cast, for every caller (the command line swaps in its
    flag for the keyword)."""
    return (
        f"refusing to cast {src} to {dst}{where}: {why}; pass allow_lossy_cast=True to cast anyway"
    )


def _is_floating_tensor(dtype: Any) -> bool:
    return isinstance(dtype, np.dtype) and _is_float(dtype)


def plan_casts(
    cast: Cast,
    dtypes: Mapping[str, Any],
    planned: Iterable[str],
    *,
    allow_lossy: bool = False,
    file: str | None = None,
) -> dict[str, np.dtype]:
    """{source name: dtype to cast to} for the `planned` tensors (`dtypes`: every source
    tensor's numpy dtype, or a string for string/variant tensors). Casts to the same dtype are
    left out. Raises `UsageError` for unknown dtype names and mapping keys that name no planned
    tensor, `LossyCastError` for casts that could lose values unless `allow_lossy`."""
    if cast is None:
        return {}
    planned = list(planned)
    if isinstance(cast, str):
        wanted = target_dtype(cast)
        table = {n: wanted for n in planned if _is_floating_tensor(dtypes[n])}
    elif isinstance(cast, Mapping):
        chosen = set(planned)
        table = {}
        for name, dtype_name in cast.items():
            if name not in chosen:
                why = "is not written (left out by select or rename)" if name in dtypes else ""
                raise UsageError(
                    f"cast names {name!r}, which {why or 'is no tensor of the checkpoint'}"
                    f"{did_you_mean(name, planned)}",
                    file=file,
                )
            if not isinstance(dtypes[name], np.dtype):
                raise UsageError(f"{dtypes[name]} tensors cannot be cast", file=file, key=name)
            table[name] = target_dtype(dtype_name)
    else:
        raise TypeError(f"cast is a dtype name or a mapping {{name: dtype}}, not {cast!r}")
    table = {n: d for n, d in table.items() if dtypes[n] != d}
    if not allow_lossy:
        lossy = {n: r for n in table if (r := lossy_reason(dtypes[n], table[n])) is not None}
        if lossy:
            first = next(iter(lossy))
            more = f" (and {len(lossy) - 1} more tensors)" if len(lossy) > 1 else ""
            raise LossyCastError(
                refusal(dtypes[first].name, table[first].name, lossy[first], more),
                file=file,
                key=first,
            )
    return table


def cast_array(value: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """`value` as `dtype` under the policy's rules (saturating where a lossy cast was allowed)."""
    value = np.asarray(value)
    if value.dtype == dtype:
        return value
    with np.errstate(over="ignore", invalid="ignore"):  # float narrowing to inf is intended
        if dtype.kind == "b":
            return value != 0
        if value.dtype.kind == "c" and dtype.kind != "c":
            value = value.real
        if _is_int(dtype) and not _is_int(value.dtype) and value.dtype.kind != "b":
            info = _iinfo(dtype)
            wide = np.trunc(value.astype(np.float64))
            wide = np.nan_to_num(np.clip(wide, int(info.min), int(info.max)), nan=0.0)
            return wide.astype(dtype)
        if _is_int(dtype) and _is_int(value.dtype) and lossy_reason(value.dtype, dtype):
            info = _iinfo(dtype)
            if value.dtype.kind == "V":  # ml_dtypes int4/int2: clip in a numpy integer type
                value = value.astype(np.int64)
            lo = max(int(info.min), int(np.iinfo(value.dtype).min))
            hi = min(int(info.max), int(np.iinfo(value.dtype).max))
            return np.clip(value, lo, hi).astype(dtype)
        return value.astype(dtype)


def cast_error(original: np.ndarray, cast: np.ndarray, chunk: int = 1 << 22) -> tuple[float, float]:
    """(max absolute error, max relative error) of `cast` against `original`, over the
    elements whose original is finite (relative: over those that are also nonzero; an
    overflow to inf counts as an infinite error). Computed in chunks of float64."""
    kind = np.complex128 if original.dtype.kind == "c" else np.float64
    a_all, b_all = np.asarray(original).reshape(-1), np.asarray(cast).reshape(-1)
    worst_abs = worst_rel = 0.0
    for start in range(0, a_all.size, chunk):
        a = a_all[start : start + chunk].astype(kind)
        b = b_all[start : start + chunk].astype(kind)
        finite = np.isfinite(a)
        a, b = a[finite], b[finite]
        if not a.size:
            continue
        with np.errstate(invalid="ignore", over="ignore"):
            diff = np.abs(a - b)
            diff[~np.isfinite(b)] = np.inf
            worst_abs = max(worst_abs, float(diff.max()))
            nonzero = a != 0
            if nonzero.any():
                worst_rel = max(worst_rel, float((diff[nonzero] / np.abs(a[nonzero])).max()))
    return worst_abs, worst_rel
