"""Drop-in look-alikes of TensorFlow's checkpoint reader functions, without TensorFlow.

    from ckptio import compat as tf_ckpt
    reader = tf_ckpt.load_checkpoint("model.ckpt-1000")   # tf.train.load_checkpoint
    reader.get_variable_to_shape_map()                     # {name: [dims]}
    reader.get_tensor("dense/kernel")                      # a numpy copy, like TF

Values match TF's: dtype maps give objects whose `.name` is TF's dtype name; `get_tensor`
returns a fresh array (a numpy scalar for rank 0, `bytes` for a scalar string), checksum
verified as TF always does.
"""

from __future__ import annotations

import os
from typing import Any

from .reader import Checkpoint
from .reader import open as _open

__all__ = [
    "CheckpointReader",
    "DType",
    "NewCheckpointReader",
    "list_variables",
    "load_checkpoint",
    "load_variable",
]


class DType:
    """Stands in for `tf.DType` in dtype maps: `.name` is TF's name ("float32", "string")."""

    __slots__ = ("_numpy", "name")

    def __init__(self, name: str, numpy_dtype: Any) -> None:
        self.name = name
        self._numpy = numpy_dtype

    @property
    def as_numpy_dtype(self) -> Any:
        """The numpy type (`object` for strings), like `tf.DType.as_numpy_dtype`."""
        return self._numpy

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DType):
            return self.name == other.name
        return getattr(other, "name", other) == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"tf.{self.name}"


class CheckpointReader:
    """TF's `CheckpointReader` (what `tf.train.load_checkpoint` returns), TF-free."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._ckpt: Checkpoint = _open(path)

    def get_variable_to_shape_map(self) -> dict[str, list[int]]:
        return {name: list(shape) for name, shape in self._ckpt.shapes().items()}

    def get_variable_to_dtype_map(self) -> dict[str, DType]:
        dtypes = self._ckpt.dtypes()
        return {
            name: DType(tf_name, object if dtypes[name] == "string" else dtypes[name])
            for name, tf_name in self._ckpt.dtype_names().items()
        }

    def has_tensor(self, name: str) -> bool:
        return name in self._ckpt

    def get_tensor(self, name: str) -> Any:
        value = self._ckpt.get_tensor(name, copy=True, verify=True)
        if not value.flags.writeable:  # (empty string tensors): TF's arrays are always writable
            value = value.copy()
        if value.ndim == 0:
            return value[()]
        return value

    def debug_string(self) -> bytes:
        return self._ckpt._core.debug_string()

    def close(self) -> None:
        self._ckpt.close()


def NewCheckpointReader(path: str | os.PathLike[str]) -> CheckpointReader:
    """`tf.compat.v1.train.NewCheckpointReader` without TensorFlow."""
    return CheckpointReader(path)


def load_checkpoint(path: str | os.PathLike[str]) -> CheckpointReader:
    """`tf.train.load_checkpoint`: a prefix, or a directory with a `checkpoint` state file."""
    return CheckpointReader(path)


def list_variables(path: str | os.PathLike[str]) -> list[tuple[str, list[int]]]:
    """`tf.train.list_variables`: sorted (name, shape) pairs."""
    reader = load_checkpoint(path)
    try:
        return sorted(reader.get_variable_to_shape_map().items())
    finally:
        reader.close()


def load_variable(path: str | os.PathLike[str], name: str) -> Any:
    """`tf.train.load_variable`: one tensor's value; a trailing `:0` is ignored."""
    if name.endswith(":0"):
        name = name[:-2]
    reader = load_checkpoint(path)
    try:
        return reader.get_tensor(name)
    finally:
        reader.close()
