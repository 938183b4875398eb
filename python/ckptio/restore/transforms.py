"""Array transforms applied while restoring, and named TF -> PyTorch layout rules.

A transform is a small immutable object:

    t = Transpose((3, 2, 0, 1))
    t.apply(array)      # numpy result; a view where numpy gives one (transpose, reverse,
                        # reshape of a contiguous array), a copy otherwise (cast)
    t.shape((3, 3, 8, 16))   # (16, 8, 3, 3): the output shape, from the input shape alone;
                             # ValueError when the transform does not apply to that shape
    t.dtype("float32")       # the output dtype name (TF's spelling)
    str(t)                   # "transpose(3,2,0,1)"
    t.to_dict()              # {"op": "transpose", "perm": [3, 2, 0, 1]}

The four kinds are `Reshape` (row-major, as `tf.reshape` and TF-slim's `reshape_variables`),
`Reverse` (flip one axis: RGB <-> BGR input channels of a `[3, 3, 3, 64]` conv kernel are
axis 2), `Transpose` and `Cast`. A restore plan applies a sequence of them in order.

Layout rules turn TF's layouts into PyTorch's (`TORCH_RULES`, `torch_transforms`):

| kind          | TF / Keras layout     | PyTorch layout            | steps                       |
|---------------|-----------------------|---------------------------|-----------------------------|
| `dense`       | kernel `[in, out]`    | weight `[out, in]`        | transpose(1,0)              |
| `conv1d`      | `[W, in, out]`        | `[out, in, W]`            | transpose(2,1,0)            |
| `conv2d`      | HWIO `[H, W, in, out]`| OIHW `[out, in, H, W]`    | transpose(3,2,0,1)          |
| `conv3d`      | `[D, H, W, in, out]`  | `[out, in, D, H, W]`      | transpose(4,3,0,1,2)        |
| `depthwise2d` | `[H, W, C, M]`        | `[C*M, 1, H, W]`, groups=C| transpose(2,3,0,1), reshape |

and `torch_name` renames the variables: `/` becomes `.`, and the leaf `kernel` (also Keras 3's
`_kernel`, `depthwise_kernel`, TF-slim's `weights`) becomes `weight`; `biases` becomes `bias`;
BatchNorm's `gamma`, `beta`, `moving_mean`, `moving_variance` become `weight`, `bias`,
`running_mean`, `running_var`. `TorchLayout` (also `layout="torch"` in `plan_restore`) puts
both together. No transform imports TensorFlow or PyTorch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..casting import cast_array
from .targets import dtype_name, numpy_dtype

__all__ = [
    "TORCH_RULES",
    "Cast",
    "Reshape",
    "Reverse",
    "TorchLayout",
    "Transform",
    "Transpose",
    "torch_name",
    "torch_transforms",
]

Shape = tuple[int, ...]


class Transform:
    """Base class: one step applied to a restored array (see the module docstring)."""

    def apply(self, array: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def shape(self, shape: Shape) -> Shape:
        """The output shape for an input of `shape`; ValueError if the step does not apply."""
        return tuple(shape)

    def dtype(self, dtype: str) -> str:
        """The output dtype name for an input dtype name."""
        return dtype

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError


@dataclass(frozen=True)
class Reshape(Transform):
    """Row-major reshape, as `tf.reshape` (and `Saver(reshape=True)`) do. One -1 is allowed."""

    new_shape: tuple[int, ...]

    def __init__(self, new_shape: Sequence[int]) -> None:
        object.__setattr__(self, "new_shape", tuple(int(d) for d in new_shape))

    def shape(self, shape: Shape) -> Shape:
        total = math.prod(shape)
        known = math.prod(d for d in self.new_shape if d != -1)
        unknown = sum(1 for d in self.new_shape if d == -1)
        if unknown > 1 or any(d < -1 for d in self.new_shape):
            raise ValueError(f"invalid reshape target {list(self.new_shape)}")
        if unknown:
            if known == 0 or total % known:
                raise ValueError(f"cannot reshape {list(shape)} to {list(self.new_shape)}")
            return tuple(total // known if d == -1 else d for d in self.new_shape)
        if known != total:
            raise ValueError(
                f"cannot reshape {list(shape)} ({total} elements) to {list(self.new_shape)} "
                f"({known} elements)"
            )
        return self.new_shape

    def apply(self, array: np.ndarray) -> np.ndarray:
        return np.reshape(array, self.shape(array.shape), order="C")

    def __str__(self) -> str:
        return f"reshape({','.join(map(str, self.new_shape))})"

    def to_dict(self) -> dict[str, Any]:
        return {"op": "reshape", "shape": list(self.new_shape)}


@dataclass(frozen=True)
class Reverse(Transform):
    """Reverse the order along one axis (`tf.reverse(x, [axis])`): RGB <-> BGR channels."""

    axis: int

    def _axis(self, rank: int) -> int:
        if not -rank <= self.axis < rank:
            raise ValueError(f"axis {self.axis} is out of range for rank {rank}")
        return self.axis % rank

    def shape(self, shape: Shape) -> Shape:
        self._axis(len(shape))
        return tuple(shape)

    def apply(self, array: np.ndarray) -> np.ndarray:
        axis = self._axis(array.ndim)
        return array[(slice(None),) * axis + (slice(None, None, -1),)]

    def __str__(self) -> str:
        return f"reverse(axis={self.axis})"

    def to_dict(self) -> dict[str, Any]:
        return {"op": "reverse", "axis": self.axis}


@dataclass(frozen=True)
class Transpose(Transform):
    """Permute the axes: output axis i is input axis `perm[i]` (numpy/TF semantics)."""

    perm: tuple[int, ...]

    def __init__(self, perm: Sequence[int]) -> None:
        object.__setattr__(self, "perm", tuple(int(p) for p in perm))

    def shape(self, shape: Shape) -> Shape:
        if sorted(self.perm) != list(range(len(shape))):
            raise ValueError(f"permutation {list(self.perm)} does not fit rank {len(shape)}")
        return tuple(shape[p] for p in self.perm)

    def apply(self, array: np.ndarray) -> np.ndarray:
        self.shape(array.shape)
        return np.transpose(array, self.perm)

    def __str__(self) -> str:
        return f"transpose({','.join(map(str, self.perm))})"

    def to_dict(self) -> dict[str, Any]:
        return {"op": "transpose", "perm": list(self.perm)}


@dataclass(frozen=True)
class Cast(Transform):
    """Convert to another dtype (a copy), as the cast policy converts (`ckptio.casting`:
    saturating where a cast that loses values was allowed). Names as TF spells them."""

    to: str

    def __init__(self, to: Any) -> None:
        name = dtype_name(to)
        if name is None:
            raise ValueError(f"unknown dtype {to!r}")
        numpy_dtype(name)  # fail now for names numpy cannot hold
        object.__setattr__(self, "to", name)

    def dtype(self, dtype: str) -> str:
        if dtype in ("string", "variant", "resource"):
            raise ValueError(f"cannot cast a {dtype} tensor to {self.to}")
        return self.to

    def apply(self, array: np.ndarray) -> np.ndarray:
        if array.dtype == object:
            raise ValueError(f"cannot cast a string tensor to {self.to}")
        return cast_array(array, numpy_dtype(self.to))

    def __str__(self) -> str:
        return f"cast({self.to})"

    def to_dict(self) -> dict[str, Any]:
        return {"op": "cast", "dtype": self.to}


# --------------------------------------------------------------------------- PyTorch layouts

TORCH_RULES: dict[str, str] = {
    "dense": "kernel [in, out] -> weight [out, in]: transpose(1,0)",
    "conv1d": "[W, in, out] -> [out, in, W]: transpose(2,1,0)",
    "conv2d": "HWIO [H, W, in, out] -> OIHW [out, in, H, W]: transpose(3,2,0,1)",
    "conv3d": "[D, H, W, in, out] -> [out, in, D, H, W]: transpose(4,3,0,1,2)",
    "depthwise2d": "[H, W, C, M] -> [C*M, 1, H, W] (groups=C): transpose(2,3,0,1), reshape",
}
"""The named TF -> PyTorch layout rules, with what each does (see `torch_transforms`)."""

_PERMS = {
    "dense": (1, 0),
    "conv1d": (2, 1, 0),
    "conv2d": (3, 2, 0, 1),
    "conv3d": (4, 3, 0, 1, 2),
}


def torch_transforms(kind: str, shape: Sequence[int]) -> tuple[Transform, ...]:
    """The steps of layout rule `kind` (a key of `TORCH_RULES`) for a TF tensor of `shape`.

    Raises ValueError for an unknown kind or a shape of the wrong rank.
    """
    shape = tuple(shape)
    if kind in _PERMS:
        perm = _PERMS[kind]
        if len(shape) != len(perm):
            raise ValueError(f"layout rule {kind!r} needs rank {len(perm)}, got {list(shape)}")
        return (Transpose(perm),)
    if kind == "depthwise2d":
        if len(shape) != 4:
            raise ValueError(f"layout rule 'depthwise2d' needs rank 4, got {list(shape)}")
        h, w, c, m = shape
        # Torch's grouped conv numbers output channels c*M + m, as TF's depthwise conv does.
        return (Transpose((2, 3, 0, 1)), Reshape((c * m, 1, h, w)))
    raise ValueError(f"unknown layout rule {kind!r}; known: {sorted(TORCH_RULES)}")


_TORCH_LEAVES = {
    "kernel": "weight",
    "_kernel": "weight",  # Keras 3 Dense/Conv keep the kernel as `_kernel` (for LoRA)
    "depthwise_kernel": "weight",
    "pointwise_kernel": "weight",
    "weights": "weight",
    "biases": "bias",
    "embeddings": "weight",
    "gamma": "weight",
    "beta": "bias",
    "moving_mean": "running_mean",
    "moving_variance": "running_var",
}
_KERNEL_LEAVES = {"kernel", "_kernel", "weights", "pointwise_kernel"}


def torch_name(name: str) -> str:
    """The PyTorch state_dict name for a TF variable name: `block/conv/kernel` becomes
    `block.conv.weight`, `bn/moving_variance` becomes `bn.running_var` (see module docs)."""
    parts = name.split("/")
    parts[-1] = _TORCH_LEAVES.get(parts[-1], parts[-1])
    return ".".join(parts)


def _leaf(name: str) -> str:
    return name.rsplit("/", 1)[-1]


class TorchLayout:
    """TF/Keras -> PyTorch: names by `torch_name`, arrays by the `TORCH_RULES`.

    The rule is chosen from the source's leaf name and rank: kernels of rank 2, 3, 4, 5 are
    dense, conv1d, conv2d, conv3d; `depthwise_kernel` is depthwise2d. A rank-4 `kernel` whose
    target shape is `[C*M, 1, H, W]` (and not conv2d's OIHW) is a Keras 3 DepthwiseConv2D,
    whose kernel is not named `depthwise_kernel`. Other tensors (biases, BatchNorm, embeddings)
    are copied as they are.
    """

    name = "torch"

    def rename(self, source: str) -> str:
        """The target name for a checkpoint name."""
        return torch_name(source)

    def kind(
        self, source: str, shape: Sequence[int], target_shape: Sequence[Any] | None = None
    ) -> str | None:
        """Which `TORCH_RULES` entry applies to `source`, or None."""
        leaf, rank = _leaf(source), len(shape)
        if leaf == "depthwise_kernel" and rank == 4:
            return "depthwise2d"
        if leaf not in _KERNEL_LEAVES:
            return None
        if rank == 4 and target_shape is not None:
            h, w, c, m = shape
            target = tuple(target_shape)
            if target == (c * m, 1, h, w) and target != (m, c, h, w):
                return "depthwise2d"
        return {2: "dense", 3: "conv1d", 4: "conv2d", 5: "conv3d"}.get(rank)

    def transforms(
        self, source: str, shape: Sequence[int], target_shape: Sequence[Any] | None = None
    ) -> tuple[Transform, ...]:
        """The steps turning the TF tensor `source` of `shape` into its PyTorch layout."""
        kind = self.kind(source, shape, target_shape)
        return () if kind is None else torch_transforms(kind, shape)

    def target_only(self, target: str) -> str | None:
        """Why a target has no TF counterpart (None if it should have one)."""
        if target.endswith("num_batches_tracked"):
            return "PyTorch BatchNorm counter; TF checkpoints have none"
        return None

    def __repr__(self) -> str:
        return "TorchLayout()"
