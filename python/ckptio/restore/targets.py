"""What a restore fills, described without TensorFlow: names, shapes and dtypes.

`parse_targets(target)` accepts the forms people have at hand and returns `Target`s in order:

* a mapping `{name: shape}`, `{name: (shape, dtype)}` or `{name: None}` (shape unknown);
* a mapping whose values have `.shape` (and maybe `.dtype`): a PyTorch `state_dict`, a dict of
  numpy arrays or of TF/Keras variables (duck-typed: nothing here imports torch or TF);
* a list of objects with `.shape` and `.path` or `.name` (Keras 3 `model.weights`,
  TF `tf.compat.v1.global_variables()`: a trailing `:0` is dropped, as TF's `op.name` does);
* a list of names, `(name, shape)` or `(name, shape, dtype)` tuples;
* an opened checkpoint (or anything with `shapes()` and `dtype_names()`).

Shapes may hold None for unknown dimensions. Dtypes are normalised to TF's names ("float32",
"int64", "bfloat16", "string"...) from numpy dtypes, strings, `tf.DType` and `torch.dtype`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

try:
    import ml_dtypes
except ImportError:  # pragma: no cover - ml_dtypes is a dependency
    ml_dtypes = None

__all__ = ["Target", "dtype_name", "numpy_dtype", "parse_targets", "shape_tuple"]

ShapeLike = Optional[tuple[Optional[int], ...]]


@dataclass(frozen=True)
class Target:
    """One tensor to fill: its name, shape (None if unknown; dims may be None), dtype name."""

    name: str
    shape: ShapeLike = None
    dtype: str | None = None


# Spellings of dtypes outside numpy's names (torch, C-style aliases).
_ALIASES = {
    "float": "float32",
    "double": "float64",
    "half": "float16",
    "long": "int64",
    "int": "int32",
    "short": "int16",
    "cfloat": "complex64",
    "cdouble": "complex128",
    "bool_": "bool",
    "object": "string",
    "bytes": "string",
    "str": "string",
}


def dtype_name(dtype: Any) -> str | None:
    """TF's name for a dtype given as a string, numpy dtype or type, `tf.DType` or
    `torch.dtype`; None for None or anything unrecognised."""
    if dtype is None:
        return None
    if isinstance(dtype, str):
        name = dtype
    elif hasattr(dtype, "as_numpy_dtype") and hasattr(dtype, "name"):  # tf.DType
        name = str(dtype.name)
    else:
        try:
            name = np.dtype(dtype).name
        except (TypeError, ValueError):
            name = str(dtype)  # torch.float32 prints as "torch.float32"
    name = name.removeprefix("torch.").removeprefix("tf.").removesuffix("_ref")
    name = _ALIASES.get(name, name)
    if name == "string":
        return name
    try:
        numpy_dtype(name)
    except TypeError:
        return None
    return name


def numpy_dtype(name: str) -> np.dtype:
    """The numpy dtype for a TF dtype name (ml_dtypes for bfloat16, float8, int4)."""
    if name == "string":
        return np.dtype(object)
    if ml_dtypes is not None and hasattr(ml_dtypes, name):
        return np.dtype(getattr(ml_dtypes, name))
    try:
        return np.dtype(name)
    except TypeError:
        raise TypeError(f"no numpy dtype for {name!r}") from None


def shape_tuple(shape: Any) -> ShapeLike:
    """A shape as a tuple of ints (None for unknown dims), or None for an unknown rank."""
    if shape is None or getattr(shape, "rank", 0) is None:  # tf.TensorShape(None)
        return None
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    try:
        dims = list(shape)
    except (TypeError, ValueError):
        return None
    return tuple(None if d is None or (isinstance(d, int) and d < 0) else int(d) for d in dims)


def _is_shape(value: Any) -> bool:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        return False
    try:
        return all(d is None or isinstance(d, (int, np.integer)) for d in value)
    except TypeError:
        return False


_OUTPUT_INDEX = re.compile(r":\d+$")


def _object_name(obj: Any) -> str | None:
    """A variable-like object's name: Keras 3 `.path`, else `.name` without TF's `:0`."""
    path = getattr(obj, "path", None)
    if isinstance(path, str):
        return path
    name = getattr(obj, "name", None)
    if isinstance(name, str):
        return _OUTPUT_INDEX.sub("", name)
    return None


def _from_value(name: str, value: Any) -> Target:
    if value is None:
        return Target(name)
    if hasattr(value, "shape") and not isinstance(value, tuple):
        return Target(name, shape_tuple(value.shape), dtype_name(getattr(value, "dtype", None)))
    if _is_shape(value):
        return Target(name, shape_tuple(value))
    if isinstance(value, (tuple, list)) and len(value) == 2 and _is_shape(value[0]):
        return Target(name, shape_tuple(value[0]), dtype_name(value[1]))
    raise TypeError(
        f"target {name!r}: expected a shape, a (shape, dtype) pair or an object with .shape, "
        f"got {value!r}"
    )


def _from_item(item: Any) -> Target:
    if isinstance(item, str):
        return Target(item)
    if isinstance(item, (tuple, list)) and item and isinstance(item[0], str):
        if len(item) == 2:
            return _from_value(item[0], item[1])
        if len(item) == 3:
            return _from_value(item[0], (item[1], item[2]))
    name = _object_name(item)
    if name is not None and hasattr(item, "shape"):
        return Target(name, shape_tuple(item.shape), dtype_name(getattr(item, "dtype", None)))
    raise TypeError(
        "a target list holds names, (name, shape[, dtype]) tuples or variables with .shape and "
        f".path/.name, not {item!r}"
    )


def parse_targets(target: Any) -> list[Target]:
    """The targets described by `target` (see the module docstring), in order.

    Raises TypeError for an unrecognised form and ValueError for a repeated name.
    """
    if hasattr(target, "shapes") and hasattr(target, "dtype_names"):
        dtypes = target.dtype_names()
        found = [Target(n, tuple(s), dtypes.get(n)) for n, s in target.shapes().items()]
    elif isinstance(target, Mapping):
        found = [_from_value(str(name), value) for name, value in target.items()]
    elif isinstance(target, Iterable) and not isinstance(target, (str, bytes)):
        found = [_from_item(item) for item in target]
    else:
        raise TypeError(
            "target must be a mapping {name: shape | (shape, dtype) | array-like}, a list of "
            f"names or variables, or a checkpoint; got {type(target).__name__}"
        )
    seen: set[str] = set()
    for t in found:
        if t.name in seen:
            raise ValueError(f"target name {t.name!r} appears twice")
        seen.add(t.name)
    return found
