"""`ckptio ls` lists in the core: natural order, totals and the JSON text come from one pass over
the index. Checked against the Python listing it replaced (the maps, sorted by the tuple key of
`cli._natural`), on names chosen to tell orders apart."""

from __future__ import annotations

import json
import math
import random
import re

import ckptio
import numpy as np
import pytest
from ckptio import cli
from ckptio._core import natural_order
from cli_runner import run, run_json


def natural(name: str) -> tuple:
    """The reference sort key: digit runs (Unicode decimals, as re and int() take them) compare
    as numbers, the text between them as strings."""
    parts = re.split(r"(\d+)", name)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


TRICKY = [
    *("a1", "a!", "a", "a0", "a00", "a01", "a001", "a1b", "a10", "a2", "a02", "a1!", "a1a"),
    *("", "0", "00", "1", "b", "B", "~", "\x00", "\x01", "\x7f", "/", "a/1", "a/01/x"),
    *("é1", "é10", "é2", "\xff", "\xfe1", "ÿ1", "Ā1", "\ufffe", "\uffff", "\uffff2"),
    *("x\u0661\u0662", "x3", "x\uff11\uff11", "x\U0001d7cf\U0001d7ce", "x\u0967", "x12"),
    *("lone\udc80", "\udcff9", "\udc80\udc8010", "😀2", "😀10", "\U0010ffff", "\U0010fffe1"),
    *("z" + "9" * 30, "z" + "9" * 29 + "8", "z" + "1" * 20, "z" + "0" * 40 + "7", "z7"),
]
ALPHABET = "ab/_!0123456789\u0661\u0669\U0001d7ce\xe9\udc80"


def reference_order(names: list[str], sizes: list[int] | None = None) -> list[int]:
    if sizes is None:
        return sorted(range(len(names)), key=lambda i: natural(names[i]))
    return sorted(range(len(names)), key=lambda i: (-sizes[i], natural(names[i])))


def test_natural_order_matches_the_tuple_key() -> None:
    for names in (TRICKY, TRICKY[::-1], sorted(TRICKY)):
        assert natural_order(names) == reference_order(names)
        sizes = [len(n) % 3 for n in names]  # ties, so the names decide within each size
        assert natural_order(names, sizes) == reference_order(names, sizes)
    assert cli._natural("a/10b") == natural("a/10b")
    assert natural_order([]) == []


def test_natural_order_on_random_names() -> None:
    rng = random.Random(11)
    for _ in range(200):
        names = [
            "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(8)))
            for _ in range(rng.randrange(1, 60))
        ]
        assert natural_order(names) == reference_order(names), names
        sizes = [rng.choice((0, 1, 2**64 - 1)) for _ in names]
        assert natural_order(names, sizes) == reference_order(names, sizes), names


def test_natural_order_leaves_what_it_cannot_compare_to_python() -> None:
    long_run = "x" + "1" * 700  # int() has a digit limit: Python decides what happens
    assert natural_order(["a", long_run]) is None
    assert natural_order(["a", "b"], [1, 2**64]) is None  # past 64 bits
    assert natural_order(["a", "b"], [1, -1]) is None
    with pytest.raises(TypeError):
        natural_order([b"a"])
    with pytest.raises(ValueError):
        natural_order(["a"], [1, 2])


def expected_listing(source, names: list[str] | None, by_size: bool) -> dict:
    """What `ls --json` printed before the core listed: the maps, sorted in Python."""
    if names is None:
        names = list(source)
    shapes, dtypes, sizes = source.shapes(), source.dtype_names(), cli._sizes(source)
    rows = [(n, dtypes[n], shapes[n], sizes[n]) for n in names]
    if by_size:
        rows.sort(key=lambda row: (-row[3], natural(row[0])))
    else:
        rows.sort(key=lambda row: natural(row[0]))
    return {
        "tensors": [{"name": n, "dtype": d, "shape": list(s), "nbytes": b} for n, d, s, b in rows],
        "totals": {
            "tensors": len(rows),
            "parameters": sum(math.prod(row[2]) for row in rows),
            "nbytes": sum(row[3] for row in rows),
        },
    }


def check_ls(capsys, prefix: str, *options: str, source=None, names=None) -> None:
    """`ls --json` (bytes and content) and plain `ls` (order and totals) against the reference."""
    for by_size in (False, True):
        sort = ("--sort", "size") if by_size else ()
        status, text, err = run(capsys, "ls", prefix, *options, *sort, "--json")
        assert status == 0, err
        data = json.loads(text)
        assert text == json.dumps(data, ensure_ascii=True) + "\n"
        with ckptio.open(prefix) as ckpt:
            want = expected_listing(source(ckpt) if source else ckpt, names, by_size)
        assert data["tensors"] == want["tensors"]
        assert data["totals"] == want["totals"]
        status, text, err = run(capsys, "ls", prefix, *options, *sort)
        assert status == 0, err
        lines = text.splitlines()
        shown = [cli.sanitize(t["name"]) for t in want["tensors"]]
        assert [line[: len(n)] for line, n in zip(lines[1:-1], shown)] == shown
        count, params = want["totals"]["tensors"], want["totals"]["parameters"]
        assert lines[-1].startswith(f"{count} tensors, {params:,} parameters, ")


@pytest.fixture
def tricky(tmp_path) -> str:
    names = [n for n in TRICKY if n] + ["w" + "3" * 700, "w" + "3" * 699]
    rng = np.random.default_rng(1)
    tensors = {n: np.zeros(rng.integers(0, 4, size=i % 3), np.float32) for i, n in enumerate(names)}
    tensors["strings"] = np.array([b"a", b"bc"], dtype=object)
    return ckptio.save(str(tmp_path / "tricky"), tensors)


def test_ls_lists_as_before(capsys, tricky, tmp_path) -> None:
    check_ls(capsys, tricky)  # a 700-digit run: listed through Python's sort
    ascii_only = {f"m/layer_{i}/k{i % 3}": np.zeros((i % 4, 2), np.int8) for i in range(40)}
    prefix = ckptio.save(str(tmp_path / "ascii"), ascii_only)
    check_ls(capsys, prefix)  # the core writes JSON from the keys' bytes
    names = [n for n in ascii_only if n.endswith("k1") and "layer_1" in n]
    check_ls(capsys, prefix, "--include", r"m/layer_1\d*/k1", names=names)
    status, _, _ = run(capsys, "ls", prefix, "--include", "nothing-matches")
    assert status == 2


def test_ls_lists_tf_checkpoints_as_before(capsys, tf_checkpoints) -> None:
    for name in ("partitioned", "sharded_slices", "strings", "tf1_saver", "v1_saver"):
        check_ls(capsys, tf_checkpoints(name))
    prefix = tf_checkpoints("tf1_saver")
    with ckptio.open(prefix) as ckpt:
        kept = list(ckptio.select(ckpt, drop="training_state"))
    check_ls(
        capsys,
        prefix,
        "--drop",
        "training-state",
        names=[n for n in ckpt_names(prefix) if n in kept],
    )
    tf2 = tf_checkpoints("tf2_checkpoint")
    check_ls(
        capsys,
        tf2,
        "--names",
        "full_name",
        source=lambda c: ckptio.object_graph(c).view(names="full_name"),
    )
    assert run_json(capsys, "ls", tf2)["totals"]["tensors"] > 0


def ckpt_names(prefix: str) -> list[str]:
    with ckptio.open(prefix) as ckpt:
        return list(ckpt)


def test_listing_method(tricky) -> None:
    with ckptio.open(tricky) as ckpt:
        names = [n for n in ckpt if n.startswith("a")]
        count, params, nbytes, rows = ckpt.listing(names)
        want = expected_listing(ckpt, names, False)
        assert [r[0] for r in rows] == [t["name"] for t in want["tensors"]]
        assert (count, params, nbytes) == tuple(want["totals"].values())
        assert all(r[2] == tuple(t["shape"]) for r, t in zip(rows, want["tensors"]))
        assert ckpt.listing(None) is None  # the 700-digit name: Python sorts
        with pytest.raises(ckptio.NotFoundError):
            ckpt.listing(["no/such/tensor"])


def test_parser_of_one_command_is_the_full_parsers(monkeypatch) -> None:
    """`main` builds the options of the command run only: each command's parser (its help
    text) and the top level are the same as in the full parser."""
    monkeypatch.setenv("COLUMNS", "100")
    full = cli._parser()
    commands = next(a for a in full._actions if a.dest == "command").choices
    assert {"ls", "show", "diff", "convert"} <= set(commands)
    for name, sub in commands.items():
        only = cli._parser(name)
        assert only.format_help() == full.format_help()
        alone = next(a for a in only._actions if a.dest == "command").choices
        assert alone[name].format_help() == sub.format_help()
        assert set(alone) == set(commands)
