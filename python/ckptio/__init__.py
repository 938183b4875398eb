"""ckptio: read and write TensorFlow checkpoints without TensorFlow.

    import ckptio
    with ckptio.open("model.ckpt-1000") as ckpt:
        for name, shape in ckpt.shapes().items(): ...
        kernel = ckpt["dense/kernel"]        # zero-copy, read-only numpy view

See `ckptio.open`, `ckptio.Checkpoint`, `ckptio.save`/`rewrite`/`merge`, `ckptio.plan_restore`,
`ckptio.to_safetensors`, and `ckptio.compat` (TF-style reader functions).

The public names below are imported on first use: `import ckptio` stays cheap, which keeps the
`ckptio` command quick to start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports
from .errors import (
    CheckpointError,
    CorruptionError,
    LossyCastError,
    NotACheckpointError,
    NotFoundError,
    RecipeError,
    UnsupportedError,
    UsageError,
)
from .paths import latest_checkpoint

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY = {
    "Checkpoint": "reader",
    "TensorInfo": "reader",
    "TensorSlice": "reader",
    "open": "reader",
    "BundleWriter": "writer",
    "merge": "writer",
    "rewrite": "writer",
    "save": "writer",
    "update_checkpoint_state": "writer",
    "NameView": "restore",
    "ObjectGraph": "restore",
    "RestoreError": "restore",
    "RestorePlan": "restore",
    "Selection": "restore",
    "object_graph": "restore",
    "plan_restore": "restore",
    "select": "restore",
    "ConversionReport": "convert",
    "as_torch": "convert",
    "fill_onnx": "convert",
    "save_torch": "convert",
    "to_npz": "convert",
    "to_safetensors": "convert",
    "to_torch": "convert",
}
_SUBMODULES = {"compat", "transforms", "remote", "distributed"}

__all__ = [
    "BundleWriter",
    "Checkpoint",
    "CheckpointError",
    "ConversionReport",
    "CorruptionError",
    "LossyCastError",
    "NameView",
    "NotACheckpointError",
    "NotFoundError",
    "ObjectGraph",
    "RecipeError",
    "RestoreError",
    "RestorePlan",
    "Selection",
    "TensorInfo",
    "TensorSlice",
    "UnsupportedError",
    "UsageError",
    "__version__",
    "as_torch",
    "compat",
    "fill_onnx",
    "latest_checkpoint",
    "merge",
    "object_graph",
    "open",
    "plan_restore",
    "rewrite",
    "save",
    "save_torch",
    "select",
    "to_npz",
    "to_safetensors",
    "to_torch",
    "transforms",
    "update_checkpoint_state",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, _SUBMODULES)


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from . import compat
    from .convert import (
        ConversionReport,
        as_torch,
        fill_onnx,
        save_torch,
        to_npz,
        to_safetensors,
        to_torch,
    )
    from .reader import Checkpoint, TensorInfo, TensorSlice, open
    from .restore import (
        NameView,
        ObjectGraph,
        RestoreError,
        RestorePlan,
        Selection,
        object_graph,
        plan_restore,
        select,
        transforms,
    )
    from .writer import BundleWriter, merge, rewrite, save, update_checkpoint_state
