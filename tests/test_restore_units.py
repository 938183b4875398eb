"""The partial-restore toolkit on its own, without TensorFlow: transforms, target forms, name
mapping rules, selection presets, the object-graph decoder, plans (reports, views, copies).

Checkpoints come from examples/data/ (written by TF once, committed); the behaviours compared
with TensorFlow itself are in test_restore_tf.py and test_restore_examples.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import ckptio
import ml_dtypes
import numpy as np
import pytest
from ckptio import RestoreError
from ckptio.errors import CorruptionError, NotFoundError
from ckptio.mapping import from_assignment_map, from_names, from_var_list
from ckptio.objgraph import ObjectGraph, object_path
from ckptio.targets import dtype_name, parse_targets
from ckptio.transforms import (
    Cast,
    Reshape,
    Reverse,
    TorchLayout,
    Transpose,
    torch_name,
    torch_transforms,
)
from conftest import mapped_file_at

DATA = Path(__file__).resolve().parents[1] / "examples" / "data"
TINY = DATA / "tiny_convnet"


@pytest.fixture(scope="module")
def tiny():
    with ckptio.open(TINY) as ckpt:
        yield ckpt


# --------------------------------------------------------------------------- transforms


def test_transforms_shapes_and_values():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    assert Reshape((6, -1)).shape(a.shape) == (6, 4)
    assert np.array_equal(Reshape((6, -1)).apply(a), a.reshape(6, 4))
    assert np.shares_memory(Reshape((4, 6)).apply(a), a)  # row-major view when contiguous
    with pytest.raises(ValueError, match="24 elements"):
        Reshape((5, 5)).shape(a.shape)
    with pytest.raises(ValueError):
        Reshape((-1, -1)).shape(a.shape)
    flipped = Reverse(axis=-1).apply(a)
    assert np.array_equal(flipped, a[..., ::-1]) and np.shares_memory(flipped, a)
    with pytest.raises(ValueError, match="out of range"):
        Reverse(axis=3).shape(a.shape)
    assert Transpose((2, 0, 1)).shape(a.shape) == (4, 2, 3)
    assert np.array_equal(Transpose((2, 0, 1)).apply(a), a.transpose(2, 0, 1))
    with pytest.raises(ValueError, match="does not fit"):
        Transpose((1, 0)).shape(a.shape)
    bf = Cast("bfloat16").apply(a)
    assert bf.dtype == np.dtype(ml_dtypes.bfloat16) and Cast(np.float16).to == "float16"
    with pytest.raises(ValueError):
        Cast("string").dtype("string")
    assert [str(t) for t in (Reshape((6, -1)), Reverse(2), Transpose((1, 0)), Cast("int8"))] == [
        "reshape(6,-1)",
        "reverse(axis=2)",
        "transpose(1,0)",
        "cast(int8)",
    ]
    assert Transpose((1, 0)).to_dict() == {"op": "transpose", "perm": [1, 0]}
    assert Reverse(2) == Reverse(2) and hash(Reshape((1,))) == hash(Reshape([1]))


def test_torch_layout_rules():
    kernel = np.random.default_rng(0).normal(size=(3, 3, 4, 2)).astype(np.float32)  # H W C M
    (transpose, reshape) = torch_transforms("depthwise2d", kernel.shape)
    weight = reshape.apply(transpose.apply(kernel))
    assert weight.shape == (8, 1, 3, 3)
    for c in range(4):
        for m in range(2):
            # torch's grouped conv output channel c*M + m is TF's depthwise channel (c, m)
            assert np.array_equal(weight[c * 2 + m, 0], kernel[:, :, c, m])
    assert torch_transforms("conv2d", (3, 3, 4, 8))[0].shape((3, 3, 4, 8)) == (8, 4, 3, 3)
    assert torch_transforms("dense", (4, 8))[0].shape((4, 8)) == (8, 4)
    with pytest.raises(ValueError, match="rank 4"):
        torch_transforms("conv2d", (3, 3))
    with pytest.raises(ValueError, match="unknown layout rule"):
        torch_transforms("lstm", (3, 3))

    assert torch_name("block/bn/moving_variance") == "block.bn.running_var"
    assert torch_name("fc/_kernel") == "fc.weight" and torch_name("conv1/biases") == "conv1.bias"
    layout = TorchLayout()
    assert layout.kind("conv/kernel", (3, 3, 4, 8), (8, 4, 3, 3)) == "conv2d"
    assert layout.kind("dw/kernel", (3, 3, 4, 2), (8, 1, 3, 3)) == "depthwise2d"
    assert layout.kind("dw/depthwise_kernel", (3, 3, 4, 2)) == "depthwise2d"
    assert layout.kind("fc/kernel", (4, 4), (4, 4)) == "dense"  # square: transposed anyway
    assert layout.kind("bn/gamma", (4,)) is None and layout.transforms("bn/beta", (4,)) == ()
    assert layout.target_only("bn.num_batches_tracked")


# --------------------------------------------------------------------------- targets


class FakeTensor:
    """Duck-typed like a torch tensor: .shape is a tuple subclass, dtype prints torch.xxx."""

    class Dtype:
        def __str__(self) -> str:
            return "torch.float16"

    shape = (2, 3)
    dtype = Dtype()


class KerasVariable:
    def __init__(self, path, shape, dtype="float32"):
        self.path, self.name, self.shape, self.dtype = path, path.rsplit("/", 1)[-1], shape, dtype


class TFVariable:
    def __init__(self, name, shape):
        self.name, self.shape, self.dtype = name, shape, None


def test_target_forms():
    assert parse_targets({"a": (2, 3), "b": ((), "int64"), "c": None, "d": [None, 4]}) == [
        ckptio.targets.Target("a", (2, 3)),
        ckptio.targets.Target("b", (), "int64"),
        ckptio.targets.Target("c"),
        ckptio.targets.Target("d", (None, 4)),
    ]
    state = parse_targets({"w": FakeTensor(), "x": np.zeros((4,), np.int8)})
    assert [(t.shape, t.dtype) for t in state] == [((2, 3), "float16"), ((4,), "int8")]
    keras = parse_targets([KerasVariable("dense/kernel", (4, 2)), TFVariable("v:0", (3,))])
    assert [(t.name, t.shape) for t in keras] == [("dense/kernel", (4, 2)), ("v", (3,))]
    assert [t.name for t in parse_targets(["a", ("b", (1,)), ("c", (1,), "bool")])] == [
        "a",
        "b",
        "c",
    ]
    with pytest.raises(ValueError, match="appears twice"):
        parse_targets(["a", "a"])
    with pytest.raises(TypeError):
        parse_targets(42)
    with pytest.raises(TypeError):
        parse_targets({"a": "not a shape"})
    assert [dtype_name(d) for d in (np.float32, "half", "long", "object", None, "nonsense")] == [
        "float32",
        "float16",
        "int64",
        "string",
        None,
        None,
    ]


# --------------------------------------------------------------------------- mapping


def test_assignment_map_rules_from_names():
    ckpt = ["old/a", "old/b", "c", "w", "stored"]
    pairs = lambda amap, targets: [  # noqa: E731
        (a.source, a.targets) for a in from_assignment_map(amap, targets, ckpt, "ck")
    ]
    assert pairs({"old/": "new/"}, ["new/a", "new/b", "x"]) == [
        ("old/a", ("new/a",)),
        ("old/b", ("new/b",)),
    ]
    assert pairs({"/": "new/"}, ["new/c", "other"]) == [("c", ("new/c",))]
    assert pairs({"old/": "/"}, ["a"]) == [("old/a", ("a",))]
    assert pairs({"w": "q"}, ["q/part_0", "q/part_1", "q/part_3"]) == [
        ("w", ("q/part_0", "q/part_1"))  # consecutive from part_0, as TF collects them
    ]
    assert pairs({"w": ["q/part_1", "q/part_0"]}, ["q/part_0", "q/part_1"]) == [
        ("w", ("q/part_1", "q/part_0"))
    ]
    assert pairs([("c", "x"), ("c", "y")], ["x", "y"]) == [("c", ("x",)), ("c", ("y",))]
    with pytest.raises(RestoreError, match="Slices must all be from the same tensor"):
        from_assignment_map({"w": ["q/part_0", "r/part_0"]}, ["q/part_0", "r/part_0"], ckpt)
    with pytest.raises(RestoreError, match="scope only"):
        from_assignment_map({"old": "new/"}, ["new/a"], ckpt)
    with pytest.raises(TypeError):
        from_assignment_map("old/", ["a"], ckpt)
    missing = from_assignment_map({"nope": "x"}, ["x"], ckpt, "ck")[0]
    assert not missing.found and missing.message.startswith("Tensor nope is not found in ck")


def test_var_list_and_names_rules():
    ckpt = ["v1", "v3", "my/w", "big"]
    got = from_var_list(["v1", ("v3", "v3_x")], ["v1", "v3_x"], ckpt, "ck")
    assert [(a.source, a.targets, a.mode) for a in got] == [
        ("v1", ("v1",), "var_list"),
        ("v3", ("v3_x",), "var_list"),
    ]
    with pytest.raises(RestoreError, match="no target named 'zz'"):
        from_var_list({"v1": "zz"}, ["v1"], ckpt)
    got = from_names(["w", "x/part_0", "x/part_1"], ["my/w", "my/x"], source_prefix="my/")
    assert [(a.source, a.targets, a.partitioned) for a in got] == [
        ("my/w", ("w",), False),
        ("my/x", ("x/part_0", "x/part_1"), True),
    ]
    got = from_names(["new/w", "other"], ckpt, source_prefix="my/", target_prefix="new/")
    assert [(a.source, a.targets) for a in got] == [("my/w", ("new/w",))]
    got = from_names(["W"], ["w"], rename=str.upper)
    assert [(a.source, a.targets) for a in got] == [("w", ("W",))]
    lost = from_names(["gone"], ckpt, checkpoint="ck")[0]
    assert not lost.found and lost.message == "Key gone not found in checkpoint ck"


# --------------------------------------------------------------------------- selection

TRAINING_STATE = [
    "global_step",
    "scope/global_step",
    "conv/weights/Momentum",
    "dense/kernel/Adam",
    "dense/kernel/Adam_1",
    "beta1_power",
    "beta2_power_1",
    "optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE",
    "model/w/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE",
    "conv/weights/ExponentialMovingAverage",
    "_CHECKPOINTABLE_OBJECT_GRAPH",
    "save_counter/.ATTRIBUTES/VARIABLE_VALUE",
]
WEIGHTS = [
    "conv/weights",
    "Adam_layer/kernel",
    "optimizer/_trainable_variables/0/.ATTRIBUTES/VARIABLE_VALUE",  # Keras 3 model weight
    "bn/moving_mean",
]


def test_presets():
    selection = ckptio.select(TRAINING_STATE + WEIGHTS, drop="training_state")
    assert selection == WEIGHTS
    assert selection.dropped["dense/kernel/Adam_1"] == "preset 'optimizer'"
    assert selection.dropped["conv/weights/ExponentialMovingAverage"] == "preset 'ema'"
    assert ckptio.select(TRAINING_STATE, drop=["global_step", "save_counter"]) == [
        n for n in TRAINING_STATE if "global_step" not in n and "save_counter" not in n
    ]
    with pytest.raises(ValueError, match="known presets"):
        ckptio.select(WEIGHTS, drop="everything")


def test_selection_modes_and_reports(tiny):
    names = ckptio.select(tiny, scope="convnet/conv1", suffix="weights")
    assert names == ["convnet/conv1/weights"]
    assert "outside scope='convnet/conv1', suffix='weights'" in names.dropped["global_step"]
    assert ckptio.select(TINY, include=["convnet/emb"]) == [
        "convnet/embedding",
        "convnet/embedding/Momentum",
    ]
    assert ckptio.select(tiny, include=["convnet/emb"], match="path") == []
    assert ckptio.select(tiny, suffix="embedding", match="path") == ["convnet/embedding"]
    assert ckptio.select(tiny, name="Momentum", match="path", scope="convnet/conv1") == [
        "convnet/conv1/biases/Momentum",
        "convnet/conv1/weights/Momentum",
    ]
    report = ckptio.select(tiny, exclude=["convnet/logits"], drop="optimizer").explain()
    assert report.startswith("selected 4, dropped 5")
    line = next(x for x in report.splitlines() if "convnet/logits/weights " in x)
    assert line.endswith("exclude 'convnet/logits'")
    with pytest.raises(ValueError, match="suffix or name"):
        ckptio.select(tiny, suffix="a", name="b")
    with pytest.raises(ValueError, match="match must be"):
        ckptio.select(tiny, match="glob")
    with pytest.raises(TypeError, match=r"exclude is provided but is not a list or a tuple\."):
        ckptio.select(tiny, exclude="global_step")


# --------------------------------------------------------------------------- object graph


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _field(number: int, value) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    value = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def _node(children=(), attributes=(), slots=(), extra=b"") -> bytes:
    body = b"".join(_field(1, _field(1, i) + _field(2, n)) for n, i in children)
    body += b"".join(
        _field(2, _field(1, "VARIABLE_VALUE") + _field(2, full) + _field(3, key))
        for full, key in attributes
    )
    body += b"".join(_field(3, _field(1, o) + _field(2, s) + _field(3, d)) for o, s, d in slots)
    return _field(1, body + extra)


def test_object_graph_decoder_by_hand():
    key = "net/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE"
    slot_key = "net/dense/kernel/.OPTIMIZER_SLOT/opt/m/.ATTRIBUTES/VARIABLE_VALUE"
    data = (
        _node(children=[("net", 1), ("opt", 3)])
        + _node(children=[("dense", 2)])
        + _node(children=[("kernel", 4)], extra=_field(99, 7))  # unknown field: skipped
        + _node(slots=[(4, "m", 5)])
        + _node(attributes=[("dense/kernel", key)])
        + _node(attributes=[("dense/kernel/Adam", slot_key)], extra=_field(5, _field(1, 1)))
    )
    graph = ObjectGraph.from_bytes(data)
    assert graph.paths[4] == ("net", "dense", "kernel")
    assert graph.full_names() == {key: "dense/kernel", slot_key: "dense/kernel/Adam"}
    (slot,) = graph.slots
    assert (slot.slot_of, slot.slot_name, slot.path) == (
        key,
        "m",
        "net/dense/kernel/.OPTIMIZER_SLOT/opt/m",
    )
    assert graph.nodes[5].has_checkpoint_values is True
    assert "net/\n" in graph.tree() and "slot variables:" in graph.tree()
    for broken in (data[:-3], b"\x0a\xff", b"\x0b", _node(children=[("x", 9)])):
        with pytest.raises(CorruptionError) as info:
            ObjectGraph.from_bytes(broken, source="ck")
        assert info.value.key == "_CHECKPOINTABLE_OBJECT_GRAPH" and info.value.file == "ck"


def test_object_path_unescapes():
    assert object_path("a..b/c.Sd/.ATTRIBUTES/VARIABLE_VALUE") == "a.b/c/d"
    assert object_path("table/.ATTRIBUTES/table-keys") == "table/table-keys"
    assert object_path("plain/name") == "plain/name"


def test_object_graph_needs_tf2_checkpoint(tiny):
    with pytest.raises(NotFoundError, match="not a TF2 object-based checkpoint") as info:
        ckptio.object_graph(tiny)
    assert info.value.key == "_CHECKPOINTABLE_OBJECT_GRAPH"


def test_keras_view_and_select():
    graph = ckptio.object_graph(DATA / "keras_convnet")
    view = graph.view()
    assert view.key("conv/kernel") == "model/_operations/1/_kernel/.ATTRIBUTES/VARIABLE_VALUE"
    assert ckptio.select(view, scope="bn/", match="path") == [
        "bn/beta",
        "bn/gamma",
        "bn/moving_mean",
        "bn/moving_variance",
    ]
    with pytest.raises(NotFoundError):
        view.key("nope")
    assert repr(view).startswith("<ckptio.NameView full_name names")


# --------------------------------------------------------------------------- plans


def test_plan_views_copies_and_streaming(tiny):
    plan = ckptio.plan_restore(tiny, {"convnet/conv1/weights": (3, 3, 3, 8), "global_step": ()})
    loaded = plan.load()
    kernel = loaded["convnet/conv1/weights"]
    # Zero-copy, in a mapping of the shard of its own (a write into it is not seen elsewhere).
    assert mapped_file_at(kernel.ctypes.data).endswith(".data-00000-of-00001")
    assert not np.shares_memory(kernel, tiny["convnet/conv1/weights"])
    assert not kernel.flags.writeable
    copies = plan.load(copy=True)
    assert copies["convnet/conv1/weights"].flags.writeable
    assert not np.shares_memory(copies["convnet/conv1/weights"], kernel)
    seen = []
    assert plan.load(callback=lambda name, array: seen.append((name, array.shape))) is None
    assert seen == [("convnet/conv1/weights", (3, 3, 3, 8)), ("global_step", ())]
    assert plan.unused and "convnet/embedding" in plan.unused


def test_plan_partitions_from_a_partitioned_tensor(tiny):
    full = tiny["convnet/embedding"]
    target = {f"emb/part_{i}": (5, 4) for i in range(4)}
    plan = ckptio.plan_restore(tiny, target, assignment_map={"convnet/embedding": "emb"})
    assert [e.region for e in plan.entries] == [((5 * i, 5 * i + 5), (0, 4)) for i in range(4)]
    loaded = plan.load()
    assert np.array_equal(np.concatenate([loaded[f"emb/part_{i}"] for i in range(4)]), full)
    # Transforms apply to the whole tensor, then each part takes its region.
    plan = ckptio.plan_restore(
        tiny,
        {"emb/part_0": (2, 20), "emb/part_1": (2, 20)},
        assignment_map={"convnet/embedding": "emb"},
        transforms={"emb": Transpose((1, 0))},
    )
    loaded = plan.load()
    assert np.array_equal(np.concatenate([loaded["emb/part_0"], loaded["emb/part_1"]]), full.T)


def test_cast_of_a_quantized_tensor_is_judged_on_its_values(tmp_path):
    """A qint8 tensor reads as int8: casting it to int32 keeps every value (no flag needed),
    to uint8 would lose the negatives (refused, then saturated when allowed)."""
    values = np.arange(-2, 2, dtype=np.int8)
    with ckptio.BundleWriter(str(tmp_path / "q")) as writer:
        writer.add("q", values, dtype="qint8")
    with ckptio.open(str(tmp_path / "q")) as ckpt:
        assert ckpt.dtype_names()["q"] == "qint8"
        wide = ckptio.plan_restore(
            ckpt, [("x", (4,), "int32")], assignment_map={"q": "x"}, cast=True
        )
        assert wide.load()["x"].tolist() == values.tolist()
        target = [("x", (4,), "uint8")]
        with pytest.raises(RestoreError, match="refusing to cast qint8 to uint8"):
            ckptio.plan_restore(ckpt, target, assignment_map={"q": "x"}, cast=True)
        plan = ckptio.plan_restore(
            ckpt, target, assignment_map={"q": "x"}, cast=True, allow_lossy_cast=True
        )
        assert plan.load()["x"].tolist() == [0, 0, 0, 1]


def test_plan_reports(tiny):
    target = {
        "convnet/conv1/weights": ((3, 3, 3, 8), "float16"),
        "convnet/logits/weights": (10, 128),
        "convnet/new": (3,),
        "global_step": ((), "int64"),
    }
    plan = ckptio.plan_restore(tiny, target, errors="report")
    assert not plan.ok
    assert [p.kind for p in plan.problems] == ["dtype", "shape", "missing"]
    assert "cast=True converts" in plan.problems[0].message
    assert "reshape=True" in plan.problems[1].message
    assert str(TINY) in plan.problems[2].message
    with pytest.raises(RestoreError, match="and 2 more problems"):
        plan.load()
    text = str(plan)
    for heading in ("3 PROBLEM(S)", "Missing in the checkpoint (fatal): 1", "Problems: 3"):
        assert heading in text
    data = json.loads(plan.to_json())
    assert data["ok"] is False and len(data["problems"]) == 3

    plan = ckptio.plan_restore(tiny, target, cast=True, reshape=True, ignore_missing=True)
    assert plan.ok and [m.target for m in plan.missing] == ["convnet/new"]
    loaded = plan.load()
    assert loaded["convnet/conv1/weights"].dtype == np.float16
    logits = tiny["convnet/logits/weights"]
    assert np.array_equal(loaded["convnet/logits/weights"], logits.reshape(10, 128))
    data = json.loads(plan.to_json())
    entry = next(e for e in data["entries"] if e["target"] == "convnet/logits/weights")
    assert entry["transforms"] == [{"op": "reshape", "shape": [10, 128]}]
    assert "reshape(10,128)" in str(plan) and "Missing in the checkpoint (ignored): 1" in str(plan)


def test_plan_transform_lookup_and_errors(tiny):
    name = "convnet/conv1/weights"
    by_target = ckptio.plan_restore(
        tiny, {"bgr": (3, 3, 3, 8)}, var_list={name: "bgr"}, transforms={"bgr": Reverse(2)}
    )
    by_source = ckptio.plan_restore(
        tiny, {"bgr": (3, 3, 3, 8)}, var_list={name: "bgr"}, transforms={name: [Reverse(2)]}
    )
    called = []

    def rule(source, target, shape, target_shape):
        called.append((source, target, shape, target_shape))
        return Reverse(2)

    by_callable = ckptio.plan_restore(
        tiny, {"bgr": (3, 3, 3, 8)}, var_list={name: "bgr"}, transforms=rule
    )
    assert called == [(name, "bgr", (3, 3, 3, 8), (3, 3, 3, 8))]
    for plan in (by_target, by_source, by_callable):
        assert np.array_equal(plan.load()["bgr"], tiny[name][:, :, ::-1, :])
    with pytest.raises(RestoreError, match="out of range"):
        ckptio.plan_restore(tiny, {name: None}, transforms={name: Reverse(7)})
    with pytest.raises(TypeError, match="not a ckptio Transform"):
        ckptio.plan_restore(tiny, {name: None}, transforms={name: [np.flip]})
    with pytest.raises(ValueError, match="not both"):
        ckptio.plan_restore(tiny, {}, assignment_map={}, var_list={})
    with pytest.raises(ValueError, match="source_prefix"):
        ckptio.plan_restore(tiny, {}, assignment_map={}, target_prefix="my/")
    with pytest.raises(ValueError, match="unknown layout"):
        ckptio.plan_restore(tiny, {}, layout="jax")
    with pytest.raises(RestoreError, match="not targets"):
        ckptio.plan_restore(tiny, {"a": None}, only=["b"])
    with pytest.raises(ValueError, match="errors must be"):
        ckptio.plan_restore(tiny, {}, errors="ignore")


def test_plan_target_is_a_checkpoint(tiny):
    """Restoring a checkpoint's own layout: every tensor pairs with itself, dtypes checked."""
    plan = ckptio.plan_restore(TINY, tiny)
    assert plan.ok and len(plan.entries) == len(tiny) and not plan.unused
    assert plan.pairs() == {name: name for name in tiny}


def test_overrides_are_noted(tiny):
    plan = ckptio.plan_restore(
        tiny,
        {"b": (8,)},
        assignment_map=[("convnet/conv1/biases", "b"), ("convnet/conv1/biases/Momentum", "b")],
    )
    assert plan.pairs() == {"b": "convnet/conv1/biases/Momentum"}
    assert "the last one wins" in plan.notes[0]


def test_readme_partial_restore_example_runs(monkeypatch, capsys):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme[readme.index("## Partial restore") :]
    code = section[section.index("```python\n") + 10 :]
    code = code[: code.index("```")]
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["plan"].ok and len(scope["arrays"]) == 2
    assert "reshape(196,16)" in capsys.readouterr().out
