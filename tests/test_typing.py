"""Type information: the `_core.pyi` stub matches the built extension, and a type checker sees
real types through the public API (`ckptio.open()` -> Checkpoint, `shapes()` -> dict)."""

from __future__ import annotations

import ast
import inspect
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import ckptio
import pytest
from ckptio import _core

PACKAGE = Path(ckptio.__file__).resolve().parent
STUB = PACKAGE / "_core.pyi"


def _stub_tree() -> dict[str, ast.AST]:
    tree = ast.parse(STUB.read_text())
    return {
        node.name: node
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_")
    }


def _stub_params(fn: ast.FunctionDef) -> list[tuple[str, str | None]]:
    """(name, default source or None) of every parameter but self."""
    args = fn.args
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    out = [
        (a.arg, None if d is None else ast.unparse(d))
        for a, d in zip(positional, defaults)
        if a.arg != "self"
    ]
    return out


def _runtime_params(obj: object) -> list[tuple[str, str | None]]:
    """The same from the pybind11 signature line of the docstring."""
    first = (obj.__doc__ or "").splitlines()[0]
    inner = first[first.index("(") + 1 : first.rindex(") ->")]
    params = []
    depth, current = 0, ""
    for ch in inner + ",":
        if ch == "," and depth == 0:
            if current.strip():
                params.append(current.strip())
            current = ""
            continue
        depth += ch in "[("
        depth -= ch in "])"
        current += ch
    out = []
    for p in params:
        name = p.split(":")[0].strip()
        if name == "self":
            continue
        default = p.split(" = ")[1].strip() if " = " in p else None
        out.append((name, default))
    return out


def _public(names: list[str]) -> set[str]:
    return {n for n in names if not n.startswith("_")}


def test_stub_names_match_the_module():
    stub = _stub_tree()
    runtime = _public(dir(_core))
    assert set(stub) == runtime


def _stub_members(stub: dict[str, ast.AST], cls: ast.ClassDef) -> dict[str, ast.FunctionDef]:
    """Members a stub class declares, with those of its stub base classes (own ones win)."""
    members: dict[str, ast.FunctionDef] = {}
    for base in cls.bases:
        assert isinstance(base, ast.Name) and isinstance(stub.get(base.id), ast.ClassDef)
        members.update(_stub_members(stub, stub[base.id]))
    members.update({n.name: n for n in cls.body if isinstance(n, ast.FunctionDef)})
    return members


def _is_slot(value: object) -> bool:
    return isinstance(value, types.WrapperDescriptorType)


def _runtime_members(cls: type) -> dict[str, object]:
    """Public members a class of the module defines or inherits from the module's classes."""
    members: dict[str, object] = {}
    for klass in reversed(cls.__mro__):
        if klass.__module__ == _core.__name__:
            members.update({n: v for n, v in vars(klass).items() if not n.startswith("_")})
    return members


@pytest.mark.parametrize("name", sorted(_public(dir(_core))))
def test_stub_signatures_match_the_module(name):
    stub_tree = _stub_tree()
    stub = stub_tree[name]
    obj = getattr(_core, name)
    if isinstance(stub, ast.FunctionDef):
        assert _stub_params(stub) == _runtime_params(obj)
        return
    assert isinstance(stub, ast.ClassDef) and inspect.isclass(obj)
    # The same base classes, and the same members, inherited ones included.
    runtime_bases = [b.__name__ for b in obj.__bases__ if b.__module__ == _core.__name__]
    assert [ast.unparse(b) for b in stub.bases] == runtime_bases
    members = _stub_members(stub_tree, stub)
    runtime_members = _runtime_members(obj)
    assert set(members) - {"__init__"} == set(runtime_members)
    for member, value in runtime_members.items():
        node = members[member]
        is_property = any(
            isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list
        )
        assert is_property == isinstance(value, property), member
        if not is_property:
            assert _stub_params(node) == _runtime_params(value), member
    # A constructor where the binding defines one (a base class like Reader gets pybind11's
    # slot that raises "No constructor defined").
    init = vars(obj).get("__init__")
    assert ("__init__" in members) == (init is not None and not _is_slot(init))
    if "__init__" in members:
        assert _stub_params(members["__init__"]) == _runtime_params(obj.__init__)


def test_package_is_marked_typed():
    assert (PACKAGE / "py.typed").is_file()


USER_SCRIPT = """
import ckptio
from ckptio import _core

with ckptio.open("examples/data/tiny_convnet") as ckpt:
    reveal_type(ckpt)
    reveal_type(ckpt.shapes())
    reveal_type(ckpt["convnet/embedding"])
    reveal_type(ckpt.info("convnet/embedding").shape)
    reveal_type(ckpt.get_slice("convnet/embedding"))
reveal_type(ckptio.latest_checkpoint("examples/data/tiny_convnet"))
reveal_type(_core.BundleReader("x").shape_map())
reveal_type(_core.crc32c(b"abc"))
n: int = ckptio.open("x").shapes()["w"][0]
ckpt2: ckptio.Checkpoint = ckptio.open("x")
"""


def test_mypy_sees_real_types(tmp_path):
    pytest.importorskip("mypy", reason="mypy is not installed")
    script = tmp_path / "user.py"
    script.write_text(USER_SCRIPT)
    env = dict(os.environ)
    # A source tree (PYTHONPATH=python) is not on mypy's search path; an installed wheel is.
    if PACKAGE.parent.name not in ("site-packages", "dist-packages"):
        env["MYPYPATH"] = str(PACKAGE.parent)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", os.devnull,
         "--python-executable", sys.executable, "--strict", str(script)],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    # mypy versions differ in spelling ("builtins.int" or "int", ndarray's shape parameter).
    revealed = [
        t.replace("builtins.", "") for t in re.findall(r'Revealed type is "([^"]+)"', result.stdout)
    ]
    assert len(revealed) == 8, result.stdout
    assert revealed[2].startswith("numpy.ndarray["), result.stdout
    del revealed[2]
    assert revealed == [
        "ckptio.checkpoint.Checkpoint",
        "dict[str, tuple[int, ...]]",
        "tuple[int, ...]",
        "ckptio.checkpoint.TensorSlice",
        "str | None",
        "dict[str, tuple[int, ...]]",
        "int",
    ], result.stdout
    # Nothing but the reveal_type notes: no errors in the user code or the stubs it uses. (From
    # a plain directory, as a sanitizer build's --target is, mypy also checks the package's own
    # sources under --strict; only the user script and the stub are this test's subject.)
    errors = [
        line
        for line in result.stdout.splitlines()
        if ": error:" in line
        and (not line.startswith(str(PACKAGE)) or line.split(":")[0].endswith("_core.pyi"))
    ]
    assert errors == [], result.stdout
