"""Writes into ckptio's zero-copy views by libraries that ignore numpy's read-only flag.

Views lie in a private copy-on-write mapping: torch in-place ops, optimizer steps and raw
`ctypes` writes must never crash the process, never reach the file, and never show up in
arrays handed out by another `open`, `plan.load()` or `to_torch()` call. The writes run in a
subprocess, so a crash fails the test instead of killing pytest.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import ckptio
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
VGG_V1 = ROOT / "examples" / "data" / "vgg_16" / "vgg_16.ckpt"

torch = pytest.importorskip("torch", reason="torch is needed to write through torch.from_numpy")


def _digests(directory: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.is_file()
    }


@pytest.fixture
def v2_checkpoint(tmp_path) -> tuple[str, str]:
    """A bundle whose 2-D weight spans many pages, and the name of that weight."""
    rng = np.random.default_rng(0)
    (tmp_path / "v2").mkdir()
    prefix = str(tmp_path / "v2" / "model.ckpt-1")
    ckptio.save(
        prefix,
        {
            "dense/kernel": rng.standard_normal((300, 1000)).astype(np.float32),
            "dense/bias": rng.standard_normal(300).astype(np.float32),
            "global_step": np.int64(7),
        },
    )
    return prefix, "dense/kernel"


@pytest.fixture
def v1_checkpoint(tmp_path) -> tuple[str, str]:
    """TF-slim's V1 file (a zero-copy view for weights, a decoded array for global_step)."""
    path = tmp_path / "v1" / "vgg_16.ckpt"
    path.parent.mkdir()
    shutil.copy(VGG_V1, path)
    return str(path), "vgg_16/fc8/weights"


# The child process: reads `name` through `how`, writes into it with torch in-place ops, an SGD
# step and ctypes.memmove, and reports what other reads of the same tensor see afterwards.
CHILD = textwrap.dedent(
    """
    import ctypes, json, sys, warnings
    import numpy as np, torch
    import ckptio

    path, name = sys.argv[1:3]
    # torch.from_numpy warns (once per process) that numpy flags the view read-only.
    warnings.filterwarnings("ignore", "The given NumPy array is not writable", UserWarning)

    def check(how):
        ckpt = ckptio.open(path)
        original = ckpt.get_tensor(name, copy=True)
        others = [n for n in ckpt if ckpt.dtypes()[n] == np.float32]

        def tensors():
            # The tensor under test as each entry point hands it out (several times, to check
            # that separate calls are independent).
            if how == "open":
                return torch.from_numpy(ckpt[name])
            if how == "plan":
                model = {n: s for n, s in ckpt.shapes().items() if n in others}
                return torch.from_numpy(ckptio.plan_restore(path, model).load()[name])
            if how == "plan_open":  # a plan over an already open Checkpoint
                plan = ckptio.plan_restore(ckpt, {name: original.shape})
                return torch.from_numpy(plan.load()[name])
            if how == "to_torch":
                return ckptio.to_torch(path)[name]
            if how == "to_torch_open":
                return ckptio.to_torch(ckpt)[name]
            raise SystemExit("unknown entry point " + how)

        result = {}
        # 1. in-place ops on every element (every page of the view is written)
        t = tensors()
        t.zero_()
        t.add_(2.0)
        result["inplace"] = bool(torch.all(t == 2.0))

        # 2. the fine-tuning path: a layer's weight is the view, then an optimizer step
        t = tensors()
        w = t.reshape(t.shape[0], -1) if t.dim() != 2 else t
        layer = torch.nn.Linear(w.shape[1], w.shape[0], bias=False)
        layer.weight.data = w
        opt = torch.optim.SGD(layer.parameters(), lr=0.5)
        layer(torch.ones(4, w.shape[1])).sum().backward()
        opt.step()
        result["sgd_changed"] = bool(not np.array_equal(w.numpy(), original.reshape(w.shape)))

        # 3. a raw write: ctypes ignores every flag
        view = ckpt[name] if how == "open" else tensors().numpy()
        ctypes.memmove(view.ctypes.data, b"\\xff" * view.nbytes, view.nbytes)
        result["ctypes_written"] = bool(np.all(view.view(np.uint8) == 0xFF))

        # What other reads see afterwards.
        result["fresh_call_unchanged"] = bool(np.array_equal(tensors().numpy(), original))
        result["other_open_unchanged"] = bool(np.array_equal(ckptio.open(path)[name], original))
        result["same_open_unchanged"] = bool(np.array_equal(ckpt[name], original))
        step = ckpt["global_step"]  # a V1 decoded (cached) array, or a V2 view
        ctypes.memmove(step.ctypes.data, b"\\x01" * step.nbytes, step.nbytes)
        result["other_open_step"] = int(ckptio.open(path)["global_step"])
        ckpt.close()
        ckptio.open(path, verify=True).close()  # checksums of a fresh open are intact
        return result

    hows = ["open", "plan", "plan_open", "to_torch", "to_torch_open"]
    print(json.dumps({how: check(how) for how in hows}))
    """
)


@pytest.mark.parametrize("fmt", ["V2", "V1"])
def test_writes_into_views_never_crash_nor_reach_the_file(fmt, v2_checkpoint, v1_checkpoint):
    path, name = v2_checkpoint if fmt == "V2" else v1_checkpoint
    directory = Path(path).parent
    before = _digests(directory)
    with ckptio.open(path) as ckpt:
        original = {n: ckpt.get_tensor(n, copy=True) for n in ckpt}
        step = int(ckpt["global_step"])

    # the ckptio under test (an installed wheel in CI, a source tree, a sanitizer build)
    env = dict(os.environ, PYTHONPATH=str(Path(ckptio.__file__).resolve().parents[1]))
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, path, name],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, (
        f"the process writing into views died (status {proc.returncode}):\n{proc.stderr[-3000:]}"
    )
    results = json.loads(proc.stdout.strip().splitlines()[-1])

    assert _digests(directory) == before, "a write into a view reached the file"
    with ckptio.open(path, verify=True) as ckpt:
        for n, value in original.items():
            np.testing.assert_array_equal(ckpt[n], value, err_msg=n)
    for how, result in results.items():
        assert result["inplace"] and result["sgd_changed"] and result["ctypes_written"], how
        # Another open, and another plan.load()/to_torch() call, never see the writes.
        assert result["other_open_unchanged"], how
        assert result["other_open_step"] == step, how
        # Views from one open Checkpoint share its mapping; plan.load()/to_torch() calls get
        # their own, so the Checkpoint they read from does not see their writes either.
        if how == "open":
            assert not result["same_open_unchanged"] and not result["fresh_call_unchanged"]
        else:
            assert result["same_open_unchanged"] and result["fresh_call_unchanged"], how


def test_views_stay_read_only_for_numpy(v2_checkpoint, v1_checkpoint):
    for path, name in (v2_checkpoint, v1_checkpoint):
        with ckptio.open(path) as ckpt:
            view = ckpt[name]
            assert not view.flags.writeable
            with pytest.raises(ValueError, match="read-only"):
                view[...] = 0
            plan = ckptio.plan_restore(ckpt, {name: view.shape})
            assert not plan.load()[name].flags.writeable


def test_to_torch_and_as_torch_do_not_warn(v2_checkpoint, recwarn):
    # pytest runs with warnings as errors: torch's "not writable" warning would fail here.
    path, name = v2_checkpoint
    state = ckptio.to_torch(path)
    with ckptio.open(path) as ckpt:
        tensor = ckptio.as_torch(ckpt[name])
        np.testing.assert_array_equal(tensor.numpy(), ckpt[name])
    assert tensor.data_ptr() != state[name].data_ptr()
    assert not recwarn.list


def test_plan_load_callback_example_with_torch(tmp_path):
    """The example of `RestorePlan.load(callback=...)` in the docs, run as written."""
    module = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
    rng = np.random.default_rng(1)
    stored = {
        k: rng.standard_normal(tuple(v.shape)).astype(np.float32)
        for k, v in module.state_dict().items()
    }
    path = str(tmp_path / "model.ckpt-0")
    ckptio.save(path, stored)

    # The README's block, run as written.
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("straight into a PyTorch module") :]
    block = block[block.index("```python\n") + 10 :]
    block = block[: block.index("```")]
    exec(compile(block, "README.md", "exec"), {"ckptio": ckptio, "module": module, "path": path})

    for name, value in module.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), stored[name], err_msg=name)
    example = "plan.load(callback=lambda name, array: model[name].copy_(ckptio.as_torch(array)))"
    assert example in block and example in ckptio.restore.__doc__


def test_writes_into_remote_views_stay_in_their_array(v2_checkpoint):
    """Remote reads hand out downloaded buffers: a write into one (ctypes ignores the flag)
    must not change what later reads return, even where the source keeps the bytes cached."""
    import ctypes

    fsspec = pytest.importorskip("fsspec")
    path, _ = v2_checkpoint
    fs = fsspec.filesystem("memory")
    directory = Path(path).parent
    root = f"views{abs(hash(str(directory)))}"  # the memory file system is process-wide
    for f in directory.iterdir():
        fs.pipe_file(f"/{root}/{f.name}", f.read_bytes())
    url = f"memory://{root}/{Path(path).name}"
    with ckptio.open(path) as local:
        want = {n: local.get_tensor(n, copy=True) for n in local}
    with ckptio.open(url) as ckpt:
        ckpt.prefetch(list(want))  # through the block cache too
        for n in want:
            view = ckpt[n]
            ctypes.memset(view.ctypes.data, 0x55, view.nbytes)
        for n, value in want.items():
            np.testing.assert_array_equal(ckpt[n], value, err_msg=n)
    with ckptio.open(url) as ckpt:
        for n, value in want.items():
            np.testing.assert_array_equal(ckpt[n], value, err_msg=n)
