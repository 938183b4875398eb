"""Files ckptio writes behave like every other tool's: the mode `open(path, "w")` gives under
the user's umask, output directories created as TensorFlow's writers create them, and errors
that name the file the user asked for, never an internal temporary name."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import ckptio
import numpy as np
import pytest
from ckptio.errors import CheckpointError

TENSORS = {
    "dense/kernel": np.arange(12, dtype=np.float32).reshape(4, 3),
    "dense/bias": np.ones(3, np.float32),
}


@pytest.fixture(params=[0o022, 0o027, 0o002], ids=lambda m: f"umask{m:03o}")
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _plain_open_mode(directory: Path) -> int:
    probe = directory / "probe-written-by-open"
    with open(probe, "w") as f:
        f.write("x")
    mode = _mode(probe)
    probe.unlink()
    return mode


def _onnx_template(path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["Y"])],
        "linear",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [2, 3])],
        initializer=[numpy_helper.from_array(np.zeros((4, 3), np.float32), "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save_model(model, str(path))


def test_every_written_file_gets_the_mode_open_gives(tmp_path, umask):
    expected = _plain_open_mode(tmp_path)
    assert expected == 0o666 & ~umask
    src = tmp_path / "src" / "model.ckpt-1"
    ckptio.save(src, TENSORS, update_state=True)
    ckptio.rewrite(src, tmp_path / "re" / "model.ckpt-2", update_state=True)
    ckptio.to_safetensors(src, tmp_path / "out" / "m.safetensors")
    ckptio.to_npz(src, tmp_path / "out" / "m.npz")
    written = [
        *sorted((tmp_path / "src").iterdir()),
        *sorted((tmp_path / "re").iterdir()),
        tmp_path / "out" / "m.safetensors",
        tmp_path / "out" / "m.npz",
    ]
    if _has("torch"):
        ckptio.save_torch(src, tmp_path / "out" / "m.pt")
        written.append(tmp_path / "out" / "m.pt")
    if _has("onnx"):
        _onnx_template(tmp_path / "template.onnx")
        ckptio.fill_onnx(
            tmp_path / "template.onnx",
            src,
            tmp_path / "out" / "m.onnx",
            name_map={"W": "dense/kernel"},
            external_data=True,
            size_threshold=0,
        )
        written += [tmp_path / "out" / "m.onnx", tmp_path / "out" / "m.onnx.data"]
    names = {p.name for p in written}
    assert {"checkpoint", "model.ckpt-1.index", "model.ckpt-2.data-00000-of-00001"} <= names
    assert {p.name: oct(_mode(p)) for p in written} == {p.name: oct(expected) for p in written}
    assert not [p for p in tmp_path.rglob("*") if "tempstate" in p.name]


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def test_missing_output_directories_are_created(tmp_path, tf):
    # TensorFlow's own writer creates them: the reference.
    tf.train.Checkpoint(v=tf.Variable([1.0, 2.0])).write(str(tmp_path / "tf" / "a" / "ckpt"))
    assert (tmp_path / "tf" / "a" / "ckpt.index").is_file()

    src = tmp_path / "x" / "y" / "model.ckpt-1"
    ckptio.save(src, TENSORS)
    with ckptio.BundleWriter(tmp_path / "w" / "v" / "model.ckpt-2", update_state=True) as w:
        w.add("b", TENSORS["dense/bias"])
    ckptio.rewrite(src, tmp_path / "r" / "s" / "model.ckpt-3")
    ckptio.to_safetensors(src, tmp_path / "st" / "deep" / "m.safetensors")
    ckptio.to_npz(src, tmp_path / "npz" / "deep" / "m.npz")
    for prefix in ("x/y/model.ckpt-1", "w/v/model.ckpt-2", "r/s/model.ckpt-3"):
        with ckptio.open(tmp_path / prefix) as ckpt:
            assert set(ckpt) <= set(TENSORS) | {"b"}
    assert ckptio.latest_checkpoint(str(tmp_path / "w" / "v")).endswith("model.ckpt-2")
    assert (tmp_path / "st" / "deep" / "m.safetensors").is_file()
    assert (tmp_path / "npz" / "deep" / "m.npz").is_file()


def test_errors_never_show_temporary_names(tmp_path):
    src = tmp_path / "model.ckpt-1"
    ckptio.save(src, TENSORS)

    # The final name is taken by a directory: the rename into place fails.
    (tmp_path / "taken.index").mkdir()
    with pytest.raises(CheckpointError) as info:
        ckptio.save(tmp_path / "taken", TENSORS, overwrite=True)
    assert "tempstate" not in str(info.value) and str(tmp_path / "taken.index") in str(info.value)

    (tmp_path / "taken.safetensors").mkdir()
    with pytest.raises(CheckpointError) as info:
        ckptio.to_safetensors(src, tmp_path / "taken.safetensors", overwrite=True)
    assert "tempstate" not in str(info.value)
    assert str(tmp_path / "taken.safetensors") in str(info.value)

    # A final name so long that the temporary one passes the file system's limit.
    long = tmp_path / ("m" * (os.pathconf(tmp_path, "PC_NAME_MAX") - len(".index")))
    with pytest.raises(CheckpointError) as info:
        ckptio.save(long, TENSORS)
    assert "tempstate" not in str(info.value) and "name too long" in str(info.value).lower()
    long_npz = tmp_path / ("n" * (os.pathconf(tmp_path, "PC_NAME_MAX") - len(".npz")) + ".npz")
    with pytest.raises(CheckpointError) as info:
        ckptio.to_npz(src, long_npz)
    assert "tempstate" not in str(info.value) and "name too long" in str(info.value).lower()
    assert not [p for p in tmp_path.iterdir() if "tempstate" in p.name]
