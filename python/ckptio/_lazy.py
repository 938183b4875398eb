"""A package's public names, imported on first use (a PEP 562 module `__getattr__`).

`import ckptio` must stay cheap (the `ckptio` command starts with it), and a sub-package's
`__init__` must not load every module of the package: `ckptio.restore.objgraph` is wanted by
the writer without the restore planner, `ckptio.convert.distributed` without the converters.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def lazy_exports(
    package: str, homes: Mapping[str, str], submodules: Iterable[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`: a name of `homes` is imported from its module
    (`{name: module relative to the package}`), a name of `submodules` is that submodule; each
    is imported on first use and then kept as an ordinary global."""
    namespace = vars(sys.modules[package])
    submodules = frozenset(submodules)

    def __getattr__(name: str) -> Any:
        if name in homes:
            value = getattr(importlib.import_module(f".{homes[name]}", package), name)
        elif name in submodules:
            value = importlib.import_module(f".{name}", package)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(homes) | submodules)

    return __getattr__, __dir__
