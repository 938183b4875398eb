"""Which checkpoint tensor fills which target: TF's assignment-map and Saver semantics.

Three ways to pair checkpoint names with target names, each returning `Assignment`s in the
order TensorFlow processes them (later assignments of the same target win, as in TF):

* `from_assignment_map` - `tf.compat.v1.train.init_from_checkpoint(ckpt, assignment_map)`,
  exactly (format doc section 11.1). The map (a dict, or a list of pairs so one tensor can feed
  several targets) goes `{checkpoint name or scope: target name or scope}`, processed sorted by
  checkpoint name:
    - `{'old/a': 'new/a'}` an exact pair: the target exists (or exists as partitions
      `new/a/part_0, part_1, ...`, each filled from its slice of the full tensor);
    - `{'old/': 'new/'}` every target under `new/` from the same name under `old/`;
    - `{'/': 'new/'}` targets under `new/` from the checkpoint root; `{'old/': '/'}` every
      target `v` from `old/v`; `{'/': '/'}` every target from its own name.
  TF's quirks are kept: a target side that is neither a target nor ends with `/` is still a
  "scope" (the part before its last `/`, possibly all targets); a scope pair whose checkpoint
  side lacks the trailing `/` raises ValueError ("Assignment map with scope only name ...").
* `from_var_list` - `tf.compat.v1.train.Saver(var_list)`: a dict `{checkpoint name: target}`
  (`{'v3': 'v3_x'}`), or a list of target names (each from its own name) and pairs. Every
  entry is exact; a target `w/part_<n>` is restored from its slice of `w`.
* `from_names` - every target from its own name (`Saver()` over all variables, TF-slim's
  `assign_from_checkpoint_fn`), optionally with a checkpoint-side `source_prefix` and a
  target-side `target_prefix` (a model built under an extra `my/` scope: `target_prefix="my/"`)
  and a name function (e.g. `TorchLayout.rename`).

A missing checkpoint tensor is not raised here: it comes back as an `Assignment` with
`found=False` and TF's message, and the restore plan decides (`ignore_missing`). Malformed maps
raise `RestoreError`, which is both a `ValueError` (what TF raises) and a `CheckpointError`.

`NameView` shows a checkpoint under other names (e.g. TF2 keys under their TF1-style
`full_name`, see `ckptio.objgraph`) so everything above works on the names users know.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .._names import did_you_mean
from ..errors import CheckpointError, NotFoundError

__all__ = [
    "Assignment",
    "NameView",
    "RestoreError",
    "from_assignment_map",
    "from_names",
    "from_var_list",
    "partition_parts",
]


class RestoreError(CheckpointError, ValueError):
    """A restore that cannot be done as asked: a bad map, a missing tensor, mismatched shapes
    or dtypes. A `ValueError` (what TensorFlow raises for these) and a `CheckpointError`;
    the message names the checkpoint and the tensor."""

    def __str__(self) -> str:
        # Keep TF's wording first; add the file and key only where the message lacks them.
        text = self.message
        if self.file is not None and str(self.file) not in text:
            text = f"{self.file}: {text}"
        if self.key is not None and self.key not in text:
            text += f" (key {self.key!r})"
        return text


@dataclass(frozen=True)
class Assignment:
    """One checkpoint tensor assigned to one target, or to the parts of a partitioned target.

    Attributes:
        source: the checkpoint name (as the source lists it).
        targets: one target name, or the parts `<var>/part_0, part_1, ...` in order.
        rule: how the pair was made, e.g. `'old/': 'new/'` or `identity`.
        found: whether the checkpoint has `source`.
        message: TF's error text when not found.
        partitioned: True when `targets` are the parts of one partitioned variable.
        exact: True for a one-to-one pair given by name (TF checks its shape at once).
        mode: "assignment_map", "var_list" or "names": which kind of pairing made it.
    """

    source: str
    targets: tuple[str, ...]
    rule: str
    found: bool = True
    message: str = ""
    partitioned: bool = False
    exact: bool = True
    mode: str = "names"


_PART = re.compile(r"^(.*)/part_(\d+)$")


def partition_parts(name: str, targets: set[str] | Mapping[str, Any]) -> list[str] | None:
    """`name/part_0, name/part_1, ...` (consecutive from 0) if they are targets, else None.
    TF's `_collect_partitioned_variable`."""
    if f"{name}/part_0" not in targets:
        return None
    parts, i = [], 0
    while f"{name}/part_{i}" in targets:
        parts.append(f"{name}/part_{i}")
        i += 1
    return parts


def _closest(name: str, names: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(names), n=3, cutoff=0.6)
    return f" (closest names: {', '.join(close)})" if close else ""


def _pairs(assignment_map: Any) -> list[tuple[str, Any]]:
    if isinstance(assignment_map, Mapping):
        items = list(assignment_map.items())
    elif isinstance(assignment_map, Iterable) and not isinstance(assignment_map, (str, bytes)):
        items = [tuple(pair) for pair in assignment_map]
    else:
        raise TypeError("assignment_map must be a dict or a list of (checkpoint, target) pairs")
    for pair in items:
        if len(pair) != 2 or not isinstance(pair[0], str):
            raise TypeError(f"assignment_map entries are (checkpoint name, target) pairs: {pair!r}")
    return items


def _part_group(parts: list[str], rule: str, checkpoint: str) -> tuple[str, ...]:
    """Check that explicit parts all belong to one partitioned variable (TF's "Slices must all
    be from the same tensor")."""
    full = None
    for part in parts:
        m = _PART.match(part)
        if m is None:
            raise RestoreError(
                f"{rule}: {part!r} is not a partition (`<var>/part_<n>`) of a target; a list on "
                f"the target side names the parts of one partitioned variable",
                checkpoint,
                part,
            )
        if full is None:
            full = m.group(1)
        elif full != m.group(1):
            raise RestoreError(
                f"Slices must all be from the same tensor: {full} != {m.group(1)}", checkpoint, part
            )
    return tuple(parts)


def from_assignment_map(
    assignment_map: Any,
    targets: Iterable[str],
    checkpoint_names: Iterable[str],
    checkpoint: str = "<checkpoint>",
) -> list[Assignment]:
    """Resolve an `init_from_checkpoint` assignment map against target and checkpoint names.

    `targets` are the names of the variables that exist (TF's variable store, partitioned ones
    as `<var>/part_<n>`). Returns the assignments in TF's order. Raises `RestoreError`
    (a ValueError) for the maps TF rejects while building: a scope pair whose checkpoint side
    does not end with `/`, parts of different variables in one list; a target list naming
    unknown targets; and, where TF silently does nothing, a scope pair whose target scope holds
    no target. A missing checkpoint tensor gives `found=False` with TF's message.
    """
    store = {name: None for name in targets}
    available = set(checkpoint_names)
    out: list[Assignment] = []
    for ckpt_name, current in sorted(_pairs(assignment_map), key=lambda pair: pair[0]):
        rule = f"{ckpt_name!r}: {current!r}"
        parts: list[str] | None
        if isinstance(current, (list, tuple)):
            unknown = [name for name in current if name not in store]
            if unknown:
                raise RestoreError(
                    f"assignment map {rule}: no target named {unknown[0]!r}", checkpoint, ckpt_name
                )
            parts = list(_part_group(list(current), rule, checkpoint))
        elif not isinstance(current, str):
            raise TypeError(f"assignment map {rule}: targets are names (str) or lists of names")
        elif current in store:
            parts = [current]
        else:
            parts = partition_parts(current, store)
        if parts is not None:
            partitioned = len(parts) > 1 or parts[0] != current
            found = ckpt_name in available
            message = (
                ""
                if found
                else f"Tensor {ckpt_name} is not found in {checkpoint} checkpoint"
                + _closest(ckpt_name, available)
            )
            out.append(
                Assignment(
                    ckpt_name,
                    tuple(parts),
                    rule,
                    found,
                    message,
                    partitioned,
                    mode="assignment_map",
                )
            )
            continue
        reached = list(_scope_assignments(ckpt_name, current, store, available, checkpoint, rule))
        if not reached:
            # TF silently does nothing here; a typo'd scope must not pass unnoticed.
            scope = current.rstrip("/")
            scopes = {n[:i] for n in store for i, c in enumerate(n) if c == "/"}
            raise RestoreError(
                f"assignment map {rule}: target scope {scope!r} holds no target variable"
                + did_you_mean(scope, scopes),
                checkpoint,
                ckpt_name,
            )
        out.extend(reached)
    return out


def _scope_assignments(
    ckpt_name: str,
    current: str,
    store: Mapping[str, Any],
    available: set[str],
    checkpoint: str,
    rule: str,
) -> Iterator[Assignment]:
    """The scope branch of TF's `_init_from_checkpoint`, step for step."""
    scopes = current[: current.rindex("/")] if "/" in current else ""
    if not ckpt_name.endswith("/"):
        raise RestoreError(
            f"Assignment map with scope only name {scopes} should map to scope only "
            f"{ckpt_name}. Should be 'scope/': 'other_scope/'.",
            checkpoint,
            ckpt_name,
        )
    scope_variables = set()
    for var_name in store:
        if not scopes or var_name.startswith(scopes + "/"):
            # TF cuts at the first "/part_" to group partitions (even mid-name: its quirk).
            if "/part_" in var_name:
                var_name = var_name[: var_name.index("/part_")]
            scope_variables.add(var_name)
    for var_name in sorted(scope_variables):
        full = var_name[len(scopes) :]
        if current != "/":
            full = full[1:]
        if ckpt_name != "/":
            full = ckpt_name + full
        if full.endswith("/"):
            full = full[:-1]
        parts = [var_name] if var_name in store else partition_parts(var_name, store)
        found = full in available
        message = (
            ""
            if found
            else f"Tensor {full} ({var_name[len(scopes) + 1 :]} in {ckpt_name}) is not found in "
            f"{checkpoint} checkpoint" + _closest(full, available)
        )
        if parts is None:  # only after TF's mid-name "/part_" cut; TF fails there too
            raise RestoreError(
                message
                or f"assignment map {rule}: {var_name!r} (cut at '/part_' as TF does) is "
                f"neither a target nor a partitioned target",
                checkpoint,
                full,
            )
        partitioned = parts != [var_name]
        yield Assignment(
            full,
            tuple(parts),
            rule,
            found,
            message,
            partitioned,
            exact=False,
            mode="assignment_map",
        )


def _saver_assignment(
    ckpt_name: str, target: Any, store: Mapping[str, Any], available: set[str], checkpoint: str
) -> Assignment:
    rule = f"{ckpt_name!r}: {target!r}"
    if isinstance(target, (list, tuple)):
        parts = _part_group(list(target), rule, checkpoint)
        partitioned = True
    elif target in store:
        parts, partitioned = (target,), False
    else:
        found_parts = partition_parts(target, store)
        if found_parts is None:
            raise RestoreError(f"var_list {rule}: no target named {target!r}", checkpoint, target)
        parts, partitioned = tuple(found_parts), True
    for part in parts:
        if part not in store:
            raise RestoreError(f"var_list {rule}: no target named {part!r}", checkpoint, part)
    found = ckpt_name in available
    message = (
        ""
        if found
        else f"Key {ckpt_name} not found in checkpoint {checkpoint}"
        + _closest(ckpt_name, available)
    )
    return Assignment(ckpt_name, parts, rule, found, message, partitioned, mode="var_list")


def from_var_list(
    var_list: Any,
    targets: Iterable[str],
    checkpoint_names: Iterable[str],
    checkpoint: str = "<checkpoint>",
) -> list[Assignment]:
    """Resolve a `Saver`-style var_list: `{checkpoint name: target name or [parts]}`, or a list
    of target names (each restored from its own name; `w/part_<n>` from its slice of `w`) and
    `(checkpoint name, target name)` pairs. Raises `RestoreError` for unknown targets."""
    store = {name: None for name in targets}
    available = set(checkpoint_names)
    if isinstance(var_list, Mapping):
        items: list[tuple[str, Any]] = list(var_list.items())
    elif isinstance(var_list, Iterable) and not isinstance(var_list, (str, bytes)):
        items = []
        names = []
        for item in var_list:
            if isinstance(item, str):
                names.append(item)
            elif isinstance(item, (tuple, list)) and len(item) == 2:
                items.append((item[0], item[1]))
            else:
                raise TypeError(f"var_list items are names or (checkpoint, target) pairs: {item!r}")
        unknown = [name for name in names if name not in store]
        if unknown:
            raise RestoreError(f"var_list: no target named {unknown[0]!r}", checkpoint, unknown[0])
        out = [
            dataclasses.replace(a, mode="var_list")
            for a in from_names(names, available, checkpoint=checkpoint, rule="var_list")
        ]
        return out + [_saver_assignment(c, t, store, available, checkpoint) for c, t in items]
    else:
        raise TypeError("var_list must be a dict {checkpoint name: target} or a list of names")
    return [_saver_assignment(c, t, store, available, checkpoint) for c, t in items]


def from_names(
    targets: Iterable[str],
    checkpoint_names: Iterable[str],
    *,
    source_prefix: str = "",
    target_prefix: str = "",
    rename: Callable[[str], str] | None = None,
    checkpoint: str = "<checkpoint>",
    rule: str = "identity",
) -> list[Assignment]:
    """Every target from the checkpoint tensor of the same name (Saver / TF-slim semantics).

    With prefixes, target `target_prefix + x` is restored from `source_prefix + x`; targets
    outside `target_prefix` are left out. With `rename` (checkpoint name without
    `source_prefix` -> target name without `target_prefix`), the pairing goes through it.
    `w/part_<n>` targets with no tensor of their own are grouped and restored from `w`.
    Targets with no tensor come back with `found=False`.
    """
    available = list(checkpoint_names)
    available_set = set(available)
    if rename is not None:
        forward: dict[str, str] = {}
        for name in available:
            if name.startswith(source_prefix):
                forward.setdefault(rename(name[len(source_prefix) :]), name)

        def source_of(rel: str) -> str | None:
            return forward.get(rel)
    else:

        def source_of(rel: str) -> str | None:
            return source_prefix + rel

    names = [t for t in targets if t.startswith(target_prefix)]
    name_set = set(names)
    out: list[Assignment] = []
    grouped: set[str] = set()
    for name in names:
        if name in grouped:
            continue
        rel = name[len(target_prefix) :]
        source = source_of(rel)
        if source is not None and source in available_set:
            out.append(Assignment(source, (name,), rule))
            continue
        m = _PART.match(name)
        if m is not None:
            full = source_of(m.group(1)[len(target_prefix) :])
            parts = partition_parts(m.group(1), name_set)
            if full is not None and full in available_set and parts and name in parts:
                grouped.update(parts)
                out.append(Assignment(full, tuple(parts), rule, partitioned=True))
                continue
        wanted = source if source is not None else f"<no checkpoint name maps to {name!r}>"
        message = f"Key {wanted} not found in checkpoint {checkpoint}" + (
            _closest(source, available) if source is not None else ""
        )
        out.append(Assignment(wanted, (name,), rule, found=False, message=message))
    return out


class NameView(Mapping[str, np.ndarray]):
    """A checkpoint seen under other names: `names` maps each visible name to a real key.

    It has the reading API of `Checkpoint` (`keys`, `shapes`, `dtypes`, `dtype_names`,
    `get_tensor`, `get_slice`, `info`, `[name]`), so `select` and `plan_restore` work on it, and
    `key(name)` gives the real key. `how` says what the names are (e.g. "full_name").
    """

    def __init__(self, checkpoint: Any, names: Mapping[str, str], how: str = "renamed") -> None:
        self.checkpoint = checkpoint
        self.how = how
        self._keys = dict(names)
        self.path = getattr(checkpoint, "path", "<checkpoint>")
        self.format = getattr(checkpoint, "format", None)

    def key(self, name: str) -> str:
        """The real checkpoint key shown as `name`."""
        try:
            return self._keys[name]
        except KeyError:
            raise NotFoundError(
                f"name not found in this view ({self.how} names)", self.path, name
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, name: object) -> bool:
        return name in self._keys

    def __getitem__(self, name: str) -> np.ndarray:
        return self.checkpoint[self.key(name)]

    def get_tensor(self, name: str, **kwargs: Any) -> np.ndarray:
        return self.checkpoint.get_tensor(self.key(name), **kwargs)

    def get_slice(self, name: str) -> Any:
        return self.checkpoint.get_slice(self.key(name))

    def info(self, name: str) -> Any:
        return self.checkpoint.info(self.key(name))

    def shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = self.checkpoint.shapes()
        return {name: shapes[key] for name, key in self._keys.items()}

    def dtypes(self) -> dict[str, Any]:
        dtypes = self.checkpoint.dtypes()
        return {name: dtypes[key] for name, key in self._keys.items()}

    def dtype_names(self) -> dict[str, str]:
        dtypes = self.checkpoint.dtype_names()
        return {name: dtypes[key] for name, key in self._keys.items()}

    def __repr__(self) -> str:
        return f"<ckptio.NameView {self.how} names of {self.path!r} ({len(self)} tensors)>"
