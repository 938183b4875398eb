"""The package layout (docs/architecture.md, "Import paths"): every public import path the docs
list still imports, and names the very objects of the module that now holds the code."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import types
from pathlib import Path

import ckptio
import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"

# The `__all__` of each public module before the sub-packages (the promise kept).
PUBLIC_NAMES = {
    "ckptio.restore": "PRESETS Missing NameView ObjectGraph PlanEntry Problem RestoreError "
    "RestorePlan Selection object_graph plan_restore select",
    "ckptio.convert": "FORMATS ConversionReport as_torch convert fill_onnx save_torch to_npz "
    "to_safetensors to_torch",
    "ckptio.transforms": "TORCH_RULES Cast Reshape Reverse TorchLayout Transform Transpose "
    "torch_name torch_transforms",
    "ckptio.selection": "PRESETS Selection select",
    "ckptio.mapping": "Assignment NameView RestoreError from_assignment_map from_names "
    "from_var_list partition_parts",
    "ckptio.targets": "Target dtype_name numpy_dtype parse_targets shape_tuple",
    "ckptio.objgraph": "OBJECT_GRAPH_KEY GraphTensor ObjectGraph SerializedTensor SlotVariable "
    "TrackableObject object_graph object_path",
    "ckptio.distributed": "ShardedReport convert rewrite to_safetensors",
    "ckptio.recipes": "RECIPES TRAINING_STATE Recipe RecipeLayout convert plan write_config",
}


def documented_moves() -> dict[str, str]:
    """{older path: the module it now is}, from the doc's table."""
    section = DOC.read_text().split("### Import paths", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `(ckptio\.\w+)` \| `(ckptio\.[\w.]+)` \|", section, re.M))


def test_the_doc_lists_every_moved_module():
    moves = documented_moves()
    assert set(moves) == set(PUBLIC_NAMES) - {"ckptio.restore", "ckptio.convert"}


@pytest.mark.parametrize("old, home", sorted(documented_moves().items()))
def test_an_older_path_is_the_module_itself(old, home):
    module = importlib.import_module(old)
    assert module is importlib.import_module(home)
    assert module.__name__ == home
    assert getattr(ckptio, old.rpartition(".")[2]) is module  # `import ckptio.x; ckptio.x`
    for name in PUBLIC_NAMES[old].split():
        assert getattr(module, name) is getattr(importlib.import_module(home), name)


@pytest.mark.parametrize("package", ["ckptio.restore", "ckptio.convert"])
def test_a_package_exports_what_the_module_did(package):
    module = importlib.import_module(package)
    assert hasattr(module, "__path__")  # a package now
    names = PUBLIC_NAMES[package].split()
    assert sorted(module.__all__) == sorted(names)
    star: dict[str, object] = {}
    exec(f"from {package} import *", star)
    for name in names:
        value = getattr(module, name)
        assert star[name] is value
        defined_in = getattr(value, "__module__", None)
        if defined_in is not None and not isinstance(value, (dict, str, tuple)):
            # Defined inside the package, and the same object there.
            assert defined_in.startswith(package + "."), (name, defined_in)
            assert getattr(sys.modules[defined_in], name) is value
        if name in ckptio.__all__:
            assert getattr(ckptio, name) is value


def test_every_name_of_ckptio_all_resolves():
    for name in ckptio.__all__:
        value = getattr(ckptio, name)
        assert value is not None, name
        if isinstance(value, types.ModuleType):
            assert value.__name__.startswith("ckptio."), name


def test_importing_ckptio_loads_no_sub_package():
    """`import ckptio` stays cheap: the restore toolkit and the converters load on use, and a
    sub-package's own `__init__` does not load its modules."""
    code = (
        "import sys, ckptio, ckptio.restore, ckptio.convert\n"
        "print(sorted(m for m in sys.modules if m.startswith('ckptio.')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = eval(proc.stdout)
    assert not [m for m in loaded if m.startswith(("ckptio.restore.", "ckptio.convert."))], loaded
