# PYTHON_ARGCOMPLETE_OK  (argcomplete: this command supports tab completion)
"""The ``ckptio`` command: list, inspect, compare, verify, convert and rewrite checkpoints.

    ckptio ls CKPT [--include RE] [--exclude RE] [--drop training-state] [--sort name|size]
                   [--names key|path|full_name] [--json]
    ckptio show CKPT NAME [--slice 0:2,...] [--precision N] [--full] [--names ...] [--json]
    ckptio show CKPT NAME --hist [--bins N] [--plot out.png]
    ckptio show CKPT --all [--json]
    ckptio tree CKPT [--scopes] [--names ...] [--json]
    ckptio diff A B [--include RE] [--exclude RE] [--names ...] [--no-values] [--stats]
                   [--plot out.png] [--exit-code] [--json]
    ckptio verify CKPT [--json]
    ckptio convert CKPT OUT [--to safetensors|npz|pt] [--map OLD=NEW] [--cast DTYPE]
                   [--names key|path|full_name] [--layout torch] [--skip-unsupported]
                   [--recipe hf-bert|hf-gpt2|hf-t5|hf-albert|hf-electra] [--map-re RE=REPL]
                   [--drop training-state] [--layout-rule RE=STEPS]
                   [--verify] [--overwrite] [--json]
    ckptio rewrite SRC DST [--map OLD=NEW] [--include RE] [--exclude RE] [--cast DTYPE]
                   [--dry-run] [--overwrite] [--update-state] [--json]
    ckptio merge OUT SRC[::include=RE][::exclude=RE][::map=OLD=NEW] [SRC...]
                   [--include RE] [--exclude RE] [--map OLD=NEW] [--prefer first|last]
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
import functools
import json
import math
import os
import re
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Callable, TextIO

from . import __version__
from ._names import did_you_mean
from .checkpoint import human_bytes
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
    return human_bytes(nbytes, group_digits=False)


def _shape(shape: Sequence[int]) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


def _number(value: float) -> float | str:
    """A float for JSON: non-finite values as strings (JSON has no NaN or Infinity)."""
    value = float(value)
    return value if math.isfinite(value) else str(value)


def _json_text(obj: Any) -> str:
    # ASCII-only: names that were not UTF-8 (lone surrogates) stay representable. `dumps` in one
    # piece and no indent: json's C encoder is used only then (`dump` streams in pure Python,
    # ten times slower on a 20,000-key listing).
    # No cycle check: the objects are fresh trees (it costs a dict insert per container).
    return json.dumps(obj, ensure_ascii=True, allow_nan=False, check_circular=False)


def _dump_json(obj: Any, out: TextIO) -> None:
    out.write(_json_text(obj) + "\n")


class Progress:
    """Progress of a long command on stderr, drawn only when stderr is a terminal: in bytes,
    with the rate and the time left, when it knows the `sizes` of the tensors, else in items.

    Call it as ``progress(done, total, name)`` (the callback protocol of `convert`, `rewrite`
    and `merge`): with `sizes` ({name: bytes}) each call advances by the size of `name`.
    `total` (bytes) may exceed the sum of `sizes` when work follows that is not reported
    tensor by tensor (writing, verifying): the bar then reaches its end only at `finish`, so it
    never sits at 100% while work goes on. It draws with tqdm when installed (``ckptio[progress]``),
    else with a plain line; it erases itself on `close` (or at the end of a ``with`` block).
    """

    def __init__(
        self,
        label: str,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        *,
        sizes: Mapping[str, int] | None = None,
        total: int | None = None,
        use_tqdm: bool | None = None,
    ):
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.sizes = sizes
        self.total = total if total is not None else (sum(sizes.values()) if sizes else None)
        self.position = 0
        self._reported = 0  # items reported through __call__
        self._start = time.monotonic()
        self._last = 0.0
        self._width = 0
        self._bar: Any = None
        if self.enabled and use_tqdm is not False:
            try:
                from tqdm import tqdm
            except ImportError:
                if use_tqdm:
                    raise
            else:
                counts_bytes = self.sizes is not None
                self._bar = tqdm(
                    total=self.total,
                    desc=label,
                    file=self.stream,
                    leave=False,
                    dynamic_ncols=True,
                    mininterval=0.1,
                    unit="B" if counts_bytes else " tensors",
                    unit_scale=counts_bytes,
                    unit_divisor=1024,
                )

    def __call__(self, done: int, total: int, name: str = "") -> None:
        if not self.enabled:
            return
        if self.sizes is None:
            self.total = total
            self.advance(done - self.position, name)
        else:
            self._reported = done
            self.advance(self.sizes.get(name, 0), name)

    def advance(self, amount: int, name: str = "") -> None:
        """Count `amount` more (bytes, or items without `sizes`) done, working on `name`."""
        if not self.enabled:
            return
        self.position += amount
        if self._bar is not None:
            if self._bar.total != self.total:
                self._bar.total = self.total
            self._bar.set_postfix_str(sanitize(name)[:40], refresh=False)
            self._bar.update(amount)
            return
        now = time.monotonic()
        if now - self._last < 0.1 and (self.total is None or self.position < self.total):
            return
        self._last = now
        self._draw(name)

    def phase(self, label: str) -> None:
        """Name the step now under way (``convert: writing``)."""
        self.label = label
        if self._bar is not None:
            self._bar.set_description_str(label)
        elif self.enabled:
            self._draw("")

    def finish(self) -> None:
        """The work is done: fill the bar (then `close` erases it)."""
        if self.enabled and self.total is not None and self.position < self.total:
            self.advance(self.total - self.position)

    def _draw(self, name: str) -> None:
        total = self.total or 0
        filled = 24 * min(self.position, total) // total if total else 24
        line = f"{self.label} [{'#' * filled}{'.' * (24 - filled)}] "
        if self.sizes is None:
            line += f"{self.position}/{total} "
        else:
            elapsed = max(time.monotonic() - self._start, 1e-9)
            rate = self.position / elapsed
            left = (total - self.position) / rate if rate > 0 else math.inf
            eta = f"{int(left) // 60}:{int(left) % 60:02d} left" if math.isfinite(left) else "?"
            line += f"{_human(self.position)}/{_human(total)} {_human(int(rate))}/s {eta} "
        line += sanitize(name)[:40]
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
        self._width = max(self._width, len(line))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
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


# --------------------------------------------------------------------------- names, ls


def _natural(name: str) -> tuple[Any, ...]:
    """Sort key putting `_variables/2` before `_variables/10`: digit runs compare as numbers."""
    parts = re.split(r"(\d+)", name)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


def _named(ckpt: Checkpoint, names: str | None) -> Any:
    """The checkpoint under `--names`: itself for keys, else a view of a TF2 checkpoint under
    the object paths or the TF1-style full names its object graph records."""
    if names in (None, "key"):
        return ckpt
    from .restore.objgraph import object_graph

    return object_graph(ckpt).view(names=names)


def _sizes(source: Any) -> dict[str, int]:
    """{name: stored bytes} of a checkpoint or a view of one."""
    nbytes = getattr(source, "checkpoint", source).nbytes()
    key = getattr(source, "key", None)
    return {name: nbytes[key(name) if key else name] for name in source}


_DROP_PRESETS = (
    "training-state",
    "optimizer",
    "global-step",
    "ema",
    "object-graph",
    "save-counter",
)


def _dropped(source: Any, presets: list[str] | None) -> set[str]:
    """The names `--drop` presets leave out (`ckptio.select` presets; '-' for '_')."""
    if not presets:
        return set()
    from .restore.selection import select

    chosen = select(source, drop=[p.replace("-", "_") for p in presets])
    return set(chosen.dropped)


def _terminal_width(out: TextIO) -> int | None:
    """Columns of the terminal `out` writes to (COLUMNS wins), None when it is no terminal."""
    isatty = getattr(out, "isatty", None)
    if not (isatty and isatty()):
        return None
    import shutil

    return shutil.get_terminal_size().columns


def _middle(text: str, width: int) -> str:
    """`text` shortened to `width` characters by replacing its middle with '…'."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    head = width // 2
    tail = width - 1 - head
    return text[:head] + "…" + (text[-tail:] if tail else "")


def _natural_sorted(rows: list[tuple[Any, ...]], by_size: bool) -> list[tuple[Any, ...]]:
    """Rows (name first, stored bytes last) in natural name order, by descending size first
    when `by_size`: ordered in the core, in Python where the core cannot (huge digit runs)."""
    from ._core import natural_order

    sizes = [row[-1] for row in rows] if by_size else None
    order = natural_order([row[0] for row in rows], sizes)
    if order is not None:
        return [rows[i] for i in order]
    if by_size:
        return sorted(rows, key=lambda row: (-row[-1], _natural(row[0])))
    return sorted(rows, key=lambda row: _natural(row[0]))


def _listing(
    source: Any, names: list[str] | None, by_size: bool, as_json: bool
) -> tuple[int, int, int, Any]:
    """(tensors, parameters, stored bytes, listing) for `ls`, the listing in natural order:
    the JSON tensors array (`as_json`) or (name, dtype, shape, bytes) rows. A checkpoint
    lists itself in the core; views (`--names path`) and names the core cannot order go
    through the maps."""
    if isinstance(source, Checkpoint):
        listing = source.listing(names, by_size=by_size, as_json=as_json)
        if listing is not None:
            return listing
    if names is None:
        names = list(source)
    shapes, dtypes, sizes = source.shapes(), source.dtype_names(), _sizes(source)
    rows = _natural_sorted([(n, dtypes[n], shapes[n], sizes[n]) for n in names], by_size)
    parameters = sum(math.prod(row[2]) for row in rows)
    total = sum(row[3] for row in rows)
    if not as_json:
        return len(rows), parameters, total, rows
    from ._core import ls_json_tensors

    # Byte for byte what _dump_json would write for [{"name", "dtype", "shape", "nbytes"}, ...].
    return len(rows), parameters, total, ls_json_tensors([(*r[:3], 0, r[3]) for r in rows])


def cmd_ls(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    with open_checkpoint(args.path) as ckpt:
        # Everything here comes from the index alone (no numpy, no tensor data).
        source = _named(ckpt, args.names)
        names: list[str] | None = None  # every tensor, unless a pattern or preset selects
        choose = _selector(args.include, args.exclude)
        if choose is not None or args.drop:
            names = list(source) if choose is None else choose(source)
            drop = _dropped(source, args.drop)
            names = [n for n in names if n not in drop]
        count, parameters, total, listing = _listing(source, names, args.sort == "size", args.json)
        fmt, path = ckpt.format, ckpt.path
    if args.json:
        totals = {"tensors": count, "parameters": parameters, "nbytes": total}
        head = _json_text({"path": path, "format": fmt})[:-1]
        out.write(f'{head}, "tensors": {listing}, "totals": {_json_text(totals)}}}\n')
        return 0
    rows = listing
    header = ("NAME", "DTYPE", "SHAPE", "SIZE")
    shown = [header, *((sanitize(n), d, _shape(s), _human(b)) for n, d, s, b in rows)]
    widths = [max(len(row[i]) for row in shown) for i in range(4)]
    columns = _terminal_width(out)
    if columns is not None:  # a terminal: shorten long names in the middle, never wrap a row
        rest = sum(widths[1:]) + 6
        widths[0] = min(widths[0], max(columns - rest, 12))
        shown = [(_middle(n, widths[0]), *others) for n, *others in shown]
    lines = [
        f"{n:<{widths[0]}}  {d:<{widths[1]}}  {s:<{widths[2]}}  {b:>{widths[3]}}"
        for n, d, s, b in shown
    ]
    totals = f"{count} tensors, {parameters:,} parameters, {_human(total)} ({fmt} "
    shown_path = sanitize(path)
    if columns is not None:  # (the path shortened rather than the numbers)
        shown_path = _middle(shown_path, max(columns - len(totals) - 1, 8))
        lines = [_middle(line.rstrip(), columns) for line in lines]
    lines.append(
        _middle(f"{totals}{shown_path})", columns) if columns else f"{totals}{shown_path})"
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
        with np.errstate(invalid="ignore"):  # (ml_dtypes warns casting its NaN payloads)
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


def _other_forms(ckpt: Checkpoint, name: str, skip: str | None) -> list[tuple[str, Any]]:
    """[(names form, view)] of the TF2 name forms other than `skip` in which `name` exists."""
    from .errors import NotFoundError

    found = []
    for how in ("key", "path", "full_name"):  # (a full_name view shows paths it cannot name)
        if how == (skip or "key"):
            continue
        try:
            view = _named(ckpt, how)
        except NotFoundError:  # a TF1 checkpoint: keys are its only names
            return found
        if name in view:
            found.append((how, view))
    return found


def _resolve(ckpt: Checkpoint, name: str, names: str | None) -> tuple[Any, str | None]:
    """(the checkpoint or view that holds `name`, the names form it was found under when
    `--names` was not given and `name` is no key), or an error with a hint."""
    source = _named(ckpt, names)
    if name in source:
        return source, None
    others = _other_forms(ckpt, name, names)
    if names is None and others:  # a friendly name given directly
        how, view = others[0]
        return view, how
    if others:
        how, view = others[0]
        hint = "drop --names" if how == "key" else f"pass --names {how}"
        raise UsageError(
            f"no tensor {name!r} among the {names} names, but it is a {how} name; {hint}",
            file=ckpt.path,
        )
    candidates = list(source)
    if names is None:  # suggest friendly names too
        from .errors import NotFoundError

        try:
            candidates += [*_named(ckpt, "full_name"), *_named(ckpt, "path")]
        except NotFoundError:
            pass
    hint = did_you_mean(name, candidates)
    raise CheckpointError("no such tensor" + hint, ckpt.path, name)


def _read(source: Any, name: str) -> Any:
    import numpy as np

    return np.asarray(source.get_tensor(name))


def cmd_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import numpy as np

    if args.all:
        if args.name is not None or args.slice is not None or args.hist:
            raise UsageError("show --all takes no NAME, --slice or --hist")
        return _show_all(args, out, err)
    if args.name is None:
        raise UsageError("show needs a tensor NAME, or --all for every tensor")
    if args.plot and not args.hist:
        raise UsageError("--plot draws the histogram: add --hist")
    with open_checkpoint(args.path) as ckpt:
        source, found_as = _resolve(ckpt, args.name, args.names)
        name = args.name
        info = source.info(name)
        if not _readable(info.dtype_name, info.dtype_name):
            raise CheckpointError(f"{info.dtype_name} tensors hold no values", ckpt.path, name)
        if args.slice is not None:
            value = _sliced(source, name, args.slice)
        else:
            value = _read(source, name)
        value = np.asarray(value)
    stats = _stats(value)
    if args.hist:
        return _show_hist(args, name, info, value, stats, out)
    threshold = sys.maxsize if args.full else args.threshold
    if args.json:
        report: dict[str, Any] = {
            "name": name,
            "key": info.name,
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
    lines = [f"name:  {sanitize(name)}"]
    if info.name != name:
        how = found_as or args.names
        lines[0] += f"  ({how}; key {sanitize(info.name)})"
    lines.append(
        f"dtype: {info.dtype_name}    shape: {_shape(info.shape)}    "
        f"size: {math.prod(info.shape):,} ({_human(info.nbytes)})"
    )
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


def _head(value: Any, count: int, precision: int) -> tuple[list[str], list[Any]]:
    """The first `count` values in reading order: as text, and for JSON."""
    import numpy as np

    flat = value.reshape(-1)[:count]
    if value.dtype == object:
        texts = [repr(x if len(x) <= 24 else x[:24] + b"...") for x in flat.tolist()]
        return texts, _json_values(np.array([x[:64] for x in flat.tolist()], dtype=object))
    with np.printoptions(precision=precision):
        texts = [np.array2string(np.asarray(x), separator=", ") for x in flat]
    return texts, _json_values(flat)


def _show_all(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`show --all`: every tensor with its dtype, shape, statistics and first values."""
    import numpy as np

    count = max(args.edgeitems * 2, 1)
    report, lines = [], []
    with open_checkpoint(args.path) as ckpt:
        source = _named(ckpt, args.names)
        names = sorted(source, key=_natural)
        sizes = _sizes(source)
        dtypes, shapes = source.dtype_names(), source.shapes()
        with Progress("show", err, sizes=sizes) as progress:
            for name in names:
                entry: dict[str, Any] = {
                    "name": name,
                    "dtype": dtypes[name],
                    "shape": list(shapes[name]),
                    "nbytes": sizes[name],
                }
                head = f"{sanitize(name)}  {dtypes[name]} {_shape(shapes[name])}  "
                head += _human(sizes[name])
                lines.append(head)
                if _readable(dtypes[name], dtypes[name]):
                    value = _read(source, name)
                    entry["stats"] = _stats(value)
                    with np.errstate(invalid="ignore"):  # (ml_dtypes casting NaN payloads)
                        texts, entry["values"] = _head(value, count, args.precision)
                    more = value.size - len(texts)
                    stats = "  ".join(f"{k} {_stat_text(v)}" for k, v in entry["stats"].items())
                    if stats:
                        lines.append("    " + stats)
                    values = ", ".join(texts) + (f", ... ({more:,} more)" if more else "")
                    lines.append(f"    [{values}]")
                report.append(entry)
                progress(0, 0, name)
            progress.finish()
    if args.json:
        _dump_json({"path": ckpt.path, "tensors": report}, out)
        return 0
    # Bounded output per tensor: every line clipped to --linewidth.
    width = args.linewidth
    out.write("\n".join(sanitize(_middle(line, width)) for line in lines) + "\n")
    return 0


_EIGHTHS = " ▏▎▍▌▋▊▉█"


def _bar(count: int, largest: int, width: int) -> str:
    """A horizontal bar of Unicode blocks, `count/largest` of `width` cells (eighths)."""
    eighths = round(8 * width * count / largest) if largest else 0
    if count and not eighths:
        eighths = 1  # a non-empty bin is never invisible
    return "█" * (eighths // 8) + (_EIGHTHS[eighths % 8] if eighths % 8 else "")


def _histogram(value: Any, bins: int) -> dict[str, Any]:
    """Counts of the finite values in `bins` equal bins, and the zeros, NaN and infinities."""
    import numpy as np

    if value.dtype == object:
        raise UsageError("--hist needs numbers; this tensor holds strings")
    if value.dtype.kind == "c":
        value = np.abs(value)
    with np.errstate(invalid="ignore"):  # (ml_dtypes warns casting its NaN payloads)
        data = value.reshape(-1).astype(np.float64)
    nan, inf = np.isnan(data), np.isinf(data)
    finite = data[~(nan | inf)]
    counts, edges = np.histogram(finite, bins=bins) if finite.size else ([], [])
    return {
        "values": int(data.size),
        "zeros": int(np.count_nonzero(finite == 0)),
        "nan": int(nan.sum()),
        "inf": int(inf.sum()),
        "counts": [int(c) for c in counts],
        "edges": [float(e) for e in edges],
    }


def _show_hist(
    args: argparse.Namespace, name: str, info: Any, value: Any, stats: dict, out: TextIO
) -> int:
    hist = _histogram(value, args.bins)
    if args.plot:
        _plot_histogram(hist, name, args.plot)
    if args.json:
        _dump_json({"name": name, "key": info.name, "stats": stats, "histogram": hist}, out)
        return 0
    lines = [
        f"{sanitize(name)}  {info.dtype_name} {_shape(info.shape)}: {hist['values']:,} values, "
        f"zeros {hist['zeros']:,}  nan {hist['nan']:,}  inf {hist['inf']:,}"
    ]
    counts, edges = hist["counts"], hist["edges"]
    lows = [f"{edge:.4g}" for edge in edges[:-1]]
    highs = [f"{edge:.4g}" for edge in edges[1:]]
    low_w = max(map(len, lows), default=0)
    high_w = max(map(len, highs), default=0)
    labels = [
        f"[{low:>{low_w}}, {high:>{high_w}}{')' if i < len(counts) - 1 else ']'}"
        for i, (low, high) in enumerate(zip(lows, highs))
    ]
    width = max((len(label) for label in labels), default=0)
    largest = max(counts, default=0)
    digits = len(f"{largest:,}")
    for label, count in zip(labels, counts):
        lines.append(f"{label:>{width}} {count:>{digits},} {_bar(count, largest, 40)}")
    if not counts:
        lines.append("(no finite values)")
    if args.plot:
        lines.append(f"wrote {sanitize(args.plot)}")
    out.write("\n".join(lines) + "\n")
    return 0


def _pyplot() -> Any:
    """matplotlib's pyplot on a file-only backend, or ImportError saying how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError(
            "--plot needs matplotlib: pip install 'ckptio[plot]' (or matplotlib)"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_histogram(hist: dict[str, Any], name: str, path: str) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    edges = hist["edges"]
    if edges:
        ax.stairs(hist["counts"], edges, fill=True)
    ax.set_title(name)
    ax.set_xlabel("value")
    ax.set_ylabel("count")
    notes = f"zeros {hist['zeros']:,}   nan {hist['nan']:,}   inf {hist['inf']:,}"
    ax.text(0.99, 0.97, notes, transform=ax.transAxes, ha="right", va="top")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


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
    from .restore.objgraph import OBJECT_GRAPH_KEY, object_graph

    with open_checkpoint(args.path) as ckpt:
        if OBJECT_GRAPH_KEY not in ckpt or args.scopes or args.names:
            return _scope_tree(_named(ckpt, args.names), args, out)
        graph = object_graph(ckpt)
        shapes, dtypes = ckpt.shapes(), ckpt.dtype_names()
        if args.json:
            _dump_json(_graph_json(graph, shapes, dtypes), out)
        else:
            text = graph.tree(describe=lambda key: f"{dtypes[key]} {_shape(shapes[key])}")
            out.write(_lines(text) + "\n")
    return 0


def _graph_json(graph: Any, shapes: Mapping[str, Any], dtypes: Mapping[str, str]) -> dict:
    def tensor(a: Any) -> dict[str, Any]:
        entry = {"attribute": a.name, "key": a.checkpoint_key, "full_name": a.full_name}
        if a.checkpoint_key in shapes:
            entry["dtype"] = dtypes[a.checkpoint_key]
            entry["shape"] = list(shapes[a.checkpoint_key])
        return entry

    nodes = []
    for node in graph.nodes:
        nodes.append(
            {
                "id": node.node_id,
                "path": "/".join(graph.paths.get(node.node_id, ())),
                "children": [{"name": name, "node": child} for name, child in node.children],
                "tensors": [tensor(a) for a in node.attributes],
            }
        )
    slots = [{"variable": t.slot_of, "slot": t.slot_name, "key": t.key} for t in graph.slots]
    return {"nodes": nodes, "slots": slots}


class _Scope:
    """A node of the scope hierarchy: sub-scopes, tensors, and the totals under it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.scopes: dict[str, _Scope] = {}
        self.tensors: list[tuple[str, str, tuple[int, ...], int]] = []  # name dtype shape bytes
        self.parameters = 0
        self.nbytes = 0

    def json(self, path: str) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": path,
            "parameters": self.parameters,
            "nbytes": self.nbytes,
            "scopes": [s.json(f"{path}{s.name}/") for s in self.scopes.values()],
            "tensors": [
                {"name": n, "dtype": d, "shape": list(s), "nbytes": b}
                for n, d, s, b in self.tensors
            ],
        }


def _scope_tree(source: Any, args: argparse.Namespace, out: TextIO) -> int:
    """The scope hierarchy of the names (as `h5ls -r` shows groups) with parameter counts and
    bytes per scope."""
    shapes, dtypes, sizes = source.shapes(), source.dtype_names(), _sizes(source)
    root = _Scope("")
    for name in sorted(source, key=_natural):
        parts = name.split("/")
        node, elements = root, math.prod(shapes[name])
        node.parameters += elements
        node.nbytes += sizes[name]
        for part in parts[:-1]:
            node = node.scopes.setdefault(part, _Scope(part))
            node.parameters += elements
            node.nbytes += sizes[name]
        node.tensors.append((parts[-1], dtypes[name], shapes[name], sizes[name]))
    if args.json:
        _dump_json({"path": source.path, **root.json("")}, out)
        return 0
    rows: list[tuple[str, ...]] = [("NAME", "PARAMS", "SIZE", "DTYPE", "SHAPE")]

    def walk(scope: _Scope, depth: int) -> None:
        # Tensors and sub-scopes in one natural order; a tensor before its namesake scope
        # (`weights`, then `weights/` holding its slots).
        entries: list[tuple[Any, ...]] = [(_natural(t[0]), 0, t) for t in scope.tensors]
        entries += [(_natural(name), 1, sub) for name, sub in scope.scopes.items()]
        indent = "  " * depth
        for _, is_scope, item in sorted(entries, key=lambda e: (e[0], e[1])):
            if is_scope:
                size = _human(item.nbytes)
                rows.append((f"{indent}{sanitize(item.name)}/", f"{item.parameters:,}", size))
                walk(item, depth + 1)
            else:
                name, dtype, shape, nbytes = item
                params = f"{math.prod(shape):,}"
                rows.append((indent + sanitize(name), params, _human(nbytes), dtype, _shape(shape)))

    walk(root, 0)
    widths = [max(len(row[i]) for row in rows if len(row) > i) for i in range(4)]
    lines = []
    for row in rows:
        line = f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}"
        if len(row) > 3:
            line += f"  {row[3]:<{widths[3]}}  {row[4]}"
        lines.append(line)
    lines.append(
        f"{sum(1 for _ in source)} tensors, {root.parameters:,} parameters, {_human(root.nbytes)}"
    )
    out.write("\n".join(lines) + "\n")
    return 0


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


def _change(a: Any, b: Any, chunk: int = 1 << 20) -> dict[str, Any] | None:
    """The relative change ||a - b|| / ||a|| (Frobenius norms, over the elements finite in both) and
    the largest absolute difference of two same-shape numeric arrays; None for strings."""
    import numpy as np

    if a.dtype == object or b.dtype == object:
        return None
    wide = np.complex128 if "c" in (a.dtype.kind, b.dtype.kind) else np.float64
    fa, fb = a.reshape(-1), b.reshape(-1)
    norm_a, norm_d, largest = 0.0, 0.0, 0.0
    for i in range(0, fa.size, chunk):
        x, y = fa[i : i + chunk].astype(wide), fb[i : i + chunk].astype(wide)
        both = np.isfinite(x) & np.isfinite(y)
        x, y = x[both], y[both]
        d = np.abs(x - y)
        norm_a += float(np.sum(np.abs(x) ** 2))
        norm_d += float(np.sum(d**2))
        largest = max(largest, float(d.max(initial=0)))
    if norm_d == 0:
        rel = 0.0
    else:
        rel = math.sqrt(norm_d) / math.sqrt(norm_a) if norm_a else math.inf
    return {"rel_change": rel, "max_abs_diff": largest}


def cmd_diff(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.plot and args.no_values:
        raise UsageError("--plot draws the value changes: drop --no-values")
    stats_wanted = args.stats or bool(args.plot)
    with open_checkpoint(args.a) as ckpt_a, open_checkpoint(args.b) as ckpt_b:
        ca, cb = _named(ckpt_a, args.names), _named(ckpt_b, args.names)
        names_a, names_b = set(ca), set(cb)
        choose = _selector(args.include, args.exclude)
        if choose is not None:  # (a pattern must match a name of either checkpoint)
            keep = set(choose(sorted(names_a | names_b)))
            names_a, names_b = names_a & keep, names_b & keep
        removed = sorted(names_a - names_b, key=_natural)
        added = sorted(names_b - names_a, key=_natural)
        common = sorted(names_a & names_b, key=_natural)
        shapes_a, shapes_b = ca.shapes(), cb.shapes()
        dtypes_a, dtypes_b = ca.dtype_names(), cb.dtype_names()
        changed: list[dict[str, Any]] = []
        table: list[dict[str, Any]] = []
        identical = 0
        sizes_a, sizes_b = _sizes(ca), _sizes(cb)
        work = {n: sizes_a[n] + sizes_b[n] for n in common} if not args.no_values else None
        with Progress("diff", err, sizes=work) as progress:
            for done, name in enumerate(common, 1):
                entry: dict[str, Any] = {"name": name}
                if dtypes_a[name] != dtypes_b[name]:
                    entry["dtype"] = [dtypes_a[name], dtypes_b[name]]
                if shapes_a[name] != shapes_b[name]:
                    entry["shape"] = [list(shapes_a[name]), list(shapes_b[name])]
                elif not args.no_values and _readable(dtypes_a[name], dtypes_b[name]):
                    a, b = ca[name], cb[name]
                    values = _compare(a, b)
                    if values is not None:
                        entry.update(values)
                    if stats_wanted and (change := _change(a, b)) is not None:
                        table.append({"name": name, **change})
                if len(entry) > 1:
                    changed.append(entry)
                else:
                    identical += 1
                progress(done, len(common), name)
        describe = {
            "removed": [_brief(ca, n, dtypes_a, shapes_a) for n in removed],
            "added": [_brief(cb, n, dtypes_b, shapes_b) for n in added],
        }
        path_a, path_b = ckpt_a.path, ckpt_b.path
    if args.plot:
        _plot_changes(table, path_a, path_b, args.plot)
    if args.json:
        report = {"a": path_a, "b": path_b, **describe, "changed": changed, "identical": identical}
        if stats_wanted:
            report["stats"] = [
                {k: _number(v) if isinstance(v, float) else v for k, v in row.items()}
                for row in table
            ]
        _dump_json(report, out)
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
        if args.stats:
            lines += _stats_table(table)
        if args.plot:
            lines.append(f"wrote {sanitize(args.plot)}")
        out.write("\n".join(lines) + "\n")
    differs = bool(removed or added or changed)
    return 1 if args.exit_code and differs else 0


def _stats_table(table: list[dict[str, Any]]) -> list[str]:
    """The `diff --stats` table: one row per compared tensor, relative change and max diff."""
    rows = [("NAME", "REL CHANGE", "MAX ABS DIFF")]
    rows += [
        (sanitize(r["name"]), f"{r['rel_change']:.3e}", f"{r['max_abs_diff']:.4g}") for r in table
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return [
        "",
        *(f"{n:<{widths[0]}}  {c:>{widths[1]}}  {d:>{widths[2]}}" for n, c, d in rows),
    ]


def _plot_changes(table: list[dict[str, Any]], a: str, b: str, path: str) -> None:
    """A horizontal bar per tensor: its relative change (log scale when it spans decades)."""
    plt = _pyplot()
    names = [r["name"] for r in table]
    changes = [r["rel_change"] for r in table]
    fig, ax = plt.subplots(figsize=(9, max(2.5, 0.3 * len(names) + 1.2)))
    ax.barh(range(len(names)), changes)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel("relative change ||a - b|| / ||a||")
    positive = [c for c in changes if 0 < c < math.inf]
    if positive and max(positive) / min(positive) > 100:
        ax.set_xscale("log")
    ax.set_title(f"{a}  →  {b}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


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
    with open_checkpoint(args.path) as ckpt:
        names = list(ckpt)
        progress = Progress("verify", err, sizes=ckpt.nbytes())
        for done, name in enumerate(names, 1):
            try:
                ckpt.verify(name)
                total += ckpt.info(name).nbytes
            except CheckpointError as exc:
                errors.append(exc)
            progress(done, len(names), name)
        progress.close()
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
    from .convert import recipes

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

    with open_checkpoint(args.path) as ckpt:
        # A TF2 checkpoint under its object paths or TF1-style names with --names.
        source: Any = _named(ckpt, args.names)
        options = _rewrite_options(args, source)
        if args.layout:
            options["layout"] = args.layout
        recipe = _recipe_options(args, source, options)  # UsageError: exit 2 in main()
        if args.compress:
            options["compress"] = True
        # Bytes read, then written (and read back with --verify): the bar fills only when the
        # output is in place. Reading is reported tensor by tensor, the rest as it ends.
        sizes = _sizes(source)
        if "select" in options:
            sizes = {n: b for n, b in sizes.items() if n in options["select"]}
        phases = 3 if args.verify else 2
        with Progress("convert", err, sizes=sizes, total=phases * sum(sizes.values())) as bar:

            def progress(done: int, total: int, name: str) -> None:
                bar(done, total, name)
                if done == total:
                    bar.phase("convert: writing" + (" and verifying" if args.verify else ""))

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
                from .convert.recipes import write_config

                write_config(recipe, args.path, args.output, overwrite=args.overwrite)
            bar.finish()
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
        if not args.dry_run and (ckpt.is_remote or "://" in args.dst):
            # `rewrite` copies stored bytes out of local shards; URLs go through the sharded
            # rewrite (threads in this process), which reads ranges and uploads.
            from .convert.distributed import rewrite as rewrite_sharded

            with Progress("rewrite", err) as progress:  # (reported per data shard written)
                plan = rewrite_sharded(ckpt, args.dst, progress=progress, **options).written
        else:
            chosen = options.get("select")
            sizes = {n: b for n, b in ckpt.nbytes().items() if chosen is None or n in chosen}
            quiet = False if args.dry_run else None  # (a dry run writes nothing)
            with Progress("rewrite", err, quiet, sizes=sizes) as progress:
                plan = rewrite(ckpt, args.dst, dry_run=args.dry_run, progress=progress, **options)
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


# --------------------------------------------------------------------------- merge


def _merge_source(text: str) -> tuple[str, dict[str, list[Any]]]:
    """Parse ``PATH[::include=RE][::exclude=RE][::map=OLD=NEW]...`` (argparse type)."""
    path, *parts = text.split("::")
    options: dict[str, list[Any]] = {"include": [], "exclude": [], "map": []}
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep or key not in options:
            raise argparse.ArgumentTypeError(
                f"{text!r}: expected SRC::include=RE, ::exclude=RE or ::map=OLD=NEW, "
                f"got {'::' + part!r}"
            )
        options[key].append(_mapping(value) if key == "map" else _regex(value))
    if not path:
        raise argparse.ArgumentTypeError(f"{text!r}: the checkpoint path is missing")
    return path, options


def cmd_merge(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from contextlib import ExitStack

    from .writer import merge

    with ExitStack() as stack:
        sources = []
        for path, options in args.sources:
            ckpt = stack.enter_context(open_checkpoint(path))
            chosen = _selector(options["include"], options["exclude"])
            own: dict[str, Any] = {}
            if chosen is not None:
                try:
                    own["select"] = set(chosen(ckpt))
                except UsageError as exc:  # say which source the pattern was given for
                    raise UsageError(f"{path}::{exc.message.replace('--', '', 1)}") from None
            if options["map"]:
                own["rename"] = dict(options["map"])
            sources.append((ckpt, own))
        common: dict[str, Any] = {}
        choose = _selector(args.include, args.exclude)
        if choose is not None:  # (a global pattern must match a name of some source)
            common["select"] = set(choose(sorted({n for c, _ in sources for n in c})))
        if args.map:
            common["rename"] = dict(args.map)
        options = dict(prefer=args.prefer, allow_empty=args.allow_empty, **common)
        plan = merge(args.output, sources, dry_run=True, **options)
        if not args.dry_run:
            by_path = {c.path: c for c, _ in sources}
            sizes = {t: by_path[p].info(n).nbytes for t, (p, n) in plan.items()}
            with Progress("merge", err, sizes=sizes) as progress:
                merge(
                    args.output,
                    sources,
                    overwrite=args.overwrite,
                    update_state=args.update_state,
                    progress=progress,
                    **options,
                )
                progress.finish()
    if args.json:
        tensors = {t: {"source": p, "name": n} for t, (p, n) in plan.items()}
        _dump_json({"dst": args.output, "dry_run": args.dry_run, "tensors": tensors}, out)
        return 0
    lines = []
    if args.verbose or args.dry_run:
        lines += [f"{sanitize(t)} <- {sanitize(p)}: {sanitize(n)}" for t, (p, n) in plan.items()]
    counts: dict[str, int] = {}
    for path, _ in plan.values():
        counts[path] = counts.get(path, 0) + 1
    verb = "would write" if args.dry_run else "wrote"
    froms = ", ".join(f"{n} from {sanitize(p)}" for p, n in counts.items())
    lines.append(f"{verb} {len(plan)} tensors to {sanitize(args.output)} ({froms})")
    out.write("\n".join(lines) + "\n")
    return 0


# --------------------------------------------------------------------------- argument parsing


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line (``ckptio: error: ...``, exit status 2)."""

    def error(self, message: str) -> Any:  # (argparse's signature says NoReturn)
        self.exit(2, f"ckptio: error: {self.prog}: {message} (see '{self.prog} --help')\n")


# On/off options shared by several commands: flag -> help.
_SWITCHES = {
    "--allow-lossy-cast": "cast even where values can be lost (float to int saturates and "
    "truncates)",
    "--allow-empty": "write the output even when no tensor is selected (else an error)",
    "--overwrite": "replace an existing output",
    "--skip-unsupported": "leave out tensors the format cannot hold (strings...) instead of "
    "failing",
    "--compress": "deflate .npz members",
    "--verify": "read the output back and compare; report each cast tensor's largest errors",
}


class _Unbuilt:
    """Stands in for the parser of a command that is not run: its options are never parsed, so
    they are not built (some 90 `add_argument` calls cost more than `ls` lists a checkpoint)."""

    def add_argument(self, *args: Any, **kwargs: Any) -> None:
        return None


def _parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line parser; with `only`, the options of that command alone (every command
    is still known, with its help line)."""
    # argparse looks up the translation of its messages anew for each of the nine parsers built,
    # searching the locale directories every time: 7 ms of a 150 ms `ckptio ls`. A message's
    # translation does not change within a run, so each is looked up once while building.
    translate = argparse._  # type: ignore[attr-defined]
    argparse._ = functools.lru_cache(maxsize=None)(translate)  # type: ignore[attr-defined]
    try:
        return _build_parser(only)
    finally:
        argparse._ = translate  # type: ignore[attr-defined]


def _build_parser(only: str | None) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ckptio",
        description="Read, compare, verify and convert TensorFlow checkpoints, without TensorFlow.",
        epilog="CKPT: a checkpoint prefix, its directory, its .index or .data-* file, or a V1 "
        "file. Exit status: 0 ok, 1 failure, 2 usage error.",
    )
    parser.add_argument("--version", action="version", version=f"ckptio {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, func: Callable[..., int], help: str) -> Any:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(func=func)
        if only is not None and name != only:
            return _Unbuilt()
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

    def names(sub: argparse.ArgumentParser, default: str | None = None) -> None:
        sub.add_argument(
            "--names",
            choices=("key", "path", "full_name"),
            default=default,
            help="TF2 checkpoints: use the object paths or the TF1-style full names recorded "
            "in the object graph instead of the keys (--include/--exclude match these names)",
        )

    def switches(sub: argparse.ArgumentParser, *flags: str | tuple[str, str]) -> None:
        """On/off options: a flag (its help in `_SWITCHES`) or a command's own (flag, help)."""
        for flag in flags:
            name, text = flag if isinstance(flag, tuple) else (flag, _SWITCHES[flag])
            sub.add_argument(name, action="store_true", help=text)

    def maps(sub: argparse.ArgumentParser, help: str) -> None:
        sub.add_argument("--map", action="append", type=_mapping, metavar="OLD=NEW", help=help)

    def renames(sub: argparse.ArgumentParser) -> None:
        scopes(sub)
        maps(sub, "rename a tensor, or a scope when OLD ends with '/' (repeatable)")
        sub.add_argument(
            "--cast",
            type=_dtype,
            metavar="DTYPE",
            help="store floating tensors as DTYPE (e.g. bfloat16); casts that could lose "
            "values (to an integer type...) are refused without --allow-lossy-cast",
        )
        switches(sub, "--allow-lossy-cast", "--allow-empty", "--overwrite")

    sub = command("ls", cmd_ls, "list tensors: name, dtype, shape, size, and totals")
    sub.add_argument("path", metavar="CKPT")
    scopes(sub)
    names(sub)
    sub.add_argument(
        "--drop",
        action="append",
        choices=_DROP_PRESETS,
        help="leave out a kind of tensor: training-state (all of the others), optimizer "
        "slots, global-step, ema, object-graph, save-counter (repeatable)",
    )
    sub.add_argument(
        "--sort",
        choices=("name", "size"),
        default="name",
        help="order of rows (name: natural order, layer_2 before layer_10)",
    )

    sub = command("show", cmd_show, "print one tensor's values and statistics (or --all)")
    sub.add_argument("path", metavar="CKPT")
    sub.add_argument(
        "name",
        metavar="NAME",
        nargs="?",
        help="a key, or in a TF2 checkpoint its full name or object path",
    )
    names(sub)
    switches(
        sub,
        ("--all", "every tensor: dtype, shape, statistics and its first values (2 x --edgeitems)"),
        ("--hist", "a histogram of the values (zeros, NaN, Inf counted)"),
    )
    sub.add_argument("--bins", type=_bounded(1, 1000), default=20, help="histogram bins (20)")
    sub.add_argument(
        "--plot", metavar="PNG", help="with --hist: also draw it to an image (needs matplotlib)"
    )
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

    sub = command(
        "tree",
        cmd_tree,
        "print the scope hierarchy with parameters and bytes per scope, or a TF2 checkpoint's "
        "object graph",
    )
    sub.add_argument("path", metavar="CKPT")
    sub.add_argument(
        "--scopes", action="store_true", help="TF2 checkpoints too: the scopes of the keys"
    )
    names(sub)

    sub = command("diff", cmd_diff, "compare two checkpoints: names, dtypes, shapes and values")
    sub.add_argument("a", metavar="A")
    sub.add_argument("b", metavar="B")
    scopes(sub)
    names(sub)
    switches(
        sub,
        ("--no-values", "compare names, dtypes, shapes"),
        ("--exit-code", "exit with 1 if they differ"),
        (
            "--stats",
            "a table of each tensor's relative change ||a-b||/||a|| and max abs difference",
        ),
    )
    sub.add_argument(
        "--plot", metavar="PNG", help="draw the relative changes to an image (needs matplotlib)"
    )

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
    switches(sub, "--skip-unsupported", "--compress", "--verify")

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

    sub = command("merge", cmd_merge, "write one checkpoint from several (V2 bundle)")
    sub.add_argument("output", metavar="OUT", help="prefix of the new checkpoint")
    sub.add_argument(
        "sources",
        metavar="SRC",
        nargs="+",
        type=_merge_source,
        help="a checkpoint, optionally with its own options: "
        "SRC::include=RE::exclude=RE::map=OLD=NEW (each repeatable)",
    )
    scopes(sub)
    maps(sub, "rename in every source, after its own ::map (repeatable)")
    sub.add_argument(
        "--prefer",
        choices=("first", "last"),
        help="a name in several sources: take it from the first or last (else an error)",
    )
    sub.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    sub.add_argument("-v", "--verbose", action="store_true", help="list every tensor written")
    sub.add_argument("--overwrite", action="store_true", help="replace an existing output")
    sub.add_argument("--update-state", action="store_true", help="update OUT's checkpoint file")
    sub.add_argument(
        "--allow-empty", action="store_true", help="write even when no tensor is selected"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ckptio`` command with `argv` (default: ``sys.argv[1:]``); returns the exit
    status (0 ok, 1 failure, 2 usage error)."""
    out, err = sys.stdout, sys.stderr
    completing = argv is None and "_ARGCOMPLETE" in os.environ
    words = sys.argv[1:] if argv is None else list(argv)
    # Only the command run needs its options (the first word, when it names one).
    parser = _parser(None if completing or not words else words[0])
    if completing:  # the shell asks for completions
        from .completion import autocomplete

        autocomplete(parser)
    try:
        args = parser.parse_args(words)
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
    ("pass prefer='first' or 'last'", "pass --prefer first or --prefer last"),
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
