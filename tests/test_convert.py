"""Conversions (ckptio.convert): each written file is read back by its own library (safetensors,
numpy, torch, onnx / onnxruntime) and compared bit for bit with ckptio's view of the source.

torch tests skip when torch is not importable; onnxruntime is used when installed, otherwise the
filled model is checked with ``onnx.checker`` and its initializers compared.
"""

from __future__ import annotations

import json
import os
import struct
import sys

import ckptio
import ml_dtypes
import numpy as np
import pytest
from ckptio import convert
from conftest import assert_bitwise_equal, mapped_file_at

# Every test here reads files back with safetensors (the test extra; a wheel's smoke run on a
# platform without it skips them).
safetensors = pytest.importorskip("safetensors", reason="safetensors is not installed")
pytest.importorskip("safetensors.numpy")  # makes safetensors.numpy an attribute

# ckptio dtype name -> safetensors dtype code, as the safetensors format documents them.
SAFETENSORS_CODES = {
    "bool": "BOOL",
    "uint8": "U8",
    "int8": "I8",
    "uint16": "U16",
    "int16": "I16",
    "uint32": "U32",
    "int32": "I32",
    "uint64": "U64",
    "int64": "I64",
    "float16": "F16",
    "bfloat16": "BF16",
    "float32": "F32",
    "float64": "F64",
    "float8_e4m3fn": "F8_E4M3",
    "float8_e5m2": "F8_E5M2",
}


def raw(array: np.ndarray) -> bytes:
    return np.ascontiguousarray(array).tobytes()


@pytest.fixture
def small(tmp_path) -> str:
    """A small V2 checkpoint written by ckptio: floats of three widths, ints, a string."""
    rng = np.random.default_rng(0)
    (tmp_path / "small").mkdir()
    return ckptio.save(
        str(tmp_path / "small" / "model.ckpt-1"),
        {
            "dense/kernel": rng.normal(size=(4, 3)).astype(np.float32),
            "dense/bias": rng.normal(size=(3,)).astype(np.float32),
            "conv/kernel": rng.normal(size=(3, 3, 2, 5)).astype(np.float32),
            "conv/bias": rng.normal(size=(5,)).astype(np.float32),
            "emb": rng.normal(size=(6, 2)).astype(ml_dtypes.bfloat16),
            "global_step": np.int64(7),
            "vocab": np.array([b"a", b"b\xff"], dtype=object),
        },
    )


# --------------------------------------------------------------------------- safetensors


def test_safetensors_all_dtypes_bit_for_bit(tf_checkpoints, tmp_path):
    prefix = tf_checkpoints("all_dtypes")
    out = tmp_path / "all.safetensors"
    report = ckptio.to_safetensors(prefix, out, unsupported="skip", verify=True)
    assert report.verified and report.format == "safetensors"
    with ckptio.open(prefix) as ckpt:
        dtype_names = ckpt.dtype_names()
        # Every dtype of the documented safetensors set is written, natively (no widening).
        written_dtypes = {dtype_names[n] for n in report.written}
        assert set(SAFETENSORS_CODES) <= written_dtypes
        assert all(dtype_names[n] not in SAFETENSORS_CODES for n in report.skipped)
        assert {dtype_names[n] for n in report.skipped} >= {"string", "int4", "complex128"}
        assert set(report.written) | set(report.skipped) == set(ckpt)

        # The library's own parser: dtype codes, shapes and raw bytes of every tensor.
        stored = dict(safetensors.deserialize(out.read_bytes()))
        assert set(stored) == set(report.written.values())
        for name, target in report.written.items():
            want = ckpt[name]
            entry = stored[target]
            code = SAFETENSORS_CODES.get(dtype_names[name])
            if code is not None:
                assert entry["dtype"] == code, name
            assert tuple(entry["shape"]) == want.shape, name
            assert bytes(entry["data"]) == raw(want), name

        # And the numpy loader, for the dtypes numpy (and ml_dtypes bfloat16) can hold.
        loadable = {n for n in report.written if dtype_names[n] in SAFETENSORS_CODES}
        loadable -= {n for n in loadable if dtype_names[n].startswith("float8")}
        with safetensors.safe_open(out, framework="np") as f:
            for name in sorted(loadable):
                assert_bitwise_equal(f.get_tensor(name), ckpt[name], name)


def test_safetensors_unsupported_raise_writes_nothing(tf_checkpoints, tmp_path):
    out = tmp_path / "s.safetensors"
    with pytest.raises(ckptio.UnsupportedError) as info:
        ckptio.to_safetensors(tf_checkpoints("strings"), out)
    assert "string" in str(info.value) and "unsupported='skip'" in str(info.value)
    assert info.value.key is not None
    assert not out.exists() and os.listdir(tmp_path) == []


def test_safetensors_select_rename_cast_metadata(small, tmp_path):
    out = tmp_path / "sub.safetensors"
    report = ckptio.to_safetensors(
        small,
        out,
        select=lambda n: n.startswith(("dense/", "emb")),
        rename={"dense/": "fc/", "emb": "embedding"},
        cast="float16",
        metadata={"format": "pt"},
        verify=True,
    )
    assert report.written == {
        "dense/bias": "fc/bias",
        "dense/kernel": "fc/kernel",
        "emb": "embedding",
    }
    header_len = struct.unpack("<Q", out.read_bytes()[:8])[0]
    header = json.loads(out.read_bytes()[8 : 8 + header_len])
    assert header["__metadata__"] == {"format": "pt"}
    loaded = safetensors.numpy.load_file(out)
    with ckptio.open(small) as ckpt:
        assert_bitwise_equal(loaded["fc/kernel"], ckpt["dense/kernel"].astype(np.float16))
        assert_bitwise_equal(loaded["embedding"], ckpt["emb"].astype(np.float16))


def test_rename_collision_is_an_error(small, tmp_path):
    with pytest.raises(ckptio.CheckpointError, match="would be written as"):
        ckptio.to_npz(
            small, tmp_path / "x.npz", rename={"dense/bias": "dense/kernel"}, unsupported="skip"
        )


def test_verify_catches_a_bad_write_and_leaves_no_file(small, tmp_path, monkeypatch):
    from ckptio.convert.safetensors_file import StreamingWriter

    real = StreamingWriter.write

    def damaging_write(self, name, value):
        real(self, name, value)
        if value.nbytes:  # overwrite the last byte just written with a different one
            last = np.ascontiguousarray(value).reshape(-1).view(np.uint8)[-1]
            self.file.seek(-1, os.SEEK_CUR)
            self.file.write(bytes([last ^ 0xFF]))

    monkeypatch.setattr(StreamingWriter, "write", damaging_write)
    out = tmp_path / "bad.safetensors"
    with pytest.raises(ckptio.CheckpointError, match="verification failed"):
        ckptio.to_safetensors(small, out, unsupported="skip", verify=True)
    assert not out.exists() and os.listdir(tmp_path) == ["small"]


def test_verify_checks_source_checksums(tmp_path):
    prefix = ckptio.save(str(tmp_path / "c"), {"w": np.arange(64, dtype=np.float32)})
    data = tmp_path / "c.data-00000-of-00001"
    blob = bytearray(data.read_bytes())
    blob[10] ^= 0x01
    data.write_bytes(bytes(blob))
    ckptio.to_npz(prefix, tmp_path / "unchecked.npz")  # converts what is there
    with pytest.raises(ckptio.CorruptionError) as info:
        ckptio.to_npz(prefix, tmp_path / "checked.npz", verify=True)
    assert info.value.key == "w"
    assert not (tmp_path / "checked.npz").exists()


def test_existing_output_needs_overwrite(small, tmp_path):
    out = tmp_path / "x.npz"
    ckptio.to_npz(small, out, unsupported="skip")
    with pytest.raises(ckptio.CheckpointError, match="overwrite"):
        ckptio.to_npz(small, out, unsupported="skip")
    ckptio.to_npz(small, out, unsupported="skip", overwrite=True)


# --------------------------------------------------------------------------- npz


@pytest.mark.parametrize("compress", [False, True])
def test_npz_partitioned_and_all_dtypes(tf_checkpoints, tmp_path, compress):
    for fixture in ("partitioned", "all_dtypes"):
        prefix = tf_checkpoints(fixture)
        out = tmp_path / f"{fixture}.npz"
        report = ckptio.to_npz(prefix, out, unsupported="skip", compress=compress, verify=True)
        with ckptio.open(prefix) as ckpt, np.load(out, allow_pickle=False) as archive:
            assert set(report.skipped) == {n for n, d in ckpt.dtypes().items() if d == "string"}
            assert sorted(archive.files) == sorted(report.written.values())
            for name in report.written:
                want, got = ckpt[name], archive[name]
                if type(want.dtype).__module__.startswith("ml_dtypes") or got.dtype.kind == "V":
                    got = got.view(want.dtype)  # numpy stores ml_dtypes as raw void bits
                assert_bitwise_equal(got, want, f"{fixture}/{name}")


def test_npz_transforms_and_object_graph(tf_checkpoints, tmp_path):
    prefix = tf_checkpoints("tf2_checkpoint")
    kernel = "model/hidden/_kernel/.ATTRIBUTES/VARIABLE_VALUE"
    out = tmp_path / "t.npz"
    report = ckptio.to_npz(
        prefix, out, transforms={kernel: np.transpose}, unsupported="skip", verify=True
    )
    assert "TF2 object graph" in report.skipped.pop("_CHECKPOINTABLE_OBJECT_GRAPH")
    assert report.skipped == {"vocab/.ATTRIBUTES/VARIABLE_VALUE": "string tensors cannot be "
                              "stored in npz"}  # fmt: skip
    with ckptio.open(prefix) as ckpt, np.load(out) as archive:
        assert_bitwise_equal(archive[kernel], np.ascontiguousarray(ckpt[kernel].T))
        assert len(archive.files) == len(ckpt) - 2


def test_convert_by_suffix(small, tmp_path):
    report = convert.convert(small, tmp_path / "m.npz", unsupported="skip")
    assert report.format == "npz"
    with pytest.raises(ValueError, match="cannot tell the format"):
        convert.convert(small, tmp_path / "m.bin")
    with pytest.raises(ValueError, match="unknown format"):
        convert.convert(small, tmp_path / "m.bin", to="h5")


# --------------------------------------------------------------------------- torch


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch", reason="torch is optional (pip install ckptio[torch])")


def test_torch_state_dict_loads_into_module(torch, small):
    state = ckptio.to_torch(small, layout="torch", select=lambda n: "/" in n)
    assert set(state) == {"dense.weight", "dense.bias", "conv.weight", "conv.bias"}

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.dense = torch.nn.Linear(4, 3)
            self.conv = torch.nn.Conv2d(2, 5, 3)

    net = Net()
    net.load_state_dict(state, strict=True)
    with ckptio.open(small) as ckpt:
        kernel, bias = ckpt["dense/kernel"], ckpt["dense/bias"]
        x = np.random.default_rng(1).normal(size=(2, 4)).astype(np.float32)
        got = net.dense(torch.from_numpy(x)).detach().numpy()
        np.testing.assert_allclose(got, x @ kernel + bias, rtol=1e-6, atol=1e-6)
        conv = net.conv.weight.detach().numpy()
        assert_bitwise_equal(conv, np.ascontiguousarray(ckpt["conv/kernel"].transpose(3, 2, 0, 1)))


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs /proc/self/maps")
def test_torch_tensors_share_memory_unless_copied(torch, small):
    with ckptio.open(small) as ckpt:
        view = ckpt["dense/bias"]
        shared = ckptio.to_torch(ckpt, select=["dense/bias"])["dense/bias"]  # no warning either
        # Zero-copy: the tensor lies in a mapping of the data shard, though not the one `view`
        # lies in (each to_torch call gets its own, so writes into one are not seen by others).
        assert mapped_file_at(shared.data_ptr()).endswith(".data-00000-of-00001")
        assert shared.data_ptr() != view.ctypes.data
        np.testing.assert_array_equal(shared.numpy(), view)
        copied = ckptio.to_torch(ckpt, select=["dense/bias"], copy=True)["dense/bias"]
        assert copied.data_ptr() != view.ctypes.data
        copied.add_(1)  # writable
        emb = ckptio.to_torch(ckpt, select=["emb"])["emb"]
        assert emb.dtype == torch.bfloat16
        assert emb.view(torch.int16).numpy().tobytes() == raw(ckpt["emb"])


def test_save_torch_all_dtypes(torch, tf_checkpoints, tmp_path):
    prefix = tf_checkpoints("all_dtypes")
    out = tmp_path / "all.pt"
    report = ckptio.save_torch(prefix, out, unsupported="skip", verify=True)
    loaded = torch.load(out, weights_only=True)
    with ckptio.open(prefix) as ckpt:
        names = ckpt.dtype_names()
        wanted = {"bfloat16", "float8_e4m3fn", "float8_e5m2", "complex128", "bool", "uint64"}
        assert {names[n] for n in report.written} >= wanted
        for name, target in report.written.items():
            tensor = loaded[target]
            if tensor.dtype == torch.bfloat16:
                tensor = tensor.view(torch.int16)
            elif tensor.dtype.is_floating_point and tensor.dtype.itemsize == 1:
                tensor = tensor.view(torch.uint8)
            assert tuple(tensor.shape) == ckpt[name].shape, name
            assert tensor.numpy().tobytes() == raw(ckpt[name]), name


def test_missing_library_says_which_extra(small, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install 'ckptio\[torch\]'"):
        ckptio.to_torch(small)
    assert not (tmp_path / "x.pt").exists()


def test_torch_strings_raise(torch, tf_checkpoints):
    with pytest.raises(ckptio.UnsupportedError, match="PyTorch"):
        ckptio.to_torch(tf_checkpoints("strings"))


# --------------------------------------------------------------------------- ONNX


def _linear_model(onnx):
    """Y = X @ W + B, with placeholder initializers W [4, 3] and B [3]."""
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["X", "W"], ["XW"]),
            helper.make_node("Add", ["XW", "B"], ["Y"]),
        ],
        "linear",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [2, 3])],
        initializer=[
            numpy_helper.from_array(np.zeros((4, 3), np.float32), "W"),
            numpy_helper.from_array(np.zeros((3,), np.float32), "B"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _run(onnx, path, x):
    """Y for input x: with onnxruntime when installed, else from the initializers."""
    try:
        import onnxruntime
    except ImportError:
        from onnx import numpy_helper

        model = onnx.load(str(path))
        onnx.checker.check_model(model)
        inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        return x @ inits["W"] + inits["B"]
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["Y"], {"X": x})[0]


@pytest.mark.parametrize("external", [False, True])
def test_fill_onnx_runs(small, tmp_path, external):
    onnx = pytest.importorskip("onnx")
    model = _linear_model(onnx)
    template = tmp_path / "template.onnx"
    onnx.save_model(model, str(template))
    out = tmp_path / "filled.onnx"
    report = ckptio.fill_onnx(
        str(template),
        small,
        out,
        name_map={"W": "dense/kernel", "B": "dense/bias"},
        external_data=external,
        size_threshold=0,
        verify=True,
    )
    assert report.written == {"dense/kernel": "W", "dense/bias": "B"} and report.verified
    assert (tmp_path / "filled.onnx.data").exists() == external
    x = np.random.default_rng(2).normal(size=(2, 4)).astype(np.float32)
    with ckptio.open(small) as ckpt:
        want = x @ ckpt["dense/kernel"] + ckpt["dense/bias"]
        np.testing.assert_allclose(_run(onnx, out, x), want, rtol=1e-6, atol=1e-6)
        from onnx import numpy_helper

        loaded = onnx.load(str(out))
        inits = {t.name: numpy_helper.to_array(t) for t in loaded.graph.initializer}
        assert_bitwise_equal(inits["W"], ckpt["dense/kernel"])
    # The template is untouched.
    assert not numpy_helper.to_array(onnx.load(str(template)).graph.initializer[0]).any()


def test_fill_onnx_checks_names_shapes_dtypes(small, tmp_path):
    onnx = pytest.importorskip("onnx")
    model = _linear_model(onnx)
    out = tmp_path / "f.onnx"
    with pytest.raises(ckptio.CheckpointError, match="no such tensor for ONNX initializer 'W'"):
        ckptio.fill_onnx(model, small, out, name_map={"W": "dense/kernal"})
    # Initializers named like no tensor (and unmapped ones) keep the model's values.
    report = ckptio.fill_onnx(model, small, tmp_path / "same.onnx")
    assert report.written == {} and set(report.skipped) == {"W", "B"}
    with pytest.raises(ckptio.CheckpointError, match=r"shape \[3\] differs"):
        ckptio.fill_onnx(model, small, out, name_map={"W": "dense/bias", "B": "dense/bias"})
    with pytest.raises(ckptio.CheckpointError, match="pass cast=True"):
        ckptio.fill_onnx(
            model,
            small,
            out,
            name_map={"W": "dense/kernel", "B": "emb"},
            transforms={"emb": lambda a: a[0, :1].repeat(3)},
        )
    assert not out.exists()
    # cast=True follows the cast policy: float32 into an int32 initializer would lose values.
    int_model = _linear_model(onnx)
    int_model.graph.initializer[1].data_type = onnx.TensorProto.INT32
    int_map = {"W": "dense/kernel", "B": "dense/bias"}
    with pytest.raises(ckptio.LossyCastError, match="float32 to int32") as err:
        ckptio.fill_onnx(int_model, small, out, name_map=int_map, cast=True)
    assert err.value.key == "dense/bias" and not out.exists()
    ckptio.fill_onnx(int_model, small, out, name_map=int_map, cast=True, allow_lossy_cast=True)
    from onnx import numpy_helper

    inits = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(out)).graph.initializer}
    with ckptio.open(small) as ckpt:
        assert_bitwise_equal(inits["B"], np.trunc(ckpt["dense/bias"]).astype(np.int32))
    out.unlink()
    # Not strict: an initializer without a tensor keeps the model's value.
    name_map = {"W": "dense/kernel", "B": "missing"}
    report = ckptio.fill_onnx(model, small, out, name_map=name_map, strict=False)
    assert report.skipped == {"B": "kept the model's value (no tensor 'missing')"}
    # A transform makes an [out, in] (Gemm transB-style) weight from the [in, out] kernel.
    model.graph.initializer[0].dims[:] = [3, 4]
    report = ckptio.fill_onnx(
        model,
        small,
        tmp_path / "t.onnx",
        name_map={"W": "dense/kernel", "B": "dense/bias"},
        transforms={"dense/kernel": np.transpose},
        verify=True,
    )
    assert report.verified


def test_safetensors_tensors_are_aligned_to_their_element_size(tmp_path):
    """Odd-sized narrow tensors sort after wide ones (as the safetensors package writes them),
    so every tensor starts at a multiple of its element size and torch can view it in place."""
    values = {
        "a/byte": np.arange(3, dtype=np.uint8),
        "b/half": np.arange(5, dtype=np.float16),
        "c/double": np.arange(7, dtype=np.float64),
        "d/float": np.arange(3, dtype=np.float32),
        "e/bf16": np.arange(1, dtype=ml_dtypes.bfloat16),
    }
    prefix = ckptio.save(str(tmp_path / "mixed"), values)
    out = tmp_path / "mixed.safetensors"
    ckptio.to_safetensors(prefix, out, verify=True)
    blob = out.read_bytes()
    (length,) = struct.unpack("<Q", blob[:8])
    assert (8 + length) % 8 == 0
    header = json.loads(blob[8 : 8 + length])
    for name, value in values.items():
        begin, end = header[name]["data_offsets"]
        assert begin % value.dtype.itemsize == 0, name
        assert blob[8 + length + begin : 8 + length + end] == raw(value)
    loaded = safetensors.numpy.load_file(out)
    for name, value in values.items():
        assert_bitwise_equal(loaded[name], value, name)


def test_to_safetensors_holds_one_cast_tensor_at_a_time(tmp_path):
    """A cast conversion streams: the peak of numpy allocations stays near one tensor's size,
    not the whole output's (8 tensors of 4 MiB, cast to float16)."""
    import tracemalloc

    tensor_bytes = 4 << 20
    values = {f"layer_{i}/w": np.full(tensor_bytes // 4, i, np.float32) for i in range(8)}
    prefix = ckptio.save(str(tmp_path / "big"), values)
    del values
    tracemalloc.start()
    try:
        ckptio.to_safetensors(prefix, tmp_path / "half.safetensors", cast="float16")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * tensor_bytes, f"peak {peak} bytes"
    loaded = safetensors.numpy.load_file(tmp_path / "half.safetensors")
    assert loaded["layer_7/w"].dtype == np.float16 and loaded["layer_7/w"][0] == 7


def test_streaming_writer_refuses_a_tensor_out_of_order_or_of_another_shape(tmp_path):
    from ckptio.convert.safetensors_file import StreamingWriter

    with open(tmp_path / "x.safetensors", "wb") as f:
        writer = StreamingWriter(
            f, [("a", np.dtype(np.float32), (2,)), ("b", np.dtype(np.float32), (3,))]
        )
        with pytest.raises(ValueError, match="out of order"):
            writer.write("b", np.zeros(3, np.float32))
        with pytest.raises(ValueError, match=r"expected F32 \[2\]"):
            writer.write("a", np.zeros(3, np.float32))
        with pytest.raises(ValueError, match=r"expected F32 \[2\]"):
            writer.write("a", np.zeros(2, np.int32))
        writer.write("a", np.zeros(2, np.float32))
        writer.write("b", np.zeros(3, np.float32))


def test_safetensors_metadata_and_names_the_format_cannot_hold_are_refused(small, tmp_path):
    with pytest.raises(ckptio.UsageError, match="strings to strings"):
        ckptio.to_safetensors(
            small, tmp_path / "m.safetensors", metadata={"step": 1}, unsupported="skip"
        )
    with pytest.raises(ckptio.UnsupportedError, match="reserves this name") as info:
        ckptio.to_safetensors(
            small,
            tmp_path / "n.safetensors",
            rename={"dense/bias": "__metadata__"},
            unsupported="skip",
        )
    assert info.value.key == "__metadata__"
    assert sorted(os.listdir(tmp_path)) == ["small"]
