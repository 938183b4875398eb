"""The documentation runs: every ```python block of README.md (in a scratch directory holding
a copy of examples/, so the bundled checkpoints are where the README says), and every `>>>`
example in ckptio's docstrings. A block that cannot run here (it needs an object store) says so
in an HTML comment on the line before it, and is only compiled. A block that is a script of
examples/ (its first line `# examples/NAME.py...`) must be that file, and runs as the README's
console commands run it: those commands using the bundled tiny BERT run too, one after the
other, and must print what the README shows."""

from __future__ import annotations

import doctest
import importlib
import os
import pkgutil
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import ckptio
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
_BLOCK = re.compile(r"(?:<!-- (not run[^>]*) -->\n)?```python\n(.*?)```", re.S)
_CONSOLE = re.compile(r"```console\n(.*?)```", re.S)
_SCRIPT = re.compile(r"# (examples/\w+\.py)")


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
    "torch": ("to_torch(", "save_torch(", 'framework="pt"', "from_pretrained(", "torch."),
    "transformers": ("transformers",),
    "safetensors": ("to_safetensors(", ".safetensors"),
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
    assert len(skipped) <= 3 and all("needs" in r for r in skipped)


@pytest.mark.parametrize(
    "line, code, reason", readme_blocks(), ids=[f"README.md:{b[0]}" for b in readme_blocks()]
)
def test_readme_example_runs(line, code, reason, scratch, capsys, request):
    compiled = compile("\n" * (line - 1) + code, str(README), "exec")
    if reason:
        pytest.skip(reason)
    for module, uses in _OPTIONAL.items():
        if any(use in code for use in uses):
            pytest.importorskip(module, reason=f"{module} is not installed (the example uses it)")
    if "fill_onnx(" in code:
        _onnx_model(scratch / "model.onnx")
    script = _SCRIPT.match(code)
    if script:  # it runs as the README's commands run it (python -m ckptio.tfshim SCRIPT ...)
        assert code == (ROOT / script.group(1)).read_text(), f"README differs from {script[1]}"
        session = request.getfixturevalue("tiny_bert_session")
        runs = [proc for argv, _, proc in session.steps if script.group(1) in argv]
        assert runs and all(proc.returncode == 0 for proc in runs)
        return
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
    for info in pkgutil.walk_packages(ckptio.__path__, "ckptio."):
        leaf = info.name.rpartition(".")[2]
        # (an older path of a moved module is that module: its examples run once)
        if (not leaf.startswith("_") or leaf == "_dtypes") and _is_home(info.name):
            names.append(info.name)
    return names


def _is_home(name: str) -> bool:
    return importlib.import_module(name).__name__ == name


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


# --------------------------------------------------------------------------- the tiny BERT


def tiny_bert_commands() -> list[tuple[list[str], str]]:
    """(argv, output shown) of each `$` command in the README console blocks that use the
    bundled tiny BERT, in order."""
    commands: list[tuple[list[str], str]] = []
    for block in _CONSOLE.finditer(README.read_text()):
        text = block.group(1).replace("\\\n", " ")
        if "tiny_bert" not in text:
            continue
        for line in text.splitlines():
            if line.startswith("$ "):
                commands.append((shlex.split(line[2:]), ""))
            elif commands:
                commands[-1] = (commands[-1][0], commands[-1][1] + line + "\n")
    return commands


class Session:
    def __init__(self, root: Path, steps: list) -> None:
        self.root, self.steps = root, steps  # steps: (argv as run, output shown, process)


@pytest.fixture(scope="module")
def tiny_bert_session(tmp_path_factory) -> Session:
    """The README's tiny-BERT commands, run in a scratch copy of examples/ with /tmp/ moved
    into it. Python commands run with TensorFlow hidden where the README's point is that it
    is absent (`python -m ckptio.tfshim`), and with transformers told not to use it elsewhere."""
    for module in ("torch", "transformers", "safetensors"):
        pytest.importorskip(module, reason=f"{module} is not installed (the example uses it)")
    root = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "examples", root / "examples")
    hide = root / "hide_tensorflow"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT / 'tests')!r})\n"
        "import hf_loader_run\nhf_loader_run.hide_tensorflow()\n"
    )
    path = os.pathsep.join(sys.path)
    env = dict(os.environ, PYTHONPATH=path, USE_TF="0", TF_CPP_MIN_LOG_LEVEL="3")
    moved = f"{root}/tmp/"
    steps = []
    for argv, shown in tiny_bert_commands():
        argv = [arg.replace("/tmp/", moved) for arg in argv]
        shown = shown.replace("/tmp/", moved)
        run_env = env
        if argv[0] == "mkdir":
            assert argv[1] == "-p"
            for directory in argv[2:]:
                os.makedirs(directory, exist_ok=True)
            steps.append((argv, shown, subprocess.CompletedProcess(argv, 0, "", "")))
            continue
        if argv[0] == "ckptio":
            command = [sys.executable, "-m", "ckptio", *argv[1:]]
        else:
            assert argv[0] == "python", argv
            command = [sys.executable, *argv[1:]]
            if argv[1:3] == ["-m", "ckptio.tfshim"]:
                run_env = dict(env, PYTHONPATH=os.pathsep.join([str(hide), path]))
        proc = subprocess.run(command, cwd=root, env=run_env, capture_output=True, text=True)
        steps.append((argv, shown, proc))
    return Session(root, steps)


def test_readme_tiny_bert_commands_print_what_it_shows(tiny_bert_session):
    programs = [argv[:3] for argv, _, _ in tiny_bert_session.steps]
    assert ["ckptio", "convert", "examples/data/tiny_bert/bert_model.ckpt"] in programs
    assert ["python", "-m", "ckptio.tfshim"] in programs
    for argv, shown, proc in tiny_bert_session.steps:
        assert proc.returncode == 0, (argv, proc.stderr[-2000:])
        assert proc.stdout == shown, argv


def test_readme_tiny_bert_tfshim_output_is_the_recipe_output(tiny_bert_session):
    """The state_dict the unmodified script wrote under the stand-in and the recipe's
    safetensors file, each loaded into BertForPreTraining: the same tensors, bit for bit."""
    import torch
    from transformers import BertConfig, BertForPreTraining

    out = tiny_bert_session.root / "tmp"
    recipe, info = BertForPreTraining.from_pretrained(out / "tiny-bert", output_loading_info=True)
    assert not any(info.values()), info  # no missing, unexpected or mismatched keys
    config = BertConfig.from_json_file(ROOT / "examples/data/tiny_bert/bert_config.json")
    scripted = BertForPreTraining(config)
    scripted.load_state_dict(torch.load(out / "out.bin"), strict=True)
    ours, theirs = recipe.state_dict(), scripted.state_dict()
    assert ours.keys() == theirs.keys() and len(ours) == 48
    for key, tensor in ours.items():
        assert tensor.dtype == theirs[key].dtype and torch.equal(tensor, theirs[key]), key
    # and they are the checkpoint's values (not, say, both freshly initialised)
    with ckptio.open(ROOT / "examples/data/tiny_bert/bert_model.ckpt") as ckpt:
        word = np.array(ckpt["bert/embeddings/word_embeddings"])
        query = np.array(ckpt["bert/encoder/layer_1/attention/self/query/kernel"])
    assert np.array_equal(ours["bert.embeddings.word_embeddings.weight"].numpy(), word)
    assert np.array_equal(ours["bert.encoder.layer.1.attention.self.query.weight"].numpy(), query.T)
