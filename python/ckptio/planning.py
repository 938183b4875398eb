"""Which tensors a rewrite, merge or conversion writes, under which names and dtypes: the one
place that decides selection, renaming, casts, name collisions and raw copies.

A plan is a list of `PlannedTensor` records, decided from the index before any data is read;
`ckptio.rewrite`, `ckptio.merge`, every converter of `ckptio.convert` and the drivers of
`ckptio.distributed` carry them out. The cast policy itself lives in `ckptio.casting`, the
"did you mean" checks of user-given names in `ckptio._names`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict, Union

import numpy as np

from ._names import check_keys, check_rename, require_some
from .casting import plan_casts
from .errors import CheckpointError, UnsupportedError
from .restore.objgraph import OBJECT_GRAPH_KEY

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "ConversionOptions",
    "PlanOptions",
    "PlannedTensor",
    "RewriteOptions",
    "can_copy_raw",
    "check_collisions",
    "check_options",
    "keeper",
    "plan_conversion",
    "plan_rewrite",
    "renamer",
    "transform_for",
]

# Union, not "|": these aliases are evaluated at import time, and Python 3.9 has no "|".
Select = Union[Callable[[str], bool], Iterable[str], None]
Rename = Union[Mapping[str, str], Callable[[str], "str | None"], None]
Cast = Union[str, Mapping[str, str], None]
Transform = Callable[[np.ndarray], np.ndarray]
Transforms = Union[Mapping[str, Transform], Callable[[str, np.ndarray], np.ndarray], None]


class PlanOptions(TypedDict, total=False):
    """Selection, renaming and casts, as every rewrite and conversion takes them (see
    `ckptio.rewrite`)."""

    select: Select
    rename: Rename
    cast: Cast
    allow_lossy_cast: bool
    allow_empty: bool


class ConversionOptions(PlanOptions, total=False):
    """The options every converter takes (see `ckptio.convert` for what each does)."""

    transforms: Transforms
    layout: Any  # "torch" or a layout object of `ckptio.transforms`
    unsupported: str  # "raise" (the default) or "skip"


class RewriteOptions(PlanOptions, total=False):
    """The planning options of `ckptio.rewrite` and `ckptio.distributed.rewrite`."""

    keep_object_graph: bool


def check_options(options: Mapping[str, Any], known: Any) -> None:
    """Raise TypeError for keys of `options` that the TypedDict `known` does not declare."""
    unknown = set(options) - set(known.__annotations__)
    if unknown:
        raise TypeError(f"unknown options: {', '.join(sorted(unknown))}")


@dataclass(frozen=True)
class PlannedTensor:
    """One tensor of a plan.

    Attributes:
        source: its name in the source checkpoint.
        target: its name in the output.
        cast: the dtype to store it as, or None to keep its own.
        transform: ``fn(array) -> array`` applied after reading, or None.
        raw_copy: its stored bytes and checksum are copied undecoded (TensorBundle outputs).
        renamed: its name after `rename`, before a layout's renaming (what layout rules see).
    """

    source: str
    target: str
    cast: np.dtype | None = None
    transform: Transform | None = None
    raw_copy: bool = False
    renamed: str = ""


def keeper(select: Select) -> Callable[[str], bool]:
    """`select` (a predicate, an iterable of names, or None for all) as a predicate."""
    if select is None:
        return lambda name: True
    if callable(select):
        return select
    return set(select).__contains__


def renamer(rename: Rename) -> Callable[[str], str | None]:
    """`rename` as a function: exact names first, then the longest matching scope prefix
    (``"old/" -> "new/"``); a function is used as it is (None drops the tensor)."""
    if rename is None:
        return lambda name: name
    if callable(rename):
        return rename
    exact = {k: v for k, v in rename.items() if not k.endswith("/")}
    scopes = sorted(
        ((k, v) for k, v in rename.items() if k.endswith("/")), key=lambda kv: -len(kv[0])
    )

    def apply(name: str) -> str | None:
        if name in exact:
            return exact[name]
        for old, new in scopes:
            if name.startswith(old):
                return new + name[len(old) :]
        return name

    return apply


def can_copy_raw(ckpt: Any, source: str) -> bool:
    """Whether `source`'s stored bytes and checksum can go into a new bundle undecoded
    (`BundleWriter.add_copy`): an unpartitioned tensor of a local V2 checkpoint (raw copies read
    the shard files) whose dtype is not variant or resource."""
    info = ckpt.info(source)
    return (
        ckpt.format == "V2"
        and not ckpt.is_remote
        and not info.sliced
        and info.dtype_name not in ("variant", "resource")
    )


def check_collisions(pairs: Iterable[tuple[str, str]], file: str | None) -> None:
    """Raise when two sources of (source, target) `pairs` would be written under one name."""
    seen: dict[str, str] = {}
    for source, target in pairs:
        if target in seen:
            raise CheckpointError(
                f"both {seen[target]!r} and {source!r} would be written as {target!r}",
                file=file,
                key=target,
            )
        seen[target] = source


def _choose(
    ckpt: Any, select: Select, rename: Rename, transforms: Transforms
) -> tuple[dict[str, str], dict[str, np.dtype]]:
    """({source name: renamed} of the selected tensors, the checkpoint's dtypes), the names
    `rename` and a `transforms` mapping give checked against them. The object graph is left
    out (it is metadata, and its node keys would not follow renames)."""
    keep, new_name = keeper(select), renamer(rename)
    chosen: dict[str, str] = {}
    kept: list[str] = []
    for name in ckpt:
        if name == OBJECT_GRAPH_KEY or not keep(name):
            continue
        kept.append(name)
        target = new_name(name)
        if target is not None:
            chosen[name] = target
    dtypes = ckpt.dtypes()
    check_rename(rename, kept, dtypes, ckpt.path)
    if isinstance(transforms, Mapping):
        check_keys(transforms, chosen, dtypes, "transforms key", ckpt.path)
    return chosen, dtypes


def transform_for(transforms: Transforms, name: str) -> Transform | None:
    """The function `transforms` (a mapping or one ``fn(name, array)``) applies to `name`."""
    if transforms is None:
        return None
    if callable(transforms):
        fn = transforms
        return lambda value: fn(name, value)
    return transforms.get(name)


def _layout(layout: Any) -> Any:
    if layout is None or not isinstance(layout, str):
        return layout
    if layout != "torch":
        raise ValueError(f"unknown layout {layout!r} (known: 'torch')")
    # Imported here: the layout rules belong to the restore toolkit and are not always needed.
    from .restore.transforms import TorchLayout

    return TorchLayout()


def _laid_out(fn: Transform | None, layout: Any, renamed: str) -> Transform | None:
    """`fn` followed by the layout's steps for the tensor named `renamed` (the steps depend on
    the shape `fn` gives)."""
    if layout is None:
        return fn

    def apply(value: np.ndarray) -> np.ndarray:
        if fn is not None:
            value = np.asarray(fn(value))
        for step in layout.transforms(renamed, value.shape):
            value = step.apply(value)
        return value

    return apply


def plan_rewrite(
    ckpt: Any,
    dst: str,
    *,
    transforms: Mapping[str, Transform] | None = None,
    overwrite: bool = False,
    **options: Unpack[RewriteOptions],
) -> list[PlannedTensor]:
    """The plan of `ckptio.rewrite` (see there for the options) of `ckpt` into `dst`."""
    check_options(options, RewriteOptions)
    select, rename, cast = options.get("select"), options.get("rename"), options.get("cast")
    allow_lossy_cast = options.get("allow_lossy_cast", False)
    allow_empty = options.get("allow_empty", False)
    keep_object_graph = options.get("keep_object_graph", False)
    if os.path.abspath(dst) == os.path.abspath(ckpt.path) and not overwrite:
        raise CheckpointError("refusing to rewrite a checkpoint onto itself", file=dst)
    chosen, _ = _choose(ckpt, select, rename, transforms)
    require_some(len(chosen), allow_empty, ckpt.path)
    casts = plan_casts(cast, ckpt.dtypes(), chosen, allow_lossy=allow_lossy_cast, file=ckpt.path)
    check_collisions(chosen.items(), dst)
    transforms = transforms or {}
    plan = []
    for source, target in chosen.items():
        dtype, fn = casts.get(source), transforms.get(source)
        raw = dtype is None and fn is None and can_copy_raw(ckpt, source)
        plan.append(PlannedTensor(source, target, dtype, fn, raw, target))
    unchanged = all(k == v for k, v in chosen.items()) and len(chosen) == len(ckpt) - (
        OBJECT_GRAPH_KEY in ckpt
    )
    if keep_object_graph and OBJECT_GRAPH_KEY in ckpt and unchanged:
        key = OBJECT_GRAPH_KEY
        plan.append(PlannedTensor(key, key, raw_copy=can_copy_raw(ckpt, key), renamed=key))
    return plan


def plan_conversion(
    ckpt: Any, supports: Callable[[np.dtype], bool], fmt: str, **options: Unpack[ConversionOptions]
) -> tuple[list[PlannedTensor], dict[str, str]]:
    """(plan, {source name: why it is skipped}) of a conversion to `fmt`, whose writer
    `supports` some dtypes: unsupported tensors raise `UnsupportedError` unless
    `unsupported="skip"`. Every name the options give must match a written tensor, and
    something must be written (`UsageError`). A layout's renaming and transposes are part of
    the plan (its transposes in the tensors' `transform`)."""
    check_options(options, ConversionOptions)
    select, rename, cast = options.get("select"), options.get("rename"), options.get("cast")
    transforms, layout = options.get("transforms"), _layout(options.get("layout"))
    unsupported = options.get("unsupported", "raise")
    allow_lossy_cast = options.get("allow_lossy_cast", False)
    allow_empty = options.get("allow_empty", False)
    if unsupported not in ("raise", "skip"):
        raise ValueError(f"unsupported must be 'raise' or 'skip', not {unsupported!r}")
    skipped: dict[str, str] = {}
    if OBJECT_GRAPH_KEY in ckpt:
        skipped[OBJECT_GRAPH_KEY] = "TF2 object graph (checkpoint metadata, not a tensor)"
    chosen, dtypes = _choose(ckpt, select, rename, transforms)
    casts = plan_casts(cast, dtypes, chosen, allow_lossy=allow_lossy_cast, file=ckpt.path)
    plan, refused = [], {}
    for name, renamed in chosen.items():
        dtype = casts.get(name, dtypes[name])
        if isinstance(dtype, str):  # "string", "variant", "resource"
            refused[name] = f"{dtype} tensors cannot be stored in {fmt}"
        elif not supports(dtype):
            refused[name] = f"dtype {dtype.name} cannot be stored in {fmt}"
        else:
            target = layout.rename(renamed) if layout is not None else renamed
            fn = _laid_out(transform_for(transforms, name), layout, renamed)
            plan.append(PlannedTensor(name, target, casts.get(name), fn, False, renamed))
    if refused and unsupported == "raise":
        first = next(iter(refused))
        shown = [f"{n!r} ({why.split(' cannot')[0]})" for n, why in list(refused.items())[:10]]
        more = f" and {len(refused) - 10} more" if len(refused) > 10 else ""
        listed = ", ".join(shown) + more
        raise UnsupportedError(
            f"{len(refused)} tensor(s) cannot be stored in {fmt}: {listed}; select them out "
            "or pass unsupported='skip' to leave them out",
            file=ckpt.path,
            key=first,
        )
    skipped.update(refused)
    check_collisions(((item.source, item.target) for item in plan), ckpt.path)
    require_some(len(plan), allow_empty, ckpt.path)
    return plan, skipped
