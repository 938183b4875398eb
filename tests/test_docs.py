"""The documentation runs: every ```python block of README.md (in a scratch directory holding
a copy of examples/, so the bundled checkpoints are where the README says), and every `>>>`
example in ckptio's docstrings. A block that cannot run here (it needs an object store) says so
in an HTML comment on the line before it, and is only compiled."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
import shutil
from pathlib import Path

import ckptio
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
_BLOCK = re.compile(r"(?:<!-- (not run[^>]*) -->\n)?```python\n(.*?)```", re.S)


def readme_blocks() -> list[tuple[int, str, str | None]]:
    """(line number, code, reason it is not run or None) of every python block."""
    text = README.read_text()
    return [
        (text[: m.start(2)].count("\n") + 1, m.group(2), m.group(1)) for m in _BLOCK.finditer(text)
    ]


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    return tmp_path


# Optional libraries and the calls that need them: a block using one skips without it.
_OPTIONAL = {
    "torch": ("to_torch(", "save_torch(", 'framework="pt"'),
    "safetensors": ("to_safetensors(",),
    "onnx": ("fill_onnx(",),
}


def _onnx_model(path: Path) -> None:
    """The model.onnx the conversion example starts from: a [128, 10] float32 "fc.weight"."""
    onnx = pytest.importorskip("onnx", reason="onnx is not installed (the example fills one)")
    from onnx import TensorProto, helper, numpy_helper

    init = numpy_helper.from_array(np.zeros((128, 10), np.float32), "fc.weight")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "fc.weight"], ["y"])],
        "fc",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 128])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        [init],
    )
    onnx.save(helper.make_model(graph), str(path))


def test_readme_has_python_examples():
    blocks = readme_blocks()
    assert len(blocks) >= 6
    skipped = [reason for _, _, reason in blocks if reason]
    assert len(skipped) <= 4 and all("needs" in r for r in skipped)


@pytest.mark.parametrize(
    "line, code, reason", readme_blocks(), ids=[f"README.md:{b[0]}" for b in readme_blocks()]
)
def test_readme_example_runs(line, code, reason, scratch, capsys):
    compiled = compile("\n" * (line - 1) + code, str(README), "exec")
    if reason:
        pytest.skip(reason)
    for module, uses in _OPTIONAL.items():
        if any(use in code for use in uses):
            pytest.importorskip(module, reason=f"{module} is not installed (the example uses it)")
    if "fill_onnx(" in code:
        _onnx_model(scratch / "model.onnx")
    exec(compiled, {"__name__": "readme"})
    capsys.readouterr()


def test_readme_using_it_output_is_real(scratch, capsys):
    """The TensorInfo the README prints in a comment is what the code prints."""
    _, code, _ = next(b for b in readme_blocks() if "ckpt.info(" in b[1])
    exec(compile(code, str(README), "exec"), {})
    printed = capsys.readouterr().out.strip()
    comment = code[code.index("# TensorInfo(") :].split("\n\n")[0]
    shown = " ".join(part.strip().lstrip("#").strip() for part in comment.splitlines())
    assert printed == shown.replace("( ", "(").replace(", ", ", ")


def _modules() -> list[str]:
    names = ["ckptio"]
    for info in pkgutil.iter_modules(ckptio.__path__):
        if not info.name.startswith("_") or info.name == "_dtypes":
            names.append(f"ckptio.{info.name}")
    return names


def test_docstring_examples_run(monkeypatch):
    monkeypatch.chdir(ROOT)  # the examples name the bundled checkpoints by relative path
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    examples = 0
    for name in _modules():
        module = importlib.import_module(name)
        for test in finder.find(module, name, globs={"ckptio": ckptio, "np": np}):
            examples += len(test.examples)
            runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.failed == 0
    assert examples >= 5  # the examples exist (a finder that found nothing would pass)
