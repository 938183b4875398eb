"""TF2 object-based checkpoints: the `_CHECKPOINTABLE_OBJECT_GRAPH` entry, decoded.

    graph = ckptio.object_graph("ckpt-3")          # or an open Checkpoint
    graph.full_names()    # {'model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE': 'dense/kernel', ...}
    graph.slots           # optimizer slot variables: (variable key, slot name, slot key, ...)
    print(graph.tree())   # the object tree, with each tensor's key and full name
    view = graph.view()   # the checkpoint under TF1-style names: view["dense/kernel"]

TF2 `tf.train.Checkpoint` and Keras write one tensor per key
`<object path>/.ATTRIBUTES/VARIABLE_VALUE` (format doc section 8). The scalar string entry
`_CHECKPOINTABLE_OBJECT_GRAPH` holds a serialized `TrackableObjectGraph`: node 0 is the root;
each node lists its children (local names), the tensors it saved (`SerializedTensor`: attribute
name, `full_name` = the variable's TF1-style name, checkpoint key) and, for optimizers, its
slot variables. It is decoded here with a small protobuf wire-format reader (no protobuf
dependency); unknown fields are skipped, malformed bytes raise `CorruptionError` naming the
checkpoint and the key.

`view(names=...)` gives a `NameView` over the checkpoint so `select` and `plan_restore` work on
the names people know: `"full_name"` (TF1-style, e.g. `dense/kernel`; a full name shared by
several keys, as Keras 3 subclassed models produce, is not usable as a name: those keys keep
their object path), `"path"` (the object path with the `/.ATTRIBUTES/VARIABLE_VALUE` tail
removed and names unescaped: `model/dense/kernel`). Keys the graph does not describe keep
their own names.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import CorruptionError, NotFoundError
from .mapping import NameView

__all__ = [
    "OBJECT_GRAPH_KEY",
    "GraphTensor",
    "ObjectGraph",
    "SerializedTensor",
    "SlotVariable",
    "TrackableObject",
    "object_graph",
    "object_path",
]

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
_ATTRIBUTES = ".ATTRIBUTES"
_SLOT = ".OPTIMIZER_SLOT"


# --------------------------------------------------------------------------- wire format


class _WireError(ValueError):
    pass


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise _WireError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise _WireError("varint longer than 10 bytes")


def _fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) for each field: ints for varint/fixed, bytes for LEN."""
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise _WireError("field number 0")
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1 or wire == 5:
            size = 8 if wire == 1 else 4
            if pos + size > len(buf):
                raise _WireError("truncated fixed-size field")
            value = int.from_bytes(buf[pos : pos + size], "little")
            pos += size
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > len(buf):
                raise _WireError(f"field {number} runs past the end ({size} bytes)")
            value = bytes(buf[pos : pos + size])
            pos += size
        else:  # groups (3, 4) are not used by these messages
            raise _WireError(f"unsupported wire type {wire}")
        yield number, value


def _text(value: int | bytes) -> str:
    if not isinstance(value, bytes):
        raise _WireError("expected a string field, got a number")
    return value.decode("utf-8", "surrogateescape")


def _int32(value: int | bytes) -> int:
    if not isinstance(value, int):
        raise _WireError("expected a number field, got bytes")
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def _message(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise _WireError("expected a message field, got a number")
    return value


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class SerializedTensor:
    """A tensor an object saved: attribute `name`, TF1-style `full_name`, `checkpoint_key`."""

    name: str
    full_name: str
    checkpoint_key: str


@dataclass(frozen=True)
class SlotVariable:
    """An optimizer slot: the slot `slot_name` of node `original_node` is node `slot_node`."""

    original_node: int
    slot_name: str
    slot_node: int


@dataclass(frozen=True)
class TrackableObject:
    """One node of the object graph."""

    node_id: int
    children: tuple[tuple[str, int], ...]
    attributes: tuple[SerializedTensor, ...]
    slot_variables: tuple[SlotVariable, ...]
    registered_saver: tuple[str, str] | None = None
    has_checkpoint_values: bool | None = None


def _decode_node(node_id: int, buf: bytes) -> TrackableObject:
    children, attributes, slots = [], [], []
    saver, has_values = None, None
    for number, value in _fields(buf):
        if number == 1:  # ObjectReference {1 node_id, 2 local_name}
            ref = dict(_fields(_message(value)))
            children.append((_text(ref.get(2, b"")), _int32(ref.get(1, 0))))
        elif number == 2:  # SerializedTensor {1 name, 2 full_name, 3 checkpoint_key}
            t = dict(_fields(_message(value)))
            attributes.append(
                SerializedTensor(_text(t.get(1, b"")), _text(t.get(2, b"")), _text(t.get(3, b"")))
            )
        elif number == 3:  # SlotVariableReference {1 original, 2 slot_name, 3 slot node}
            s = dict(_fields(_message(value)))
            slots.append(
                SlotVariable(_int32(s.get(1, 0)), _text(s.get(2, b"")), _int32(s.get(3, 0)))
            )
        elif number == 4:  # RegisteredSaver {1 name, 2 object_name}
            r = dict(_fields(_message(value)))
            saver = (_text(r.get(1, b"")), _text(r.get(2, b"")))
        elif number == 5:  # google.protobuf.BoolValue {1 value}
            has_values = bool(dict(_fields(_message(value))).get(1, 0))
    return TrackableObject(
        node_id, tuple(children), tuple(attributes), tuple(slots), saver, has_values
    )


# --------------------------------------------------------------------------- names


def _unescape(component: str) -> str:
    # TF escapes local names: "." -> "..", then "/" -> ".S" (trackable_utils.escape_local_name).
    out, i = [], 0
    while i < len(component):
        if component[i] == "." and i + 1 < len(component) and component[i + 1] in ".S":
            out.append("." if component[i + 1] == "." else "/")
            i += 2
        else:
            out.append(component[i])
            i += 1
    return "".join(out)


def object_path(key: str) -> str:
    """A TF2 key as an object path: `model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE` becomes
    `model/dense/kernel`; other attributes stay as a last component (`table/.ATTRIBUTES/x`
    becomes `table/x`); names are unescaped. Keys of another shape are returned unchanged."""
    parts = key.split("/")
    if _ATTRIBUTES not in parts:
        return key
    at = len(parts) - 1 - parts[::-1].index(_ATTRIBUTES)
    attribute = "/".join(parts[at + 1 :])
    path = [p if p == _SLOT else _unescape(p) for p in parts[:at]]
    if attribute != "VARIABLE_VALUE":
        path.append(attribute)
    return "/".join(path)


@dataclass(frozen=True)
class GraphTensor:
    """A checkpoint key as the object graph describes it.

    Attributes:
        key: the checkpoint key.
        full_name: the TF1-style name (`dense/kernel`, `Adam/iter`, `save_counter`).
        path: the object path (see `object_path`).
        node_id: the node that saved it; attribute: its attribute name (`VARIABLE_VALUE`).
        slot_of: for an optimizer slot, the key of the variable it belongs to, else None.
        slot_name: the slot's name (`m`, `v`, `momentum`), else None.
    """

    key: str
    full_name: str
    path: str
    node_id: int
    attribute: str
    slot_of: str | None = None
    slot_name: str | None = None


class ObjectGraph:
    """A decoded `TrackableObjectGraph` (see the module docstring)."""

    def __init__(self, nodes: tuple[TrackableObject, ...], checkpoint: Any = None) -> None:
        self.nodes = nodes
        self.checkpoint = checkpoint
        """The checkpoint it came from (for `view`), or None."""
        self.paths = self._bfs_paths()
        """{node id: tuple of local names on the first breadth-first path from the root}."""
        self.tensors = self._tensors()
        """{checkpoint key: GraphTensor} for every tensor the graph records."""

    @classmethod
    def from_bytes(
        cls, data: bytes, checkpoint: Any = None, *, source: str = "<bytes>"
    ) -> ObjectGraph:
        """Decode a serialized TrackableObjectGraph. Raises CorruptionError if malformed."""
        try:
            nodes = tuple(
                _decode_node(i, _message(value))
                for i, (number, value) in enumerate(
                    (n, v) for n, v in _fields(bytes(data)) if n == 1
                )
            )
        except _WireError as exc:
            raise CorruptionError(
                f"malformed TrackableObjectGraph: {exc}", source, OBJECT_GRAPH_KEY
            ) from None
        for node in nodes:
            for name, child in node.children:
                if not 0 <= child < len(nodes):
                    raise CorruptionError(
                        f"node {node.node_id} child {name!r} points to missing node {child}",
                        source,
                        OBJECT_GRAPH_KEY,
                    )
        return cls(nodes, checkpoint)

    def _bfs_paths(self) -> dict[int, tuple[str, ...]]:
        paths: dict[int, tuple[str, ...]] = {}
        if not self.nodes:
            return paths
        paths[0] = ()
        queue = deque([0])
        while queue:
            node_id = queue.popleft()
            for name, child in self.nodes[node_id].children:
                if child not in paths:
                    paths[child] = (*paths[node_id], name)
                    queue.append(child)
        return paths

    def _tensors(self) -> dict[str, GraphTensor]:
        slot_of: dict[int, tuple[int, str]] = {}
        for node in self.nodes:
            for slot in node.slot_variables:
                slot_of[slot.slot_node] = (slot.original_node, slot.slot_name)
        value_key = {
            node.node_id: a.checkpoint_key
            for node in self.nodes
            for a in node.attributes
            if a.name == "VARIABLE_VALUE"
        }
        out: dict[str, GraphTensor] = {}
        for node in self.nodes:
            for a in node.attributes:
                original = slot_of.get(node.node_id)
                out[a.checkpoint_key] = GraphTensor(
                    key=a.checkpoint_key,
                    full_name=a.full_name,
                    path=object_path(a.checkpoint_key),
                    node_id=node.node_id,
                    attribute=a.name,
                    slot_of=None if original is None else value_key.get(original[0]),
                    slot_name=None if original is None else original[1],
                )
        return out

    # --- queries ------------------------------------------------------------------------
    def full_names(self) -> dict[str, str]:
        """{checkpoint key: full_name} for every recorded tensor."""
        return {key: t.full_name for key, t in self.tensors.items()}

    @property
    def slots(self) -> list[GraphTensor]:
        """The optimizer slot variables (`slot_of` and `slot_name` set)."""
        return [t for t in self.tensors.values() if t.slot_of is not None]

    def view(self, names: str = "full_name", checkpoint: Any = None) -> NameView:
        """The checkpoint under `names` = "full_name", "path" or "key" (module docstring).

        `checkpoint` defaults to the one the graph was read from.

        >>> view = ckptio.object_graph("examples/data/keras_convnet").view("full_name")
        >>> sorted(view)[1:5]
        ['bn/beta', 'bn/gamma', 'bn/moving_mean', 'bn/moving_variance']
        >>> view.key("bn/gamma")
        'model/_operations/2/gamma/.ATTRIBUTES/VARIABLE_VALUE'
        """
        if not isinstance(names, str):  # view(checkpoint, names): the order before 0.2
            names, checkpoint = (checkpoint or "full_name"), names
        ckpt = checkpoint if checkpoint is not None else self.checkpoint
        if ckpt is None:
            raise ValueError("this object graph has no checkpoint: pass one to view()")
        if names not in ("full_name", "path", "key"):
            raise ValueError(f"names must be 'full_name', 'path' or 'key', not {names!r}")
        keys = list(ckpt.keys())
        if names == "key":
            return NameView(ckpt, {k: k for k in keys}, "key")
        paths = {k: self.tensors[k].path if k in self.tensors else k for k in keys}
        chosen = dict(paths)
        if names == "full_name":
            counts: dict[str, int] = {}
            for k in keys:
                if k in self.tensors and self.tensors[k].full_name:
                    name = self.tensors[k].full_name
                    counts[name] = counts.get(name, 0) + 1
            taken = {paths[k] for k in keys if k not in self.tensors}
            for k in keys:
                t = self.tensors.get(k)
                if t is not None and t.full_name and counts[t.full_name] == 1:
                    if t.full_name not in taken:
                        chosen[k] = t.full_name
        # Two keys may still meet on one name (a path equal to a full name): keep the keys then.
        seen: dict[str, int] = {}
        for name in chosen.values():
            seen[name] = seen.get(name, 0) + 1
        mapping = {(name if seen[name] == 1 else k): k for k, name in chosen.items()}
        return NameView(ckpt, mapping, names)

    def tree(self, describe: Callable[[str], str] | None = None) -> str:
        """The object tree as indented text: each node's first path, and the tensors it saved
        (key and full name, then ``describe(key)`` when given, e.g. its dtype and shape). Nodes
        reached twice are shown once, under their first path; slot variables (reached from
        their optimizer, not as children) are listed at the end."""
        lines = ["(root)"]

        def walk(node_id: int, depth: int) -> None:
            node = self.nodes[node_id]
            for a in node.attributes:
                line = f"{'  ' * depth}[{a.name}] {a.checkpoint_key}  (full_name {a.full_name!r})"
                if describe is not None:
                    try:
                        line += "  " + describe(a.checkpoint_key)
                    except KeyError:  # recorded in the graph but not stored
                        pass
                lines.append(line)
            for name, child in node.children:
                if self.paths.get(child) == (*self.paths[node_id], name):
                    lines.append(f"{'  ' * depth}{name}/")
                    walk(child, depth + 1)
                else:
                    lines.append(f"{'  ' * depth}{name} -> /{'/'.join(self.paths[child])}")

        walk(0, 1)
        slots = self.slots
        if slots:
            lines.append("slot variables:")
            lines += [f"  {t.slot_of}  [{t.slot_name}]  -> {t.key}" for t in slots]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<ckptio.ObjectGraph {len(self.nodes)} nodes, {len(self.tensors)} tensors>"


def object_graph(checkpoint: Any) -> ObjectGraph:
    """Decode the object graph of a TF2 checkpoint (a path or an open `Checkpoint`).

    Raises NotFoundError if the checkpoint has no `_CHECKPOINTABLE_OBJECT_GRAPH` entry (a TF1
    name-based checkpoint), CorruptionError if the entry is malformed.
    """
    if isinstance(checkpoint, (str, os.PathLike)):
        from ..reader import open as _open

        checkpoint = _open(checkpoint)
    source = getattr(checkpoint, "path", "<checkpoint>")
    if OBJECT_GRAPH_KEY not in checkpoint:
        raise NotFoundError(
            "no object graph: not a TF2 object-based checkpoint (written by TF1 Saver?)",
            source,
            OBJECT_GRAPH_KEY,
        )
    value = checkpoint[OBJECT_GRAPH_KEY]
    data = value[()] if getattr(value, "shape", None) == () else value
    if not isinstance(data, bytes):
        raise CorruptionError("object graph entry is not a scalar string", source, OBJECT_GRAPH_KEY)
    return ObjectGraph.from_bytes(data, checkpoint, source=source)
