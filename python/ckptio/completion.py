"""Tab completion for the ``ckptio`` command, through argcomplete (``pip install
'ckptio[completion]'``).

The command calls `autocomplete` only when the shell asks for completions (argcomplete sets
``_ARGCOMPLETE``), so an ordinary run neither imports argcomplete nor pays for it. Subcommands
and options complete from the parser; checkpoint paths as files; tensor names (``ckptio show
CKPT <TAB>``) from the checkpoint's index, for local checkpoints (a URL would mean a network
round trip on every key press).

Enable it once per shell (bash; zsh with ``bashcompinit``)::

    eval "$(register-python-argcomplete ckptio)"
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["autocomplete", "tensor_names"]

# Positional arguments that name a tensor of the checkpoint given by `path`.
_TENSOR_ARGUMENTS = {"name"}


def tensor_names(prefix: str, parsed_args: argparse.Namespace, **_: Any) -> list[str]:
    """Names in the checkpoint ``parsed_args.path`` starting with `prefix` (argcomplete's
    completer interface). Nothing (rather than an error) when the checkpoint cannot be read:
    a shell completion must never print a traceback."""
    from .errors import CheckpointError
    from .paths import is_url
    from .reader import open as open_checkpoint

    path = getattr(parsed_args, "path", None)
    if not path or is_url(path):
        return []
    try:
        with open_checkpoint(path) as ckpt:
            return [name for name in ckpt if name.startswith(prefix)]
    except (CheckpointError, OSError, ValueError):
        return []


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found: list[argparse.ArgumentParser] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.extend(action.choices.values())
    return found


def autocomplete(parser: argparse.ArgumentParser) -> None:
    """Answer the shell's completion request and exit, when there is one (argcomplete)."""
    try:
        import argcomplete
    except ImportError:  # completion was registered but the extra is gone: complete nothing
        return
    for sub in _subparsers(parser):
        for action in sub._actions:
            if not action.option_strings and action.dest in _TENSOR_ARGUMENTS:
                action.completer = tensor_names  # type: ignore[attr-defined]
    argcomplete.autocomplete(parser)
