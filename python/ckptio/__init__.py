"""ckptio: read TensorFlow checkpoints without TensorFlow.

    import ckptio
    with ckptio.open("model.ckpt-1000") as ckpt:
        for name, info in ckpt.shapes().items(): ...
        kernel = ckpt["dense/kernel"]        # zero-copy, read-only numpy view

See `ckptio.open`, `ckptio.Checkpoint` and `ckptio.compat` (TF-style reader functions).
"""

from __future__ import annotations

from . import compat
from .errors import CheckpointError, CorruptionError, NotFoundError, UnsupportedError
from .paths import latest_checkpoint
from .reader import Checkpoint, TensorInfo, TensorSlice, open
from .writer import BundleWriter, rewrite, save, update_checkpoint_state

__version__ = "0.1.0"

__all__ = [
    "BundleWriter",
    "Checkpoint",
    "CheckpointError",
    "CorruptionError",
    "NotFoundError",
    "TensorInfo",
    "TensorSlice",
    "UnsupportedError",
    "__version__",
    "compat",
    "latest_checkpoint",
    "open",
    "rewrite",
    "save",
    "update_checkpoint_state",
]
