# PYTHON_ARGCOMPLETE_OK  (argcomplete: this command supports tab completion)
"""The ``ckptio`` command: list, inspect, compare, verify, convert and rewrite checkpoints.

    ckptio ls CKPT [--include RE] [--exclude RE] [--sort name|size] [--json]
    ckptio show CKPT NAME [--slice 0:2,...] [--precision N] [--full] [--json]
    ckptio tree CKPT [--json]
    ckptio diff A B [--include RE] [--exclude RE] [--no-values] [--exit-code] [--json]
    ckptio verify CKPT [--json]
    ckptio convert CKPT OUT [--to safetensors|npz|pt] [--map OLD=NEW] [--cast DTYPE]
                   [--names key|path|full_name] [--layout torch] [--skip-unsupported]
                   [--recipe hf-bert|hf-gpt2|hf-t5|hf-albert|hf-electra] [--map-re RE=REPL]
                   [--drop training-state] [--layout-rule RE=STEPS]
                   [--verify] [--overwrite] [--json]
    ckptio rewrite SRC DST [--map OLD=NEW] [--include RE] [--exclude RE] [--cast DTYPE]
                   [--dry-run] [--overwrite] [--update-state] [--json]

CKPT is any path form `ckptio.open` accepts (prefix, directory, `.index`, `.data-*`, V1 file),
or a URL (`s3://`, `gs://`, `https://`...: only the index and the bytes used are fetched).
Exit status: 0 on success, 1 on failure (a corrupt checkpoint for `verify`; differences for
`diff --exit-code`), 2 for usage errors. Errors are one line on stderr:
``ckptio: error: <file>: key '<key>': <message>``. Names are printed with control characters
escaped; ``--json`` output carries them exactly (JSON-escaped).

This module is on the start-up path of every command: heavy or optional modules (the
converters' libraries, the restore toolkit) are imported inside the commands that use them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any, Callable, TextIO

from . import __version__
from ._names import did_you_mean
from .errors import CheckpointError, UsageError
from .reader import Checkpoint
from .reader import open as open_checkpoint

__all__ = ["main", "sanitize"]

# --------------------------------------------------------------------------- output helpers

# C0/C1 controls, DEL, bidirectional and zero-width format characters (they reorder or hide
# text on a terminal), and surrogates (bytes that were not UTF-8, kept by surrogateescape).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def sanitize(text: str) -> str:
    """`text` safe to print on a terminal: control, format and surrogate characters escaped
    (``\\n``, ``\\x1b``, ``\\u202e``; a byte that was not UTF-8 as ``\\xff``)."""
    return _UNSAFE.sub(_escape, text)


def _human(nbytes: int) -> str:
    size = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{nbytes} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _shape(shape: Sequence[int]) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


def _number(value: float) -> float | str:
    """A float for JSON: non-finite values as strings (JSON has no NaN or Infinity)."""
    value = float(value)
    return value if math.isfinite(value) else str(value)


def _dump_json(obj: Any, out: TextIO) -> None:
    # ASCII-only: names that were not UTF-8 (lone surrogates) stay representable. `dumps` in one
    # piece and no indent: json's C encoder is used only then (`dump` streams in pure Python,
    # ten times slower on a 20,000-key listing).
    # No cycle check: the objects are fresh trees (it costs a dict insert per container).
    out.write(json.dumps(obj, ensure_ascii=True, allow_nan=False, check_circular=False) + "\n")


class Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal.

    Call it as ``progress(done, total, name)``; it redraws at most ten times a second and
    erases itself on `close` (or at the end of a ``with`` block).
    """

    def __init__(self, label: str, stream: TextIO | None = None, enabled: bool | None = None):
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self._last = 0.0
        self._width = 0

    def __call__(self, done: int, total: int, name: str = "") -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        filled = 24 * done // total if total else 24
        line = f"{self.label} [{'#' * filled}{'.' * (24 - filled)}] {done}/{total} "
        line += sanitize(name)[:40]
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
        self._width = max(self._width, len(line))

    def close(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- selection


def _matches(pattern: str, name: str) -> bool:
    # TF-slim matches scopes against `var.name`, i.e. "name:0"; on the command line a pattern
    # must also work for the name as `ls` prints it (`--exclude '.*/adam_m$'`).
    return re.match(pattern, name) is not None or re.match(pattern, name + ":0") is not None


def _selector(
    include: list[str] | None, exclude: list[str] | None
) -> Callable[[Iterable[str]], list[str]] | None:
    """A function keeping the names the include/exclude regexes keep (matched at the start of
    the name, with or without TF's ":0"), or None when no pattern was given. Raises
    `UsageError` for a pattern that matches none of the names."""
    if not include and not exclude:
        return None

    def choose(names: Iterable[str]) -> list[str]:
        names = list(names)
        for flag, patterns in (("--include", include), ("--exclude", exclude)):
            for pattern in patterns or ():
                if not any(_matches(pattern, n) for n in names):
                    scopes = {n[: i + 1] for n in names for i, c in enumerate(n) if c == "/"}
                    hint = did_you_mean(pattern, [*names, *scopes])
                    raise UsageError(f"{flag} {pattern!r} matches no tensor{hint}")
        return [
            n
            for n in names
            if (not include or any(_matches(p, n) for p in include))
            and not any(_matches(p, n) for p in exclude or ())
        ]

    return choose


def _regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"invalid regular expression {pattern!r}: {exc}") from None
    return pattern


def _dtype(name: str) -> str:
    from .casting import dtype_names

    accepted = dtype_names()
    if name not in accepted:
        hint = did_you_mean(name, accepted)
        raise argparse.ArgumentTypeError(
            f"unknown dtype {name!r}{hint}; accepted: {', '.join(accepted)}"
        )
    return name


def _bounded(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer from `low` to `high`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low} and {high}")
        return value

    return parse


def _mapping(text: str) -> tuple[str, str]:
    old, sep, new = text.partition("=")
    if not sep or not old:
        raise argparse.ArgumentTypeError(f"expected OLD=NEW, got {text!r}")
    return old, new


# --------------------------------------------------------------------------- ls


def cmd_ls(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    with open_checkpoint(args.path) as ckpt:
        # Everything here comes from the index alone (no numpy, no tensor data). Keys come in
        # index order, which is already sorted.
        summary = ckpt.summary()
        choose = _selector(args.include, args.exclude)
        if choose is not None:
            keep = set(choose(name for name, *_ in summary))
            summary = [row for row in summary if row[0] in keep]
        prod = math.prod  # rows: (name, dtype, shape, elements, bytes)
        rows = [(n, d, s, prod(s), b) for n, d, s, b in summary]
        fmt, path = ckpt.format, ckpt.path
    if args.sort == "size":
        rows.sort(key=lambda row: (-row[4], row[0]))
    parameters = sum(row[3] for row in rows)
    total = sum(row[4] for row in rows)
    if args.json:
        tensors = [{"name": n, "dtype": d, "shape": s, "nbytes": b} for n, d, s, _, b in rows]
        totals = {"tensors": len(rows), "parameters": parameters, "nbytes": total}
        _dump_json({"path": path, "format": fmt, "tensors": tensors, "totals": totals}, out)
        return 0
    shown = [(sanitize(n), d, _shape(s), _human(b)) for n, d, s, _, b in rows]
    widths = [max((len(row[i]) for row in shown), default=0) for i in range(3)]
    lines = [
        f"{n:<{widths[0]}}  {d:<{widths[1]}}  {s:<{widths[2]}}  {b:>10}" for n, d, s, b in shown
    ]
    lines.append(
        f"{len(rows)} tensors, {parameters:,} parameters, {_human(total)} ({fmt} {sanitize(path)})"
    )
    out.write("\n".join(lines) + "\n")
    return 0


# --------------------------------------------------------------------------- show


def _index(text: str) -> tuple[Any, ...]:
    """Parse basic numpy indexing: "0:2, ..., 3" -> (slice(0, 2), Ellipsis, 3); `UsageError`
    for anything else."""
    items: list[Any] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if part == "...":
                items.append(Ellipsis)
            elif ":" in part:
                bounds = [int(b) if b.strip() else None for b in part.split(":")]
                if len(bounds) > 3 or (len(bounds) == 3 and bounds[2] == 0):
                    raise ValueError
                items.append(slice(*bounds))
            else:
                items.append(int(part))
    except ValueError:
        raise UsageError(
            f"--slice {text!r}: expected integers, start:stop[:step] slices and '...' "
            "separated by commas, e.g. '0:2, ..., 3'"
        ) from None
    if items.count(Ellipsis) > 1:
        raise UsageError(f"--slice {text!r}: '...' may appear only once")
    return tuple(items)


def _sliced(ckpt: Checkpoint, name: str, text: str) -> Any:
    """The region `--slice text` selects, or `UsageError` saying why it does not fit."""
    index = _index(text)
    shape = ckpt.info(name).shape
    if not shape:
        raise UsageError(f"--slice {text!r}: {name!r} is a scalar (shape []); drop --slice")
    try:
        return ckpt.get_slice(name)[index]
    except IndexError as exc:
        raise UsageError(f"--slice {text!r} does not fit shape {_shape(shape)}: {exc}") from None


def _stats(value: Any) -> dict[str, Any]:
    import numpy as np

    if value.dtype == object:
        lengths = [len(x) for x in value.reshape(-1).tolist()]
        return {"min_length": min(lengths, default=0), "max_length": max(lengths, default=0)}
    if value.size == 0:
        return {}
    if value.dtype == np.bool_:
        true = int(np.count_nonzero(value))
        return {"true": true, "false": int(value.size) - true}
    if value.dtype.kind == "c":
        value = np.abs(value)  # magnitudes: complex numbers have no order
    if value.dtype.kind not in "iuf":
        value = value.astype(np.float64)  # bfloat16, float8, int4 (ml_dtypes)
    stats: dict[str, Any] = {"zeros": int(value.size - np.count_nonzero(value))}
    if value.dtype.kind == "f":
        nan = np.isnan(value)
        inf = np.isinf(value)
        stats["nan"], stats["inf"] = int(nan.sum()), int(inf.sum())
        if stats["nan"] or stats["inf"]:
            value = value[~(nan | inf)]
    if value.size:
        exact = int if value.dtype.kind in "iu" else _number
        stats["min"] = exact(value.min())
        stats["max"] = exact(value.max())
        # Near float64's range the mean and spread overflow: they are then shown as inf.
        with np.errstate(over="ignore", invalid="ignore"):
            stats["mean"] = _number(value.mean(dtype=np.float64))
            stats["std"] = _number(value.std(dtype=np.float64))
    return stats


def _lines(text: str) -> str:
    """Multi-line text with each line sanitized (the newlines themselves kept)."""
    return "\n".join(sanitize(line) for line in text.split("\n"))


def cmd_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import numpy as np

    with open_checkpoint(args.path) as ckpt:
        if args.name not in ckpt:
            import difflib

            close = difflib.get_close_matches(args.name, list(ckpt), n=3)
            hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
            raise CheckpointError("no such tensor" + hint, ckpt.path, args.name)
        info = ckpt.info(args.name)
        if args.slice is not None:
            value = _sliced(ckpt, args.name, args.slice)
        else:
            value = ckpt.get_tensor(args.name)
        value = np.asarray(value)
    stats = _stats(value)
    threshold = sys.maxsize if args.full else args.threshold
    if args.json:
        report: dict[str, Any] = {
            "name": info.name,
            "dtype": info.dtype_name,
            "shape": list(info.shape),
            "nbytes": info.nbytes,
        }
        if args.slice is not None:
            report["slice"] = args.slice
            report["slice_shape"] = list(value.shape)
        report["stats"] = stats
        if value.size <= threshold:
            report["values"] = _json_values(value)
        _dump_json(report, out)
        return 0
    lines = [
        f"name:  {sanitize(info.name)}",
        f"dtype: {info.dtype_name}    shape: {_shape(info.shape)}    "
        f"size: {math.prod(info.shape):,} ({_human(info.nbytes)})",
    ]
    if args.slice is not None:
        lines.append(f"slice: [{args.slice}] -> {_shape(value.shape)}")
    if stats:
        lines.append("stats: " + "  ".join(f"{k} {_stat_text(v)}" for k, v in stats.items()))
    options = {
        "precision": args.precision,
        "threshold": threshold,
        "edgeitems": args.edgeitems,
        "linewidth": args.linewidth,
    }
    with np.printoptions(**options):
        text = np.array2string(value, separator=", ") if value.ndim else repr(value[()])
    lines.append(_lines(text))
    out.write("\n".join(lines) + "\n")
    return 0


def _stat_text(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _json_values(value: Any) -> Any:
    """Values as nested lists for JSON: strings as text when they are UTF-8 (else a list of
    byte values), non-finite floats as strings, complex numbers as [real, imag]."""
    import numpy as np

    if value.dtype == object:
        flat = np.empty(value.size, dtype=object)
        for i, element in enumerate(value.reshape(-1).tolist()):
            try:
                flat[i] = element.decode("utf-8")
            except UnicodeDecodeError:
                flat[i] = list(element)
        return flat.reshape(value.shape).tolist()
    if value.dtype.kind == "c":
        pairs = np.stack([value.real, value.imag], axis=-1).astype(np.float64)
        return _json_values(pairs)
    if value.dtype.kind in "biu":
        return value.tolist()
    floats = value.astype(np.float64)  # also bfloat16, float8, int4
    if np.isfinite(floats).all():
        return floats.tolist()
    flat = [_number(x) for x in floats.reshape(-1).tolist()]
    return np.array(flat, dtype=object).reshape(floats.shape).tolist()


# --------------------------------------------------------------------------- tree


def cmd_tree(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .objgraph import object_graph

    with open_checkpoint(args.path) as ckpt:
        graph = object_graph(ckpt)
        if args.json:
            _dump_json(_graph_json(graph), out)
        else:
            out.write(_lines(graph.tree()) + "\n")
    return 0


def _graph_json(graph: Any) -> dict[str, Any]:
    nodes = []
    for node in graph.nodes:
        nodes.append(
            {
                "id": node.node_id,
                "path": "/".join(graph.paths.get(node.node_id, ())),
                "children": [{"name": name, "node": child} for name, child in node.children],
                "tensors": [
                    {"attribute": a.name, "key": a.checkpoint_key, "full_name": a.full_name}
                    for a in node.attributes
                ],
            }
        )
    slots = [{"variable": t.slot_of, "slot": t.slot_name, "key": t.key} for t in graph.slots]
    return {"nodes": nodes, "slots": slots}


# --------------------------------------------------------------------------- diff


def _compare(a: Any, b: Any, chunk: int = 1 << 20) -> dict[str, Any] | None:
    """None when two same-shape arrays hold the same bits, else how they differ: the number of
    differing elements and, for numbers, the largest absolute difference."""
    import numpy as np

    if a.dtype == object or b.dtype == object:
        if a.dtype != b.dtype:
            return {"differing": int(a.size)}
        diff = sum(x != y for x, y in zip(a.reshape(-1).tolist(), b.reshape(-1).tolist()))
        return {"differing": diff} if diff else None
    if a.dtype == b.dtype:
        ab = np.ascontiguousarray(a).reshape(-1).view(np.uint8)
        bb = np.ascontiguousarray(b).reshape(-1).view(np.uint8)
        step = chunk * a.dtype.itemsize
        if all(np.array_equal(ab[i : i + step], bb[i : i + step]) for i in range(0, ab.size, step)):
            return None
    wide = np.complex128 if "c" in (a.dtype.kind, b.dtype.kind) else np.float64
    fa, fb = a.reshape(-1), b.reshape(-1)
    differing, largest = 0, 0.0
    for i in range(0, fa.size, chunk):
        x, y = fa[i : i + chunk].astype(wide), fb[i : i + chunk].astype(wide)
        both_nan = np.isnan(x) & np.isnan(y)
        unequal = (x != y) & ~both_nan
        differing += int(unequal.sum())
        if unequal.any():
            largest = max(largest, float(np.nanmax(np.abs(x[unequal] - y[unequal]), initial=0)))
    result: dict[str, Any] = {"differing": differing, "max_abs_diff": _number(largest)}
    if differing == 0 and a.dtype == b.dtype:
        result["note"] = "different bits (-0.0 and 0.0, NaN payloads)"
    return result


def cmd_diff(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    with open_checkpoint(args.a) as ca, open_checkpoint(args.b) as cb:
        names_a, names_b = set(ca), set(cb)
        choose = _selector(args.include, args.exclude)
        if choose is not None:  # (a pattern must match a name of either checkpoint)
            keep = set(choose(sorted(names_a | names_b)))
            names_a, names_b = names_a & keep, names_b & keep
        removed = sorted(names_a - names_b)
        added = sorted(names_b - names_a)
        common = sorted(names_a & names_b)
        shapes_a, shapes_b = ca.shapes(), cb.shapes()
        dtypes_a, dtypes_b = ca.dtype_names(), cb.dtype_names()
        changed: list[dict[str, Any]] = []
        identical = 0
        with Progress("diff", err) as progress:
            for done, name in enumerate(common, 1):
                entry: dict[str, Any] = {"name": name}
                if dtypes_a[name] != dtypes_b[name]:
                    entry["dtype"] = [dtypes_a[name], dtypes_b[name]]
                if shapes_a[name] != shapes_b[name]:
                    entry["shape"] = [list(shapes_a[name]), list(shapes_b[name])]
                elif not args.no_values and _readable(dtypes_a[name], dtypes_b[name]):
                    values = _compare(ca[name], cb[name])
                    if values is not None:
                        entry.update(values)
                if len(entry) > 1:
                    changed.append(entry)
                else:
                    identical += 1
                progress(done, len(common), name)
        describe = {
            "removed": [_brief(ca, n, dtypes_a, shapes_a) for n in removed],
            "added": [_brief(cb, n, dtypes_b, shapes_b) for n in added],
        }
    if args.json:
        _dump_json(
            {"a": ca.path, "b": cb.path, **describe, "changed": changed, "identical": identical},
            out,
        )
    else:
        lines = [
            f"- {sanitize(t['name'])}  {t['dtype']} {_shape(t['shape'])}"
            for t in describe["removed"]
        ]
        lines += [
            f"+ {sanitize(t['name'])}  {t['dtype']} {_shape(t['shape'])}" for t in describe["added"]
        ]
        lines += [f"~ {sanitize(e['name'])}  {_change_text(e)}" for e in changed]
        lines.append(
            f"{len(removed)} removed, {len(added)} added, {len(changed)} changed, "
            f"{identical} identical"
        )
        out.write("\n".join(lines) + "\n")
    differs = bool(removed or added or changed)
    return 1 if args.exit_code and differs else 0


def _readable(dtype_a: str, dtype_b: str) -> bool:
    return not {dtype_a, dtype_b} & {"variant", "resource"}


def _brief(ckpt: Checkpoint, name: str, dtypes: dict[str, str], shapes: dict) -> dict[str, Any]:
    return {"name": name, "dtype": dtypes[name], "shape": list(shapes[name])}


def _change_text(entry: dict[str, Any]) -> str:
    parts = []
    if "dtype" in entry:
        parts.append(f"dtype {entry['dtype'][0]} -> {entry['dtype'][1]}")
    if "shape" in entry:
        parts.append(f"shape {_shape(entry['shape'][0])} -> {_shape(entry['shape'][1])}")
    if entry.get("differing") == 0:
        parts.append("values equal" + (f", {entry['note']}" if "note" in entry else ""))
    elif "max_abs_diff" in entry:
        diff = entry["max_abs_diff"]
        shown = f"{diff:.6g}" if isinstance(diff, float) else diff
        parts.append(f"values: {entry['differing']} differ, max abs diff {shown}")
    elif "differing" in entry:
        parts.append(f"values: {entry['differing']} differ")
    return "; ".join(parts)


# --------------------------------------------------------------------------- verify


def cmd_verify(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    errors: list[CheckpointError] = []
    total = 0
    with open_checkpoint(args.path) as ckpt, Progress("verify", err) as progress:
        names = list(ckpt)
        for done, name in enumerate(names, 1):
            try:
                ckpt.verify(name)
                total += ckpt.info(name).nbytes
            except CheckpointError as exc:
                errors.append(exc)
            progress(done, len(names), name)
        path, fmt = ckpt.path, ckpt.format
    # V1 files carry a CRC32C per table block only; tensor values have no checksum of their own.
    checked = "tensor checksums" if fmt == "V2" else "V1 block checksums only (no tensor checksums)"
    if args.json:
        problems = [{"file": e.file, "key": e.key, "message": e.message} for e in errors]
        report = {"path": path, "tensors": len(names), "nbytes": total, "ok": not errors}
        _dump_json({**report, "checked": checked, "errors": problems}, out)
    else:
        for text in _grouped(errors):
            err.write(f"ckptio: error: {sanitize(text)}\n")
        status = "OK" if not errors else f"FAILED ({len(errors)} unreadable or corrupt)"
        out.write(
            f"{status}: {len(names) - len(errors)} of {len(names)} tensors verified, "
            f"{_human(total)}, {checked} ({sanitize(path)})\n"
        )
    return 1 if errors else 0


def _grouped(errors: list[CheckpointError]) -> list[str]:
    """One line per distinct problem: errors that differ only in the tensor (every tensor of a
    missing shard) become one line naming the file and how many tensors it holds."""
    groups: dict[tuple[Any, ...], list[CheckpointError]] = {}
    for exc in errors:
        groups.setdefault((type(exc), exc.file, exc.message), []).append(exc)
    lines = []
    for (_, file, message), group in groups.items():
        if len(group) == 1:
            lines.append(str(group[0]))
            continue
        keys = ", ".join(repr(e.key) for e in group[:3]) + (", ..." if len(group) > 3 else "")
        where = f"{file}: " if file is not None else ""
        holds = "the shard holds" if "shard" in message else "affects"
        lines.append(f"{where}{message} ({holds} {len(group)} tensors: {keys})")
    return lines


# --------------------------------------------------------------------------- convert, rewrite


def _rewrite_options(args: argparse.Namespace, names: Iterable[str]) -> dict[str, Any]:
    """select / rename / cast options shared by convert and rewrite."""
    options: dict[str, Any] = {}
    choose = _selector(args.include, args.exclude)
    if choose is not None:
        options["select"] = set(choose(names))
    if args.map:
        options["rename"] = dict(args.map)
    if args.cast:
        options["cast"] = args.cast
    if args.allow_lossy_cast:
        options["allow_lossy_cast"] = True
    if args.allow_empty:
        options["allow_empty"] = True
    return options


def _recipe_options(args: argparse.Namespace, source: Any, options: dict[str, Any]) -> Any:
    """--recipe, --map-re, --drop, --layout-rule: the recipe's select/layout in `options`."""
    if not (args.recipe or args.map_re or args.drop or args.layout_rule):
        return None
    from . import recipes

    if args.layout:
        raise UsageError("--layout cannot be combined with --recipe/--map-re/--drop/--layout-rule")
    if args.map:
        raise UsageError("--map cannot be combined with --recipe: use --map-re")
    try:
        recipe = recipes.custom_recipe(
            args.map_re or (),
            args.drop,
            args.layout_rule or (),
            base=recipes.resolve(args.recipe),
        )
    except (ValueError, re.error) as e:
        raise UsageError(str(e)) from None
    options.update(recipes.convert_options(recipe, source, options.pop("select", None)))
    if str(args.output).endswith(".safetensors") and args.to in (None, "safetensors"):
        options["metadata"] = {"format": "pt"}
    return recipe


def cmd_convert(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .convert import convert

    with open_checkpoint(args.path) as ckpt, Progress("convert", err) as progress:
        source: Any = ckpt
        if args.names != "key":  # a TF2 checkpoint under its object paths or TF1-style names
            from .objgraph import object_graph

            source = object_graph(ckpt).view(names=args.names)
        options = _rewrite_options(args, source)
        if args.layout:
            options["layout"] = args.layout
        recipe = _recipe_options(args, source, options)  # UsageError: exit 2 in main()
        if args.compress:
            options["compress"] = True
        report = convert(
            source,
            args.output,
            to=args.to,
            unsupported="skip" if args.skip_unsupported else "raise",
            verify=args.verify,
            overwrite=args.overwrite,
            progress=progress,
            **options,
        )
        if recipe is not None and args.names == "key":
            from .recipes import write_config

            write_config(recipe, args.path, args.output, overwrite=args.overwrite)
    if args.json:
        casts = {
            name: {k: _number(v) if isinstance(v, float) else v for k, v in entry.items()}
            for name, entry in report.cast_errors.items()
        }
        _dump_json(
            {
                "path": report.path,
                "format": report.format,
                "written": report.written,
                "skipped": report.skipped,
                "nbytes": report.nbytes,
                "verified": report.verified,
                "cast_errors": casts,
            },
            out,
        )
        return 0
    lines = [f"skipped {sanitize(name)}: {why}" for name, why in report.skipped.items()]
    lines += [
        f"cast {sanitize(name)}: {e['from']} -> {e['to']}, max abs error "
        f"{e['max_abs_error']:.6g}, max rel error {e['max_rel_error']:.6g}"
        for name, e in report.cast_errors.items()
    ]
    checked = ", verified" if report.verified else ""
    lines.append(
        f"wrote {len(report.written)} tensors ({_human(report.nbytes)}) to "
        f"{sanitize(report.path or '')} [{report.format}{checked}]"
    )
    out.write("\n".join(lines) + "\n")
    return 0


def cmd_rewrite(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .writer import rewrite

    with open_checkpoint(args.src) as ckpt:
        options = dict(
            keep_object_graph=args.keep_object_graph,
            overwrite=args.overwrite,
            update_state=args.update_state,
            **_rewrite_options(args, ckpt),
        )
        if not args.dry_run and (getattr(ckpt, "remote", False) or "://" in args.dst):
            # `rewrite` copies stored bytes out of local shards; URLs go through the sharded
            # rewrite (threads in this process), which reads ranges and uploads.
            from .distributed import rewrite as rewrite_sharded

            plan = rewrite_sharded(ckpt, args.dst, **options).written
        else:
            plan = rewrite(ckpt, args.dst, dry_run=args.dry_run, **options)
        dropped = len(ckpt) - len(plan)
    casts: dict[str, Any] = getattr(plan, "casts", {})
    if args.json:
        shown = {name: {"from": a, "to": b} for name, (a, b) in casts.items()}
        _dump_json({"dst": args.dst, "dry_run": args.dry_run, "tensors": plan, "casts": shown}, out)
        return 0
    lines = []
    if args.verbose or args.dry_run:  # the per-tensor listing; by default one summary line
        for src, dst in plan.items():
            line = f"{sanitize(src)} -> {sanitize(dst)}" if src != dst else sanitize(src)
            if src in casts:
                line += f"  ({casts[src][0]} -> {casts[src][1]})"
            lines.append(line)
    verb = "would write" if args.dry_run else "wrote"
    cast_note = f", {len(casts)} cast" if casts else ""
    lines.append(
        f"{verb} {len(plan)} tensors to {sanitize(args.dst)} ({dropped} left out{cast_note})"
    )
    out.write("\n".join(lines) + "\n")
    return 0


# --------------------------------------------------------------------------- argument parsing


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line (``ckptio: error: ...``, exit status 2)."""

    def error(self, message: str) -> Any:  # (argparse's signature says NoReturn)
        self.exit(2, f"ckptio: error: {self.prog}: {message} (see '{self.prog} --help')\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ckptio",
        description="Read, compare, verify and convert TensorFlow checkpoints, without TensorFlow.",
        epilog="CKPT: a checkpoint prefix, its directory, its .index or .data-* file, or a V1 "
        "file. Exit status: 0 ok, 1 failure, 2 usage error.",
    )
    parser.add_argument("--version", action="version", version=f"ckptio {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, func: Callable[..., int], help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(func=func)
        sub.add_argument("--json", action="store_true", help="machine-readable output")
        return sub

    def scopes(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--include",
            action="append",
            type=_regex,
            metavar="RE",
            help="keep names matching this regex at their start, with or without TF's ':0' "
            "(TF-slim scope; repeatable; must match some tensor)",
        )
        sub.add_argument(
            "--exclude",
            action="append",
            type=_regex,
            metavar="RE",
            help="drop names matching this regex at their start, with or without ':0' "
            "(repeatable; must match some tensor)",
        )

    def renames(sub: argparse.ArgumentParser) -> None:
        scopes(sub)
        sub.add_argument(
            "--map",
            action="append",
            type=_mapping,
            metavar="OLD=NEW",
            help="rename a tensor, or a scope when OLD ends with '/' (repeatable)",
        )
        sub.add_argument(
            "--cast",
            type=_dtype,
            metavar="DTYPE",
            help="store floating tensors as DTYPE (e.g. bfloat16); casts that could lose "
            "values (to an integer type...) are refused without --allow-lossy-cast",
        )
        sub.add_argument(
            "--allow-lossy-cast",
            action="store_true",
            help="cast even where values can be lost (float to int saturates and truncates)",
        )
        sub.add_argument(
            "--allow-empty",
            action="store_true",
            help="write the output even when no tensor is selected (else an error)",
        )
        sub.add_argument("--overwrite", action="store_true", help="replace an existing output")

    sub = command("ls", cmd_ls, "list tensors: name, dtype, shape, size, and totals")
    sub.add_argument("path", metavar="CKPT")
    scopes(sub)
    sub.add_argument("--sort", choices=("name", "size"), default="name", help="order of rows")

    sub = command("show", cmd_show, "print one tensor's values and statistics")
    sub.add_argument("path", metavar="CKPT")
    sub.add_argument("name", metavar="NAME")
    sub.add_argument("--slice", metavar="INDEX", help="show only a region, e.g. '0:2, ...'")
    sub.add_argument(
        "--precision", type=_bounded(0, 60), default=4, help="digits after the point (4)"
    )
    sub.add_argument(
        "--threshold", type=_bounded(0, 2**62), default=1000, help="summarize above N elements"
    )
    sub.add_argument(
        "--edgeitems", type=_bounded(0, 10**6), default=3, help="items shown at each edge (3)"
    )
    sub.add_argument(
        "--linewidth", type=_bounded(1, 10**6), default=100, help="characters per line (100)"
    )
    sub.add_argument("--full", action="store_true", help="print every value")

    sub = command("tree", cmd_tree, "print the object graph of a TF2 checkpoint")
    sub.add_argument("path", metavar="CKPT")

    sub = command("diff", cmd_diff, "compare two checkpoints: names, dtypes, shapes and values")
    sub.add_argument("a", metavar="A")
    sub.add_argument("b", metavar="B")
    scopes(sub)
    sub.add_argument("--no-values", action="store_true", help="compare names, dtypes, shapes")
    sub.add_argument("--exit-code", action="store_true", help="exit with 1 if they differ")

    sub = command("verify", cmd_verify, "check every checksum (exit status 1 on corruption)")
    sub.add_argument("path", metavar="CKPT")

    sub = command("convert", cmd_convert, "write a checkpoint as safetensors, .npz or PyTorch")
    sub.add_argument("path", metavar="CKPT")
    sub.add_argument("output", metavar="OUT")
    sub.add_argument(
        "--to",
        choices=("safetensors", "npz", "pt"),
        help="output format (default: from OUT's suffix: .safetensors, .npz, .pt/.pth)",
    )
    renames(sub)
    sub.add_argument(
        "--names",
        choices=("key", "path", "full_name"),
        default="key",
        help="TF2 checkpoints: convert under the object paths or the TF1-style full names "
        "recorded in the object graph instead of the keys (applied before --include/--map)",
    )
    sub.add_argument("--layout", choices=("torch",), help="rename and transpose for PyTorch")
    sub.add_argument(
        "--recipe",
        choices=("hf-bert", "hf-gpt2", "hf-t5", "hf-albert", "hf-electra"),
        help="Hugging Face transformers names and layouts for an original release's checkpoint "
        "(drops training state; writes config.json from bert_config.json & co)",
    )
    sub.add_argument(
        "--map-re",
        action="append",
        metavar="RE=REPL",
        help="regex rename (re.sub), applied in order (repeatable)",
    )
    sub.add_argument(
        "--drop", choices=("training-state",), help="leave out optimizer slots and step counters"
    )
    sub.add_argument(
        "--layout-rule",
        action="append",
        metavar="RE=STEPS",
        help="layout steps (transpose,squeeze) for names matching RE (repeatable)",
    )
    sub.add_argument(
        "--skip-unsupported",
        action="store_true",
        help="leave out tensors the format cannot hold (strings...) instead of failing",
    )
    sub.add_argument("--compress", action="store_true", help="deflate .npz members")
    sub.add_argument(
        "--verify",
        action="store_true",
        help="read the output back and compare; report each cast tensor's largest errors",
    )

    sub = command("rewrite", cmd_rewrite, "write a renamed, filtered or cast copy (V2 bundle)")
    sub.add_argument("src", metavar="SRC")
    sub.add_argument("dst", metavar="DST", help="prefix of the new checkpoint")
    renames(sub)
    sub.add_argument(
        "--dry-run", action="store_true", help="print the plan (names and casts), write nothing"
    )
    sub.add_argument(
        "-v", "--verbose", action="store_true", help="list every tensor written (and its cast)"
    )
    sub.add_argument("--update-state", action="store_true", help="update DST's checkpoint file")
    sub.add_argument(
        "--keep-object-graph", action="store_true", help="keep the TF2 object graph if unchanged"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ckptio`` command with `argv` (default: ``sys.argv[1:]``); returns the exit
    status (0 ok, 1 failure, 2 usage error)."""
    out, err = sys.stdout, sys.stderr
    parser = _parser()
    if argv is None and "_ARGCOMPLETE" in os.environ:  # the shell asks for completions
        from .completion import autocomplete

        autocomplete(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) and usage errors (2)
        return exc.code if isinstance(exc.code, int) else 2
    if args.command is None:
        parser.print_usage(err)
        err.write("ckptio: error: a command is required (ls, show, tree, diff, verify, ...)\n")
        return 2
    try:
        return args.func(args, out, err)
    except UsageError as exc:
        err.write(f"ckptio: error: {sanitize(_cli_words(exc))}\n")
        return 2
    except CheckpointError as exc:
        err.write(f"ckptio: error: {sanitize(_cli_words(exc))}\n")
    except BrokenPipeError:
        _silence_stdout()  # the reader went away (`ckptio ls | head`): nothing left to say
    except (OSError, ValueError, ImportError) as exc:
        err.write(f"ckptio: error: {sanitize(str(exc))}\n")
    except KeyboardInterrupt:
        err.write("ckptio: interrupted\n")
        return 130
    return 1


# API spellings in library messages, and what the command line calls them.
_CLI_WORDS = (
    ("pass overwrite=True", "pass --overwrite"),
    ("unsupported='skip'", "--skip-unsupported"),
    ("allow_lossy_cast=True", "--allow-lossy-cast"),
    ("allow_empty=True", "--allow-empty"),
    ("pass to=", "pass --to"),
    ("update_state is", "--update-state is"),
    ("check the select or rename options", "check --include, --exclude and --map"),
    ("left out by select or rename", "left out by --include, --exclude or --map"),
    ("rename key ", "--map "),
    ("rename scope ", "--map "),
)


def _cli_words(exc: CheckpointError) -> str:
    """The error's text with the API's option names replaced by the CLI's flags."""
    text = str(exc)
    for api, flag in _CLI_WORDS:
        text = text.replace(api, flag)
    return text


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that Python's final flush does not fail again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (tests capture stdout)
        pass


if __name__ == "__main__":  # pragma: no cover - `python -m ckptio` goes through __main__
    sys.exit(main())
