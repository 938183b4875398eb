"""The restore planner: `plan_restore` and the `RestorePlan` it returns (see `ckptio.restore`)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

import numpy as np

from .._names import did_you_mean
from ..casting import lossy_reason, refusal
from .mapping import (
    Assignment,
    NameView,
    RestoreError,
    from_assignment_map,
    from_names,
    from_var_list,
)
from .targets import Target, numpy_dtype, parse_targets
from .transforms import Cast, Reshape, TorchLayout, Transform

__all__ = ["Missing", "PlanEntry", "Problem", "RestorePlan", "TransformSpec", "plan_restore"]

TransformSpec = Union[
    Mapping[str, Union[Transform, Sequence[Transform]]],
    Callable[[str, str, tuple, Optional[tuple]], Any],
    None,
]


@dataclass(frozen=True)
class PlanEntry:
    """How one target is filled.

    Attributes:
        target: the target name.
        source: the checkpoint name (as the checkpoint or view lists it).
        key: the real checkpoint key (differs from `source` on a `NameView`).
        source_shape, source_dtype: the stored tensor's shape and dtype name.
        shape, dtype: what the target receives.
        transforms: the steps applied to the stored tensor, in order.
        region: for a part of a partitioned target, its `(start, stop)` per dimension in the
            (transformed) full tensor; else None.
        rule: how the pair was made (`identity`, `'old/': 'new/'`, ...).
    """

    target: str
    source: str
    key: str
    source_shape: tuple[int, ...]
    source_dtype: str
    shape: tuple[int, ...]
    dtype: str
    transforms: tuple[Transform, ...] = ()
    region: tuple[tuple[int, int], ...] | None = None
    rule: str = "identity"

    @property
    def zero_copy(self) -> bool:
        """True when the target gets a view of the mapped data (no transform applies)."""
        return not self.transforms

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "source": self.source,
            "key": self.key,
            "source_shape": list(self.source_shape),
            "source_dtype": self.source_dtype,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "transforms": [t.to_dict() for t in self.transforms],
            "region": None if self.region is None else [list(r) for r in self.region],
            "rule": self.rule,
        }


@dataclass(frozen=True)
class Missing:
    """A target whose checkpoint tensor does not exist: `source` is the name looked for."""

    target: str
    source: str
    message: str


@dataclass(frozen=True)
class Problem:
    """Something that stops the restore: kind is "missing", "shape", "dtype", "partition",
    "transform" or "name" (a `transforms=` key that applies to nothing); message names the
    checkpoint and the tensor."""

    target: str
    source: str
    kind: str
    message: str


@dataclass
class RestorePlan:
    """The result of `plan_restore` (see the module docstring)."""

    checkpoint: str
    entries: list[PlanEntry]
    missing: list[Missing] = field(default_factory=list)
    unassigned: dict[str, str] = field(default_factory=dict)
    unused: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ignore_missing: bool = False
    _source: Any = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """True when nothing stops the restore."""
        return not self.problems

    def pairs(self) -> dict[str, str]:
        """{target: checkpoint name} for every entry."""
        return {e.target: e.source for e in self.entries}

    def check(self) -> None:
        """Raise `RestoreError` for the first problem, if any."""
        if self.problems:
            first = self.problems[0]
            more = len(self.problems) - 1
            tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
            raise RestoreError(first.message + tail, self.checkpoint, first.source)

    # --- loading ------------------------------------------------------------------------
    def iter_tensors(self, *, copy: bool = False) -> Iterator[tuple[str, np.ndarray]]:
        """Yield `(target, array)` for each entry, in target order, reading one at a time.

        Arrays are read-only views of the mapped checkpoint where no transform applies (a
        partitioned checkpoint tensor is assembled, a transform may copy); `copy=True` gives
        writable C-contiguous copies instead. Raises `RestoreError` if the plan has problems.
        """
        self.check()
        from ..reader import independent_views

        with independent_views(self._source):
            yield from self._iter_entries(copy)

    def _iter_entries(self, copy: bool) -> Iterator[tuple[str, np.ndarray]]:
        cached: tuple[Any, np.ndarray | None] = (None, None)
        for e in self.entries:
            if not e.transforms:
                if e.region is None:
                    array = self._source[e.source]
                else:
                    array = self._source.get_slice(e.source)[_slices(e.region)]
            else:
                # Parts of one partitioned target share the transformed full tensor.
                signature = (e.source, e.transforms)
                if cached[0] != signature:
                    full = self._source[e.source]
                    for step in e.transforms:
                        full = step.apply(full)
                    cached = (signature, full)
                array = cached[1]
                if e.region is not None:
                    array = array[_slices(e.region)]
            if copy:
                array = np.array(array, order="C", copy=True)
            yield e.target, array

    def load(
        self,
        callback: Callable[[str, np.ndarray], Any] | None = None,
        *,
        copy: bool = False,
    ) -> dict[str, np.ndarray] | None:
        """Read every entry: `{target: ndarray}` in target order, or, with `callback`, call
        `callback(target, array)` for each (nothing is kept: for streaming into a model) and
        return None. See `iter_tensors` for views and copies."""
        if callback is not None:
            for name, array in self.iter_tensors(copy=copy):
                callback(name, array)
            return None
        return dict(self.iter_tensors(copy=copy))

    # --- reports ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "checkpoint": self.checkpoint,
            "ok": self.ok,
            "entries": [e.to_dict() for e in self.entries],
            "missing": [
                {"target": m.target, "source": m.source, "message": m.message} for m in self.missing
            ],
            "ignore_missing": self.ignore_missing,
            "not_restored": dict(self.unassigned),
            "unused": list(self.unused),
            "problems": [
                {"target": p.target, "source": p.source, "kind": p.kind, "message": p.message}
                for p in self.problems
            ],
            "notes": list(self.notes),
        }

    def to_json(self, **kwargs: Any) -> str:
        """The plan as JSON (`json.dumps` keyword arguments pass through; indent=2 default)."""
        kwargs.setdefault("indent", 2)
        return json.dumps(self.to_dict(), **kwargs)

    def __str__(self) -> str:
        return _render(self)

    def __repr__(self) -> str:
        parts = [
            f"{len(self.entries)} tensors",
            "OK" if self.ok else f"{len(self.problems)} problems",
        ]
        for count, what in (
            (len(self.missing), "missing"),
            (len(self.unassigned), "not restored"),
            (len(self.unused), "unused"),
        ):
            if count:
                parts.append(f"{count} {what}")
        return f"<ckptio.RestorePlan from {self.checkpoint!r}: {', '.join(parts)}>"

    def _repr_html_(self) -> str:
        """Jupyter: the plan as tables (entries, then missing, not restored, unused, problems),
        each truncated like a checkpoint's (`ckptio.reader.HTML_MAX_ROWS`)."""
        from ..reader import html_escape, html_name, html_table

        status = "OK" if self.ok else f"<b style='color:#b00'>{len(self.problems)} problem(s)</b>"
        parts = [
            html_table(
                ("target", "", "source", "shape", "dtype", "transforms"),
                [_html_entry(e) for e in self.entries],
                f"<b>ckptio.RestorePlan</b> from <code>{html_escape(self.checkpoint)}</code>: "
                f"{len(self.entries):,} tensors, {status}",
            )
        ]
        if self.missing:
            how = "ignored" if self.ignore_missing else "fatal"
            parts.append(
                html_table(
                    ("target", "looked for"),
                    [(html_name(m.target), html_name(m.source)) for m in self.missing],
                    f"Missing in the checkpoint ({how}): {len(self.missing):,}",
                )
            )
        if self.unassigned:
            parts.append(
                html_table(
                    ("target", "why"),
                    [(html_name(n), html_escape(why)) for n, why in self.unassigned.items()],
                    f"Targets not restored (left as they are): {len(self.unassigned):,}",
                )
            )
        if self.unused:
            parts.append(
                html_table(
                    ("checkpoint tensor",),
                    [(html_name(n),) for n in self.unused],
                    f"Checkpoint tensors not used: {len(self.unused):,}",
                )
            )
        if self.problems:
            parts.append(
                html_table(
                    ("kind", "problem"),
                    [(html_escape(p.kind), html_escape(p.message)) for p in self.problems],
                    f"Problems: {len(self.problems):,}",
                )
            )
        return "".join(parts)


def _html_entry(e: PlanEntry) -> tuple[str, ...]:
    from ..reader import html_escape, html_name

    source = (
        html_name(e.source)
        if e.source == e.key
        else (f"{html_name(e.source)} ({html_name(e.key)})")
    )
    if e.region is not None:
        source += html_escape("[" + ", ".join(f"{a}:{b}" for a, b in e.region) + "]")
    shape = _fmt_shape(e.shape)
    if tuple(e.source_shape) != tuple(e.shape):
        shape = f"{_fmt_shape(e.source_shape)} \u2192 {shape}"
    dtype = e.dtype if e.dtype == e.source_dtype else f"{e.source_dtype} \u2192 {e.dtype}"
    steps = ", ".join(map(str, e.transforms)) or "-"
    return (
        html_name(e.target),
        "\u2190",
        source,
        html_escape(shape),
        html_escape(dtype),
        html_escape(steps),
    )


def _slices(region: tuple[tuple[int, int], ...]) -> tuple[slice, ...]:
    return tuple(slice(a, b) for a, b in region)


def _fmt_shape(shape: Sequence[Any] | None) -> str:
    if shape is None:
        return "?"
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def _table(rows: list[tuple[str, ...]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [(indent + "  ".join(c.ljust(w) for c, w in zip(r, widths))).rstrip() for r in rows]


def _render(plan: RestorePlan) -> str:
    status = "OK" if plan.ok else f"{len(plan.problems)} PROBLEM(S)"
    lines = [f"Restore plan from {plan.checkpoint}: {len(plan.entries)} tensors, {status}"]
    if plan.entries:
        rows = [("target", "", "source", "shape", "dtype", "transforms")]
        for e in plan.entries:
            source = e.source if e.source == e.key else f"{e.source} ({e.key})"
            if e.region is not None:
                source += "[" + ", ".join(f"{a}:{b}" for a, b in e.region) + "]"
            shape = _fmt_shape(e.shape)
            if tuple(e.source_shape) != tuple(e.shape):
                shape = f"{_fmt_shape(e.source_shape)} -> {shape}"
            dtype = e.dtype if e.dtype == e.source_dtype else f"{e.source_dtype} -> {e.dtype}"
            steps = ", ".join(map(str, e.transforms)) or "-"
            rows.append((e.target, "<-", source, shape, dtype, steps))
        lines += _table(rows)
    if plan.missing:
        how = "ignored" if plan.ignore_missing else "fatal"
        lines.append(f"Missing in the checkpoint ({how}): {len(plan.missing)}")
        lines += _table([(m.target, "<-", m.source) for m in plan.missing])
    if plan.unassigned:
        lines.append(f"Targets not restored (left as they are): {len(plan.unassigned)}")
        lines += _table([(name, why) for name, why in plan.unassigned.items()])
    if plan.unused:
        lines.append(f"Checkpoint tensors not used: {len(plan.unused)}")
        lines += [f"  {name}" for name in plan.unused]
    if plan.problems:
        lines.append(f"Problems: {len(plan.problems)}")
        lines += [f"  [{p.kind}] {p.message}" for p in plan.problems]
    if plan.notes:
        lines.append("Notes:")
        lines += [f"  {note}" for note in plan.notes]
    return "\n".join(lines)


# --------------------------------------------------------------------------- planning


def _open_source(checkpoint: Any) -> Any:
    if isinstance(checkpoint, (str, os.PathLike)):
        from ..reader import open as _open

        return _open(checkpoint)
    if not (hasattr(checkpoint, "shapes") and hasattr(checkpoint, "dtype_names")):
        raise TypeError(
            f"expected a checkpoint path, Checkpoint or NameView, not {type(checkpoint).__name__}"
        )
    return checkpoint


def _layout(layout: Any) -> Any:
    if layout is None or layout == "none":
        return None
    if layout == "torch":
        return TorchLayout()
    if isinstance(layout, str):
        raise ValueError(f"unknown layout {layout!r}; known: 'torch'")
    return layout


def _as_steps(value: Any, what: str) -> tuple[Transform, ...]:
    if value is None:
        return ()
    if isinstance(value, Transform):
        return (value,)
    steps = tuple(value)
    for step in steps:
        if not isinstance(step, Transform):
            raise TypeError(f"transforms for {what}: {step!r} is not a ckptio Transform")
    return steps


def _compatible(shape: Sequence[int], target: Sequence[int | None] | None) -> bool:
    if target is None:
        return True
    return len(shape) == len(target) and all(t is None or s == t for s, t in zip(shape, target))


def _known(shape: Sequence[int | None] | None) -> bool:
    return shape is not None and all(d is not None for d in shape)


def _tile(full: tuple[int, ...], parts: list[tuple[int, ...]]) -> tuple[int, list[int]] | None:
    """The axis along which `parts` (in order) tile `full`, and their offsets; else None."""
    rank = len(full)
    if any(len(p) != rank for p in parts):
        return None
    if rank == 0:
        return (0, [0]) if len(parts) == 1 else None
    for axis in range(rank):
        others = all(p[d] == full[d] for p in parts for d in range(rank) if d != axis)
        if others and sum(p[axis] for p in parts) == full[axis]:
            offsets, at = [], 0
            for p in parts:
                offsets.append(at)
                at += p[axis]
            return axis, offsets
    return None


def _joined(parts: list[tuple[int, ...]]) -> tuple[int, ...] | None:
    """The full shape the parts make when joined along the one axis where they differ."""
    rank = len(parts[0])
    if rank == 0 or any(len(p) != rank for p in parts):
        return None
    differing = [d for d in range(rank) if len({p[d] for p in parts}) > 1]
    axis = differing[0] if len(differing) == 1 else 0 if not differing else None
    if axis is None:
        return None
    return tuple(sum(p[axis] for p in parts) if d == axis else parts[0][d] for d in range(rank))


class _Planner:
    """Turns assignments into entries, in TF's processing order, collecting problems."""

    def __init__(
        self,
        source: Any,
        label: str,
        targets: dict[str, Target],
        *,
        layout: Any,
        transforms: TransformSpec,
        reshape: bool,
        cast: bool,
        allow_lossy_cast: bool,
        ignore_missing: bool,
    ) -> None:
        self.source = source
        self.label = label
        self.targets = targets
        self.layout = layout
        self.transforms = transforms
        self.reshape = reshape
        self.cast = cast
        self.allow_lossy_cast = allow_lossy_cast
        self.ignore_missing = ignore_missing
        self.shapes = source.shapes()
        self.dtypes = source.dtype_names()
        self.numpy_dtypes: dict[str, Any] | None = None  # source.dtypes(), when a cast needs it
        self.key_of: Callable[[str], str] = (
            source.key if isinstance(source, NameView) else (lambda name: name)
        )
        self.entries: dict[str, PlanEntry] = {}
        self.origin: dict[str, str] = {}
        self.missing: dict[str, Missing] = {}
        self.problems: list[Problem] = []
        self.notes: list[str] = []
        self.used_transforms: set[str] = set()

    def problem(self, target: str, source: str, kind: str, message: str) -> None:
        self.problems.append(Problem(target, source, kind, message))

    def explicit(self, names: Sequence[str], source: str, shape: tuple, target_shape: Any) -> tuple:
        spec = self.transforms
        if spec is None:
            return ()
        if callable(spec) and not isinstance(spec, Mapping):
            return _as_steps(spec(source, names[0], shape, target_shape), names[0])
        for name in (*names, source):
            if name in spec:
                self.used_transforms.add(name)
                return _as_steps(spec[name], name)
        return ()

    def check_transform_keys(self, unassigned: Mapping[str, str]) -> None:
        """A `transforms=` key that applied to no entry is a problem (listed first): a typo
        would otherwise silently skip the transform."""
        spec = self.transforms
        if not isinstance(spec, Mapping):
            return
        planned = [*self.entries, *{e.source for e in self.entries.values()}]
        unmatched = []
        for key in spec:
            missing = key in self.missing or any(m.source == key for m in self.missing.values())
            if key in self.used_transforms or missing:
                continue
            if key in unassigned:
                why = f"names a target that is not restored ({unassigned[key]})"
            else:
                why = "matches no planned target or checkpoint tensor" + did_you_mean(key, planned)
            unmatched.append(Problem(key, key, "name", f"transforms key {key!r} {why}"))
        self.problems[:0] = unmatched

    def steps_for(
        self, names: Sequence[str], source: str, target_shape: Any
    ) -> tuple[tuple[Transform, ...], tuple[int, ...], str]:
        """Explicit then layout steps, and the shape and dtype they produce (ValueError)."""
        shape = tuple(self.shapes[source])
        dtype = self.dtypes[source]
        steps = self.explicit(names, source, shape, target_shape)
        for step in steps:
            shape, dtype = step.shape(shape), step.dtype(dtype)
        if self.layout is not None:
            extra = tuple(self.layout.transforms(source, shape, target_shape))
            for step in extra:
                shape, dtype = step.shape(shape), step.dtype(dtype)
            steps += extra
        return steps, shape, dtype

    def add(self, a: Assignment) -> None:
        for name in a.targets:
            previous = self.origin.get(name)
            if previous is not None and previous != a.source:
                self.notes.append(
                    f"{name}: assigned from {previous!r}, then from {a.source!r} by {a.rule}; "
                    f"the last one wins, as in TF"
                )
            self.origin[name] = a.source
            self.entries.pop(name, None)
            self.missing.pop(name, None)
        if not a.found:
            for name in a.targets:
                self.missing[name] = Missing(name, a.source, a.message)
            if not self.ignore_missing:
                self.problem(a.targets[0], a.source, "missing", a.message)
            return
        if a.partitioned:
            self.add_partitioned(a)
        else:
            self.add_single(a)

    def dtype_steps(self, target: Target, source: str, dtype: str) -> tuple | None:
        if target.dtype is None or target.dtype == dtype:
            return ()
        if self.cast and dtype not in ("string", "variant", "resource"):
            return (Cast(target.dtype),)
        hint = "" if dtype == "string" else "; cast=True converts"
        self.problem(
            target.name,
            source,
            "dtype",
            f"tensor_name = {source}; expected dtype {target.dtype} does not equal original "
            f"dtype {dtype} (target {target.name}, checkpoint {self.label}{hint})",
        )
        return None

    def add_single(self, a: Assignment) -> None:
        target = self.targets[a.targets[0]]
        stored = tuple(self.shapes[a.source])
        try:
            steps, shape, dtype = self.steps_for(a.targets, a.source, target.shape)
        except ValueError as exc:
            self.problem(
                target.name,
                a.source,
                "transform",
                f"transform of tensor {a.source} {_fmt_shape(stored)} for {target.name} in "
                f"{self.label}: {exc}",
            )
            return
        if not _compatible(shape, target.shape):
            equal_size = _known(target.shape) and math.prod(shape) == math.prod(target.shape)
            if self.reshape and equal_size:
                steps += (Reshape(target.shape),)
                shape = tuple(target.shape)
            else:
                self.problem(target.name, a.source, "shape", self.shape_message(a, target, shape))
                return
        casts = self.dtype_steps(target, a.source, dtype)
        if casts is None:
            return
        steps += casts
        self.add_entry(target.name, a, stored, shape, target.dtype or dtype, steps, None)

    def add_entry(
        self,
        name: str,
        a: Assignment,
        stored: tuple[int, ...],
        shape: tuple[int, ...],
        dtype: str,
        steps: Any,
        region: list[tuple[int, int]] | None,
    ) -> None:
        """Plan `name` from `a.source` (`region`: the part of it a partitioned target takes)."""
        key, source_dtype = self.key_of(a.source), self.dtypes[a.source]
        refused = self.lossy_cast(steps, a.source)
        if refused is not None:
            self.problem(
                name, a.source, "cast", f"{refused} (target {name}, checkpoint {self.label})"
            )
            return
        region = None if region is None else tuple(region)
        self.entries[name] = PlanEntry(
            name, a.source, key, stored, source_dtype, shape, dtype, steps, region, a.rule
        )

    def lossy_cast(self, steps: Sequence[Transform], source: str) -> str | None:
        """Why a cast among `steps` (from `cast=True` or given in `transforms`) could lose
        values under the cast policy (`ckptio.casting`: integers out of range, fractions), unless
        `allow_lossy_cast`; None when every cast keeps the values. Judged on the numpy dtypes
        the values have (a qint8 tensor reads as int8)."""
        casts = [step for step in steps if isinstance(step, Cast)]
        if self.allow_lossy_cast or not casts:
            return None
        if self.numpy_dtypes is None:
            self.numpy_dtypes = self.source.dtypes()
        name, dtype = self.dtypes[source], self.numpy_dtypes[source]
        for step in casts:
            to = numpy_dtype(step.to)
            why = lossy_reason(dtype, to)
            if why is not None:
                return refusal(name, step.to, why)
            name, dtype = step.to, to
        return None

    def shape_message(self, a: Assignment, target: Target, shape: tuple) -> str:
        stored = tuple(self.shapes[a.source])
        after = "" if shape == stored else f", {_fmt_shape(shape)} after its transforms"
        if a.mode == "assignment_map" and a.exact:
            # init_from_checkpoint's own wording for one-to-one pairs.
            text = (
                f"Shape of variable {target.name} ({_fmt_shape(target.shape)}) doesn't match "
                f"with shape of tensor {a.source} ({_fmt_shape(stored)}{after}) from checkpoint "
                f"reader. Checkpoint: {self.label}"
            )
        else:
            text = (
                f"Shape of target {target.name} {_fmt_shape(target.shape)} doesn't match shape "
                f"of tensor {a.source} {_fmt_shape(stored)}{after} in checkpoint {self.label}"
            )
        if _known(target.shape) and math.prod(shape) == math.prod(target.shape):
            text += " (same number of elements: reshape=True restores it row-major)"
        return text

    def add_partitioned(self, a: Assignment) -> None:
        parts = [self.targets[name] for name in a.targets]
        full_name = a.targets[0].rsplit("/part_", 1)[0]
        stored = tuple(self.shapes[a.source])
        if not all(_known(p.shape) for p in parts):
            self.problem(
                full_name,
                a.source,
                "partition",
                f"partitioned target {full_name}: every part needs a known shape to place it in "
                f"tensor {a.source} of {self.label}",
            )
            return
        shapes = [tuple(p.shape) for p in parts]
        try:
            steps, shape, dtype = self.steps_for([full_name, *a.targets], a.source, None)
        except ValueError as exc:
            self.problem(full_name, a.source, "transform", f"{a.source} in {self.label}: {exc}")
            return
        tiling = _tile(shape, shapes)
        if tiling is None and self.reshape:
            joined = _joined(shapes)
            if joined is not None and math.prod(joined) == math.prod(shape):
                steps += (Reshape(joined),)
                shape = joined
                tiling = _tile(shape, shapes)
        if tiling is None:
            joined = _joined(shapes)
            self.problem(
                full_name,
                a.source,
                "partition",
                f"tensor_name = {a.source}; shape in shape_and_slice spec "
                f"{_fmt_shape(joined)} does not match the shape stored in checkpoint: "
                f"{_fmt_shape(shape)} (parts {', '.join(map(_fmt_shape, shapes))} of "
                f"{full_name}, checkpoint {self.label})",
            )
            return
        axis, offsets = tiling
        for part, part_shape, offset in zip(parts, shapes, offsets):
            casts = self.dtype_steps(part, a.source, dtype)
            if casts is None:
                return
            region = [(0, d) for d in shape]
            if region:
                region[axis] = (offset, offset + part_shape[axis])
            entry_dtype = part.dtype or dtype
            self.add_entry(part.name, a, stored, part_shape, entry_dtype, steps + casts, region)


def plan_restore(
    checkpoint: Any,
    target: Any,
    *,
    assignment_map: Any = None,
    var_list: Any = None,
    source_prefix: str = "",
    target_prefix: str = "",
    only: Sequence[str] | None = None,
    layout: Any = None,
    transforms: TransformSpec = None,
    reshape: bool = False,
    cast: bool = False,
    allow_lossy_cast: bool = False,
    ignore_missing: bool = False,
    errors: str = "raise",
) -> RestorePlan:
    """Plan restoring `target` from `checkpoint` without TensorFlow (see the module docstring).

    Args:
        checkpoint: a path, an open `Checkpoint`, or a `NameView` (e.g.
            `object_graph(ckpt).view()` for TF1-style names of a TF2 checkpoint).
        target: the tensors to fill, described without TensorFlow (`ckptio.targets`), any of:

            - `{name: shape}`, `{name: (shape, dtype)}` or `{name: None}` (shape unknown);
            - a mapping whose values have `.shape` (and maybe `.dtype`): a PyTorch
              `state_dict`, a dict of numpy arrays, of TF or Keras variables;
            - a list of objects with `.shape` and `.path` or `.name` (Keras 3
              `model.weights`, `tf.compat.v1.global_variables()`; a trailing `:0` is dropped);
            - a list of names, of `(name, shape)` or of `(name, shape, dtype)` tuples;
            - an opened checkpoint or `NameView` (anything with `shapes()` and
              `dtype_names()`): restore one checkpoint's layout from another.

            Shapes may hold None for unknown dimensions; dtypes are numpy dtypes, TF or torch
            dtypes, or their names ("float32", "bfloat16", "int64", ...).
        assignment_map: `init_from_checkpoint` map, `{ckpt name or scope: target or scope}`
            or a list of such pairs.
        var_list: Saver-style `{ckpt name: target}`, or a list of target names and pairs.
        source_prefix, target_prefix: default pairing only: target `target_prefix + x` is
            filled from `source_prefix + x`.
        only: restore only these target names (e.g. a `select` result).
        layout: "torch" (or a layout object like `ckptio.transforms.TorchLayout()`).
        transforms: `{target or checkpoint name: Transform or [Transform, ...]}`, or a callable
            `(source, target, source_shape, target_shape) -> transforms`.
        reshape: reshape row-major when the element counts agree (slim `reshape_variables`).
        cast: cast to the target dtype when they differ. A cast (this one, or a `Cast` in
            `transforms`) that could change values beyond rounding floats (float to integer,
            an integer type too narrow, ...) is a problem under the cast policy
            (`ckptio.casting`) unless `allow_lossy_cast`.
        allow_lossy_cast: make such casts anyway, saturating as the policy does.
        ignore_missing: report missing checkpoint tensors instead of failing.
        errors: "raise" (the first problem raises `RestoreError`) or "report".

    Returns:
        a `RestorePlan`.

    Raises:
        RestoreError (a ValueError): malformed maps, and with errors="raise" any problem.
        TypeError: unrecognised target or map forms. NotFoundError: no such checkpoint.
    """
    if errors not in ("raise", "report"):
        raise ValueError(f"errors must be 'raise' or 'report', not {errors!r}")
    if assignment_map is not None and var_list is not None:
        raise ValueError("give assignment_map or var_list, not both")
    if (source_prefix or target_prefix) and (assignment_map is not None or var_list is not None):
        raise ValueError(
            "source_prefix/target_prefix apply to the default pairing; with an assignment_map "
            "write {'old/': 'new/'} instead"
        )
    source = _open_source(checkpoint)
    label = str(getattr(source, "path", checkpoint))
    targets = parse_targets(target)
    by_name = {t.name: t for t in targets}
    layout_obj = _layout(layout)

    unassigned: dict[str, str] = {}
    active = [t.name for t in targets]
    if only is not None:
        chosen = set(only)
        unknown = [name for name in chosen if name not in by_name]
        if unknown:
            raise RestoreError(
                f"only= names {sorted(unknown)[:5]} are not targets", label, sorted(unknown)[0]
            )
        reasons = getattr(only, "dropped", {})  # a Selection says why it left each name out
        unassigned.update(
            (n, f"not selected: {reasons[n]}" if n in reasons else "not selected (only=)")
            for n in active
            if n not in chosen
        )
        active = [n for n in active if n in chosen]
    if layout_obj is not None and hasattr(layout_obj, "target_only"):
        for name in list(active):
            why = layout_obj.target_only(name)
            if why:
                unassigned[name] = why
                active.remove(name)

    names = list(source.shapes())
    if assignment_map is not None:
        assignments = from_assignment_map(assignment_map, active, names, label)
        left = "not reached by the assignment map"
    elif var_list is not None:
        assignments = from_var_list(var_list, active, names, label)
        left = "not in var_list"
    else:
        rename = getattr(layout_obj, "rename", None)
        assignments = from_names(
            active,
            names,
            source_prefix=source_prefix,
            target_prefix=target_prefix,
            rename=rename,
            checkpoint=label,
            rule="identity" if rename is None else f"layout {getattr(layout_obj, 'name', '')}",
        )
        left = f"outside target_prefix {target_prefix!r}"

    planner = _Planner(
        source,
        label,
        by_name,
        layout=layout_obj,
        transforms=transforms,
        reshape=reshape,
        cast=cast,
        allow_lossy_cast=allow_lossy_cast,
        ignore_missing=ignore_missing,
    )
    for a in assignments:
        planner.add(a)

    reached = set(planner.origin)
    for name in active:
        if name not in reached:
            unassigned[name] = left
    planner.check_transform_keys(unassigned)
    order = {t.name: i for i, t in enumerate(targets)}
    entries = sorted(planner.entries.values(), key=lambda e: order[e.target])
    used = {e.source for e in entries}
    plan = RestorePlan(
        checkpoint=label,
        entries=entries,
        missing=sorted(planner.missing.values(), key=lambda m: order[m.target]),
        unassigned=dict(sorted(unassigned.items(), key=lambda item: order[item[0]])),
        unused=[n for n in names if n not in used],
        problems=planner.problems,
        notes=planner.notes,
        ignore_missing=ignore_missing,
        _source=source,
    )
    if errors == "raise":
        plan.check()
    return plan
