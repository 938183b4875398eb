"""Run transformers' TF-checkpoint loaders, unmodified, and save what they produced (test-only).

    python hf_loader_run.py real DIR OUT.pt [MODEL...]   # writes the checkpoints with TF, loads
    python hf_loader_run.py shim DIR OUT.pt [MODEL...]   # TensorFlow hidden, ckptio's stand-in

OUT.pt holds, per model, the state_dict and a record of every tf call the loader made (what
came back: types, dtypes, shapes, writeability, bytes). The "shim" side hides the installed
TensorFlow the way a machine without it looks (no module, no distribution metadata) before
anything is imported, then installs the stand-in without force.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.abc
import importlib.metadata
import sys
from pathlib import Path

HIDDEN = ("tensorflow", "tensorflow_cpu", "tf_keras", "tensorflow_io_gcs_filesystem")


class _HideTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


def hide_tensorflow() -> None:
    """Make TensorFlow unimportable and its distributions invisible to importlib.metadata."""
    sys.meta_path.insert(0, _HideTensorFlow())
    discover = importlib.metadata.Distribution.discover.__func__

    def without_tensorflow(cls, **kwargs):
        for dist in discover(cls, **kwargs):
            name = (dist.metadata["Name"] or "").lower().replace("-", "_")
            if not name.startswith("tensorflow") and name != "tf_keras":
                yield dist

    importlib.metadata.Distribution.discover = classmethod(without_tensorflow)


def _describe(value) -> dict:
    import numpy as np

    if isinstance(value, np.ndarray):
        return {
            "type": type(value).__name__,
            "dtype": str(value.dtype),
            "shape": list(value.shape),
            "writeable": bool(value.flags.writeable),
            "sha": hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest(),
        }
    return {"type": type(value).__name__, "repr": repr(value)}


def _record(tf, calls: list) -> None:
    """Wrap the tf functions the loaders call, noting in `calls` (the current model's list,
    replaced in place by the caller) what each call returned."""
    list_variables, load_variable, cast = (
        tf.train.list_variables,
        tf.train.load_variable,
        tf.dtypes.cast,
    )

    def list_variables_recorded(path):
        result = list_variables(path)
        calls.append(
            {
                "call": "list_variables",
                "type": type(result).__name__,
                "items": [
                    [type(item).__name__, item[0], type(item[1]).__name__, item[1]]
                    + [type(d).__name__ for d in item[1]]
                    for item in result
                ],
            }
        )
        return result

    def load_variable_recorded(path, name):
        result = load_variable(path, name)
        calls.append({"call": "load_variable", "name": name, **_describe(result)})
        return result

    def cast_recorded(x, dtype, name=None):
        result = cast(x, dtype)
        numpy = result.numpy()
        calls.append(
            {
                "call": "cast",
                "dtype": result.dtype.name,
                "shape": list(result.shape),
                "numpy": _describe(numpy),
            }
        )
        return result

    tf.train.list_variables = list_variables_recorded
    tf.train.load_variable = load_variable_recorded
    tf.dtypes.cast = cast_recorded


def main() -> None:
    mode, directory, out, *names = sys.argv[1:]
    directory = Path(directory)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    if mode == "shim":
        hide_tensorflow()
        import ckptio.tfshim

        ckptio.tfshim.install()  # no force: TensorFlow must look absent
    import hfmodels

    names = names or list(hfmodels.MODELS)
    if mode == "real":
        for name in names:
            hfmodels.write(name, directory / name)
    import tensorflow as tf
    import torch
    import transformers.utils

    facts = {
        "is_tf_available": transformers.utils.is_tf_available(),
        "tensorflow_module": type(tf).__module__,
    }
    results = {"facts": facts}
    calls: list = []
    _record(tf, calls)
    for name in names:
        calls.clear()
        module_name, function = hfmodels.MODELS[name]["loader"].split(":")
        loader = getattr(importlib.import_module(module_name), function)
        torch.manual_seed(0)
        model = hfmodels.build_model(name)
        prefix = str(directory / name / "model.ckpt-1000")
        model = loader(model, model.config, prefix)
        results[name] = {"state": model.state_dict(), "calls": list(calls)}
    torch.save(results, out)


if __name__ == "__main__":
    main()
