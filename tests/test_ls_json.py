"""`ckptio ls --json` writes its tensors array in C++: byte-identical to json.dumps."""

from __future__ import annotations

import json

import ckptio
import numpy as np
import pytest
from ckptio import cli
from ckptio._core import ls_json_tensors

NASTY = [
    "plain/name",
    'quote"and\\backslash',
    "ctrl\x00\x01\x1f\x7f\b\f\n\r\t/end",
    "latin é ß and cjk 漢字",
    "astral 😀 \U0010ffff",
    "lone surrogate \udc80\udcff",
    "\u2028\u2029 separators",
    "",
    "~ !#$%&'()*+,-./:;<=>?@[]^_`{|}",
]


def reference(rows: list[tuple]) -> str:
    tensors = [{"name": n, "dtype": d, "shape": s, "nbytes": b} for n, d, s, _, b in rows]
    return json.dumps(tensors, ensure_ascii=True, allow_nan=False, check_circular=False)


def test_matches_json_dumps_on_nasty_names() -> None:
    rows = [
        (name, dtype, shape, 0, nbytes)
        for name, dtype, shape, nbytes in zip(
            NASTY,
            ["float32", "string", "bfloat16", 'd"t', "é", "int8", "x", "y", "z"],
            [(), (1,), (0, 3), (2**40, 7), (1, 2, 3, 4), (2**63 - 1,), (5,), (), (9, 9)],
            [0, 1, 2**64 - 1, 2**70, 12, 3, 4, 5, 6],
        )
    ]
    assert ls_json_tensors(rows) == reference(rows)
    assert ls_json_tensors([]) == reference([]) == "[]"


def test_rejects_what_json_would_not_write_alike() -> None:
    with pytest.raises(TypeError):
        ls_json_tensors([("a", "float32", (1,), 1)])
    with pytest.raises(TypeError):
        ls_json_tensors([(b"a", "float32", (1,), 1, 4)])


def test_cli_output_equals_json_dumps(tmp_path, capsys) -> None:
    prefix = str(tmp_path / "ckpt")
    tensors = {name: np.zeros((len(name) % 3, 2), np.float32) for name in NASTY if name}
    tensors["s"] = np.array([b"x"], dtype=object)
    ckptio.save(prefix, tensors)
    assert cli.main(["ls", "--json", prefix]) == 0
    text = capsys.readouterr().out
    data = json.loads(text)
    assert text == json.dumps(data, ensure_ascii=True) + "\n"
    assert [t["name"] for t in data["tensors"]] == sorted(tensors, key=lambda n: cli._natural(n))
    assert list(data) == ["path", "format", "tensors", "totals"]
