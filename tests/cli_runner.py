"""Running the `ckptio` command in-process, for the CLI tests."""

from __future__ import annotations

import json
import re
from typing import Any

from ckptio.cli import main

ERROR_LINE = re.compile(r"^ckptio: error: [^\n]+\n$")
"""What every user-facing error looks like: one line on stderr."""


def run(capsys: Any, *argv: Any) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``ckptio argv...``."""
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def run_json(capsys: Any, *argv: Any) -> Any:
    """The parsed ``--json`` output of ``ckptio argv...``, which must succeed."""
    status, out, err = run(capsys, *argv, "--json")
    assert status == 0, err
    return json.loads(out)
