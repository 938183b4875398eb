"""Converting TensorFlow checkpoints to other formats, without TensorFlow.

    import ckptio
    ckptio.to_safetensors("train/model.ckpt-1000", "model.safetensors", verify=True)
    ckptio.to_npz("train/", "model.npz", select=lambda name: name.startswith("encoder/"))
    state = ckptio.to_torch("train/", layout="torch")        # {name: torch.Tensor}
    model.load_state_dict(state)
    ckptio.save_torch("train/", "model.pt")
    ckptio.fill_onnx("model.onnx", "train/", "filled.onnx", name_map={"fc.weight": "fc/w"})

Every converter takes a checkpoint path, an open `Checkpoint` or a view of one under other
names (``ckptio.object_graph(path).view("full_name")``: a TF2 checkpoint under its TF1-style
variable names, which layout rules understand), reads it tensor by tensor and takes the same
options:

* ``select``: the source names to convert, a predicate or an iterable of names;
* ``rename``: ``{"old": "new", "old_scope/": "new_scope/"}`` or a function (None drops the
  tensor), with the same rules as `ckptio.rewrite`;
* ``cast``: a dtype name for every floating tensor (``"float32"``) or ``{source name: dtype}``;
  casts that could lose values (float to int, narrowing...) raise `LossyCastError` unless
  ``allow_lossy_cast=True`` (the policy: `ckptio.casting`);
* ``transforms``: ``{source name: fn(array) -> array}`` or one ``fn(name, array) -> array``;
* ``allow_empty``: write a file even when nothing is selected (otherwise `UsageError`);
* ``layout``: ``"torch"`` (or a layout object of `ckptio.transforms`) to rename and transpose
  TF/Keras variables into PyTorch's conventions, after ``rename``;
* ``unsupported``: what to do with tensors the format cannot hold (strings everywhere;
  int4, complex128... depending on the format): ``"raise"`` (the default, before anything is
  written) or ``"skip"`` (listed in the report's ``skipped``);
* ``verify``: check the source checksums while reading, read the written file back and compare
  every tensor bit for bit before moving the file into place; cast tensors' largest absolute
  and relative errors are recorded in the report's ``cast_errors``;
* ``progress``: ``fn(done, total, name)``, called after each tensor.

Files are written under a temporary name and renamed into place once complete (and verified),
so a failed conversion leaves nothing under the destination name. The TF2 object graph
(``_CHECKPOINTABLE_OBJECT_GRAPH``, checkpoint metadata) is never converted.

Each format's library is an optional dependency, imported only when that format is used:
``pip install ckptio[torch]``, ``ckptio[onnx]``; safetensors files are written by ckptio
itself (``safetensors_file``) and ``.npz`` needs only numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

__all__ = [
    "FORMATS",
    "ConversionReport",
    "as_torch",
    "convert",
    "fill_onnx",
    "save_torch",
    "to_npz",
    "to_safetensors",
    "to_torch",
]

# One module per format; each is imported when first used (`ckptio.distributed` and
# `ckptio.recipes`, in this package too, do not load the converters they do not use).
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "FORMATS": "formats",
        "convert": "formats",
        "ConversionReport": "pipeline",
        "Cast": "pipeline",
        "Progress": "pipeline",
        "Rename": "pipeline",
        "Select": "pipeline",
        "Source": "pipeline",
        "Transforms": "pipeline",
        "to_safetensors": "safetensors",
        "to_npz": "npz",
        "as_torch": "torch",
        "save_torch": "torch",
        "to_torch": "torch",
        "fill_onnx": "onnx",
    },
)

if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from .formats import FORMATS, convert
    from .npz import to_npz
    from .onnx import fill_onnx
    from .pipeline import ConversionReport
    from .safetensors import to_safetensors
    from .torch import as_torch, save_torch, to_torch
