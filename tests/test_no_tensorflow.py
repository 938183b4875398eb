"""ckptio reads TF-written checkpoints in a process that never imports TensorFlow.

Each case runs a fresh interpreter (``sys.executable -c``) that opens a checkpoint, lists it,
reads every tensor (and a region of each), verifies the checksums, uses ``ckptio.compat`` and
``latest_checkpoint``, and reports fingerprints of the values after the checkpoint is closed.
The parent compares the fingerprints with TF's values and checks that neither TensorFlow nor
Keras was imported. In the ``tf_blocked`` mode, importing them fails, as if not installed.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

SCRIPT = r"""
import gc, hashlib, json, os, sys

prefix, mode = sys.argv[1], sys.argv[2]
FORBIDDEN = {"tensorflow", "tensorflow_core", "keras", "tf_keras", "tensorboard", "jax", "torch"}

if mode == "tf_blocked":
    class _Uninstalled:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in FORBIDDEN:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
            return None

    sys.meta_path.insert(0, _Uninstalled())

import numpy as np
import ckptio
from ckptio import compat


def fingerprint(value):
    value = np.asarray(value) if not isinstance(value, bytes) else value
    h = hashlib.sha256()
    if isinstance(value, bytes):
        h.update(len(value).to_bytes(8, "little") + value)
    elif value.dtype == object:
        for element in value.reshape(-1).tolist():
            h.update(len(element).to_bytes(8, "little") + element)
    else:
        h.update(np.ascontiguousarray(value).tobytes())
    return h.hexdigest()


report = {}
with ckptio.open(prefix) as ckpt:
    names = list(ckpt.keys())
    arrays = {name: ckpt[name] for name in names}
    report["dtype_names"] = {name: ckpt.info(name).dtype_name for name in names}
    report["shapes"] = {name: list(shape) for name, shape in ckpt.shapes().items()}
    report["first_rows"] = {
        name: fingerprint(ckpt.get_slice(name)[0:1])
        for name in names
        if arrays[name].ndim and arrays[name].shape[0]
    }
    ckpt.verify()
try:
    ckpt[names[0]]
except Exception as exc:
    report["read_after_close"] = [c.__name__ for c in type(exc).__mro__]
else:
    report["read_after_close"] = "no error"
del ckpt
gc.collect()
# The arrays outlive the closed checkpoint (each keeps its mapping alive).
report["values"] = {name: fingerprint(array) for name, array in arrays.items()}
del arrays
gc.collect()

reader = compat.load_checkpoint(prefix)
report["compat_shapes"] = reader.get_variable_to_shape_map()
report["compat_dtypes"] = {k: v.name for k, v in reader.get_variable_to_dtype_map().items()}
report["compat_values"] = {name: fingerprint(reader.get_tensor(name)) for name in names}
report["debug_string"] = reader.debug_string().hex()
report["list_variables"] = compat.list_variables(prefix)
report["load_variable"] = fingerprint(compat.load_variable(prefix, names[-1] + ":0"))
report["latest"] = ckptio.latest_checkpoint(os.path.dirname(prefix))
report["imported"] = sorted(m for m in sys.modules if m.split(".")[0] in FORBIDDEN)
print("REPORT " + json.dumps(report))
"""

CASES = [
    "all_dtypes",
    "strings",
    "partitioned",
    "sharded",
    "sharded_slices",
    "tf2_checkpoint",
]


def fingerprint(value) -> str:
    """sha256 of a tensor's bytes (strings: 8-byte LE length + bytes of each element)."""
    h = hashlib.sha256()
    if value.dtype == object:
        for element in value.reshape(-1).tolist():
            h.update(len(element).to_bytes(8, "little") + element)
    else:
        h.update(np.ascontiguousarray(value).tobytes())
    return h.hexdigest()


def run_without_tensorflow(prefix: str, mode: str) -> dict:
    env = dict(os.environ)
    env.pop("PYTHONSTARTUP", None)
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, prefix, mode],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=os.path.dirname(prefix),
    )
    assert proc.returncode == 0, f"subprocess failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    lines = [line for line in proc.stdout.splitlines() if line.startswith("REPORT ")]
    assert len(lines) == 1, f"no report in output:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return json.loads(lines[0][len("REPORT ") :])


@pytest.mark.parametrize("mode", ["tf_installed", "tf_blocked"])
@pytest.mark.parametrize("name", CASES)
def test_reads_without_importing_tensorflow(name, mode, tf_checkpoints, tf_ref, tf):
    prefix = tf_checkpoints(name)
    ref = tf_ref(prefix)
    report = run_without_tensorflow(prefix, mode)

    assert report["imported"] == [], f"{name}: ckptio imported {report['imported']}"
    assert "CheckpointError" in report["read_after_close"], (
        f"{name}: reading a closed checkpoint gave {report['read_after_close']}"
    )

    want_values = {key: fingerprint(value) for key, (_, _, value) in ref.items()}
    assert report["values"] == want_values, f"{name}: values differ from TF's"
    assert report["compat_values"] == want_values, f"{name}: compat values differ from TF's"
    assert report["dtype_names"] == {key: dtype for key, (dtype, _, _) in ref.items()}
    assert report["shapes"] == {key: list(shape) for key, (_, shape, _) in ref.items()}
    want_rows = {
        key: fingerprint(value[0:1]) for key, (_, shape, value) in ref.items() if shape and shape[0]
    }
    assert report["first_rows"] == want_rows, f"{name}: get_slice(...)[0:1] differs from TF's"

    reader = tf.train.load_checkpoint(prefix)
    assert report["compat_shapes"] == reader.get_variable_to_shape_map()
    assert report["compat_dtypes"] == {
        key: dtype.name for key, dtype in reader.get_variable_to_dtype_map().items()
    }
    assert bytes.fromhex(report["debug_string"]) == reader.debug_string()
    assert [tuple(item) for item in report["list_variables"]] == tf.train.list_variables(prefix)
    last = max(ref, key=lambda key: key.encode("utf-8"))
    assert report["load_variable"] == fingerprint(ref[last][2])
    assert report["latest"] == tf.train.latest_checkpoint(os.path.dirname(prefix))


EVERY_MODULE = r"""
import json, pkgutil, sys, importlib
import ckptio

FORBIDDEN = ("tensorflow", "tensorflow_core", "keras", "tf_keras", "tensorboard")
names = sorted(m.name for m in pkgutil.walk_packages(ckptio.__path__, "ckptio.")
               if m.name != "ckptio.__main__")  # (that one runs the command)
for name in names:
    importlib.import_module(name)
from ckptio import tfshim

loaded = [m for m in sys.modules if m.split(".")[0] in FORBIDDEN]
with tfshim.installed(force=True) as tf:  # TF is installed here: the stand-in must not load it
    tf.train.list_variables(sys.argv[1])
    # the stand-in's modules have no file; a real TensorFlow module would
    real_under_shim = [
        m for m, mod in sys.modules.items()
        if m.split(".")[0] in FORBIDDEN and getattr(mod, "__file__", None)
    ]
after = [m for m in sys.modules if m.split(".")[0] in FORBIDDEN]
print(json.dumps({"modules": names, "loaded": loaded, "real_under_shim": real_under_shim,
                  "after": after}))
"""


def test_no_module_of_ckptio_imports_tensorflow(tf_checkpoints):
    """Every module of the package, the tensorflow stand-in included (installed over a real,
    importable TensorFlow and used), leaves TensorFlow, Keras and TensorBoard unimported."""
    proc = subprocess.run(
        [sys.executable, "-c", EVERY_MODULE, tf_checkpoints("tf1_saver")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout.splitlines()[-1])
    assert {"ckptio.tfshim", "ckptio.recipes", "ckptio.cli", "ckptio.convert"} <= set(
        report["modules"]
    )
    assert report["loaded"] == [], report["loaded"]
    assert report["real_under_shim"] == [], report["real_under_shim"]
    assert report["after"] == [], report["after"]
