"""`convert`: one file in the format its name or `to=` says (`FORMATS`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..errors import UsageError
from .npz import to_npz
from .pipeline import ConversionReport, Source
from .safetensors import to_safetensors
from .torch import save_torch

FORMATS: dict[str, Callable[..., ConversionReport]] = {
    "safetensors": to_safetensors,
    "npz": to_npz,
    "pt": save_torch,
}
"""The file formats `convert` writes, by name."""

_SUFFIXES = {".safetensors": "safetensors", ".npz": "npz", ".pt": "pt", ".pth": "pt"}


def convert(
    src: Source, path: str | os.PathLike[str], to: str | None = None, **options: Any
) -> ConversionReport:
    """Convert `src` into the file `path`, in format `to` ("safetensors", "npz" or "pt"; by
    default from the file name's suffix). `options` are those of the format's function."""
    if to is None:
        to = _SUFFIXES.get(os.path.splitext(os.fspath(path))[1].lower())
        if to is None:
            known = ", ".join(sorted(FORMATS))
            raise UsageError(f"cannot tell the format from {os.fspath(path)!r}: pass to= ({known})")
    if to not in FORMATS:
        raise UsageError(f"unknown format {to!r} (known: {', '.join(sorted(FORMATS))})")
    return FORMATS[to](src, path, **options)
