"""Shell completion through argcomplete, driven as a shell drives it: a fresh `ckptio` process
with COMP_LINE / COMP_POINT / _ARGCOMPLETE set, completions read back from a file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import ckptio
import pytest

pytest.importorskip("argcomplete", reason="argcomplete is not installed (ckptio[completion])")

ROOT = Path(__file__).resolve().parents[1]
TINY = "examples/data/tiny_convnet"


def complete(line: str, tmp_path: Path) -> list[str]:
    """What `ckptio` offers for the command line `line` with the cursor at its end."""
    out = tmp_path / "completions"
    env = dict(os.environ)
    env.update(
        _ARGCOMPLETE="1",
        _ARGCOMPLETE_IFS="\n",
        _ARGCOMPLETE_STDOUT_FILENAME=str(out),
        COMP_LINE=line,
        COMP_POINT=str(len(line)),
        PYTHONPATH=os.pathsep.join(
            [str(Path(ckptio.__file__).parents[1]), env.get("PYTHONPATH", "")]
        ),
    )
    env.pop("_ARGCOMPLETE_SUPPRESS_SPACE", None)
    result = subprocess.run(
        [sys.executable, "-m", "ckptio"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "", "completion must not print to stdout"
    return sorted(c.strip() for c in out.read_text().split("\n") if c.strip())


def test_subcommands_complete(tmp_path):
    assert {"ls", "show", "verify", "convert", "rewrite"} <= set(complete("ckptio ", tmp_path))
    assert complete("ckptio ver", tmp_path) == ["verify"]


def test_options_complete(tmp_path):
    assert "--sort" in complete("ckptio ls x --s", tmp_path)


def test_checkpoint_paths_complete_as_files(tmp_path):
    assert complete("ckptio ls examples/data/tiny_", tmp_path) == [
        "examples/data/tiny_bert/",
        f"{TINY}/",
    ]


def test_tensor_names_complete_from_the_checkpoint(tmp_path):
    with ckptio.open(ROOT / TINY) as ckpt:
        expected = sorted(n for n in ckpt if n.startswith("convnet/conv1/"))
    assert len(expected) >= 2
    assert complete(f"ckptio show {TINY} convnet/conv1/", tmp_path) == expected
    assert complete(f"ckptio show {TINY} global_", tmp_path) == ["global_step"]


def test_unreadable_checkpoint_completes_nothing(tmp_path):
    assert complete("ckptio show no/such/checkpoint conv", tmp_path) == []


def test_plain_run_does_not_import_argcomplete():
    code = (
        "import sys\nfrom ckptio import cli\ncli.main(['--version'])\n"
        "print('argcomplete' in sys.modules, 'ckptio.completion' in sys.modules)"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(ckptio.__file__).parents[1]))
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.stdout.strip().splitlines()[-1] == "False False"
