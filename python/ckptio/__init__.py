"""ckptio: read TensorFlow checkpoints without TensorFlow.

    import ckptio
    with ckptio.open("model.ckpt-1000") as ckpt:
        for name, info in ckpt.shapes().items(): ...
        kernel = ckpt["dense/kernel"]        # zero-copy, read-only numpy view

See `ckptio.open`, `ckptio.Checkpoint` and `ckptio.compat` (TF-style reader functions).
"""

from __future__ import annotations

from . import compat
from .convert import ConversionReport, fill_onnx, save_torch, to_npz, to_safetensors, to_torch
from .errors import CheckpointError, CorruptionError, NotFoundError, UnsupportedError
from .paths import latest_checkpoint
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
)
from .writer import BundleWriter, rewrite, save, update_checkpoint_state

__version__ = "0.1.0"

__all__ = [
    "BundleWriter",
    "Checkpoint",
    "CheckpointError",
    "ConversionReport",
    "CorruptionError",
    "NameView",
    "NotFoundError",
    "ObjectGraph",
    "RestoreError",
    "RestorePlan",
    "Selection",
    "TensorInfo",
    "TensorSlice",
    "UnsupportedError",
    "__version__",
    "compat",
    "fill_onnx",
    "latest_checkpoint",
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
