"""ckptio's partial-restore toolkit side by side with TensorFlow (test-only TF and tf-slim).

For each case TF builds variables in `tf.compat.v1` graph mode and runs the real thing
(`init_from_checkpoint`, slim's `get_variables*` / `assign_from_checkpoint_fn`, `Saver`);
ckptio plans the same restore from names and shapes alone. They must agree on the pairs
(target <- checkpoint tensor, and slice for partitions), the values, and the failures.
The TF2 object graph decoder is checked against TF's own protobuf parse.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import ckptio
import numpy as np
import pytest
from ckptio import RestoreError
from conftest import assert_bitwise_equal, import_tensorflow


@pytest.fixture(scope="module")
def tf():
    return import_tensorflow()


@pytest.fixture(scope="module")
def slim(tf):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip(
            "tf_slim", reason="tf-slim is not installed (test-only: pip install tf-slim)"
        )


# --------------------------------------------------------------------------- source checkpoint

SOURCE = {
    "old/a": np.arange(4, dtype=np.float32),
    "old/b": np.arange(6, dtype=np.float32).reshape(2, 3) + 10,
    "old/sub/c": np.array([7, 8, 9], dtype=np.float32),
    "c": np.float32(3.5),
    "d": np.array([-1, -2, -3, -4], dtype=np.float32),
    "p": np.arange(20, dtype=np.float32).reshape(10, 2) - 5,
    "wide": np.arange(24, dtype=np.float64).reshape(3, 8),
    "counts": np.array([1, 2, 3], dtype=np.int64),
}
PARTITIONED = {"stored/w": np.arange(24, dtype=np.float32).reshape(6, 4)}


@pytest.fixture(scope="module")
def source_ckpt(tf, tmp_path_factory) -> str:
    """A TF1 Saver bundle of SOURCE, plus `stored/w` saved as a 2-part partitioned variable."""
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        for name, value in SOURCE.items():
            v1.get_variable(name, initializer=value)
        full = PARTITIONED["stored/w"]
        v1.get_variable(
            "stored/w",
            shape=full.shape,
            initializer=lambda shape, dtype=None, partition_info=None: tf.constant(
                full[partition_info.single_offset(shape) :][: shape[0]]
            ),
            partitioner=v1.fixed_size_partitioner(2),
        )
        saver = v1.train.Saver()
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            directory = tmp_path_factory.mktemp("restore_src")
            return saver.save(sess, str(directory / "src.ckpt"), write_meta_graph=False)


# --------------------------------------------------------------------------- TF side


@dataclass
class Var:
    """A variable to build: shape, dtype, and (parts, axis) for a partitioned one."""

    shape: tuple
    dtype: str = "float32"
    parts: int = 0
    axis: int = 0


@dataclass
class TFResult:
    error: BaseException | None = None
    runtime_error: BaseException | None = None
    pairs: dict[str, tuple[str, str]] = field(default_factory=dict)  # var -> (tensor, slice)
    values: dict[str, np.ndarray] = field(default_factory=dict)
    targets: list[tuple[str, list, str]] = field(default_factory=list)


def _build(tf, spec: dict[str, Var]) -> list:
    v1 = tf.compat.v1
    out = []
    for name, var in spec.items():
        kwargs: dict[str, Any] = {"initializer": v1.zeros_initializer()}
        if var.parts:
            kwargs["partitioner"] = v1.fixed_size_partitioner(var.parts, axis=var.axis)
        made = v1.get_variable(name, shape=var.shape, dtype=getattr(tf, var.dtype), **kwargs)
        out += list(made) if var.parts else [made]
    return out


def _targets(variables) -> list[tuple[str, list, str]]:
    return [(v.op.name, v.shape.as_list(), v.dtype.base_dtype.name) for v in variables]


def tf_init_from_checkpoint(tf, ckpt: str, spec: dict[str, Var], amap) -> TFResult:
    v1 = tf.compat.v1
    result = TFResult()
    with tf.Graph().as_default():
        variables = _build(tf, spec)
        result.targets = _targets(variables)
        try:
            v1.train.init_from_checkpoint(ckpt, amap)
        except ValueError as exc:
            result.error = exc
            return result
        for v in variables:
            op = v._initial_value.op
            if op.type == "RestoreV2":
                name = tf.get_static_value(op.inputs[1])[0].decode()
                spec_ = tf.get_static_value(op.inputs[2])[0].decode()
                result.pairs[v.op.name] = (name, spec_)
        with v1.Session() as sess:
            try:
                sess.run(v1.global_variables_initializer())
            except tf.errors.OpError as exc:
                result.runtime_error = exc
                return result
            result.values = {v.op.name: sess.run(v) for v in variables}
    return result


def _slice_spec(entry) -> str:
    """TF's shape_and_slice string for a plan entry of a part ("" for a whole tensor)."""
    if entry.region is None:
        return ""
    full = " ".join(str(d) for d in entry.source_shape)
    return full + " " + ":".join(f"{a},{b - a}" for a, b in entry.region)


def assert_same_restore(tf_result: TFResult, plan, ckpt: str) -> None:
    """The plan pairs and loads exactly what TF's initializers did."""
    assert tf_result.error is None and tf_result.runtime_error is None
    ours = {e.target: (e.source, _slice_spec(e)) for e in plan.entries}
    assert ours == tf_result.pairs
    loaded = plan.load()
    for name, value in tf_result.values.items():
        if name in loaded:
            assert_bitwise_equal(np.asarray(loaded[name]), value, name)
        else:  # not restored: TF kept the zeros initializer
            assert not value.any(), f"{name} was restored by TF but not by the plan"


# --------------------------------------------------------------------------- init_from_checkpoint

F = Var
SUCCESS_CASES = {
    "scope_to_scope": (
        {"new/a": F((4,)), "new/b": F((2, 3)), "new/sub/c": F((3,)), "other": F((4,))},
        {"old/": "new/"},
    ),
    "root_to_scope": ({"new/c": F(()), "new/old/a": F((4,)), "keep": F((2,))}, {"/": "new/"}),
    "scope_to_root": ({"a": F((4,)), "b": F((2, 3)), "sub/c": F((3,))}, {"old/": "/"}),
    "root_to_root": ({"c": F(()), "p": F((10, 2)), "d": F((4,))}, {"/": "/"}),
    "sub_scope": ({"new/sub/c": F((3,)), "new/a": F((4,))}, {"old/sub/": "new/sub/"}),
    "exact_pairs": ({"x": F((4,)), "y": F((2, 3))}, {"old/a": "x", "old/b": "y"}),
    "one_to_many": ({"x": F((4,)), "y": F((4,))}, [("old/a", "x"), ("old/a", "y")]),
    "later_wins": ({"x": F((4,))}, [("old/a", "x"), ("d", "x")]),
    "exact_and_scope": (
        {"z": F((2, 3)), "new/a": F((4,)), "new/b": F((2, 3)), "new/sub/c": F((3,))},
        [("old/b", "z"), ("old/", "new/")],
    ),
    "partitioned_target": ({"q": F((10, 2), parts=3)}, {"p": "q"}),
    "partitioned_axis1": ({"q": F((3, 8), "float64", parts=3, axis=1)}, {"wide": "q"}),
    "partitioned_in_scope": (
        {"new/p": F((10, 2), parts=4), "new/d": F((4,))},
        {"/": "new/"},
    ),
    "partitioned_source": ({"w": F((6, 4))}, {"stored/w": "w"}),
    "partitioned_both": ({"w": F((6, 4), parts=3)}, {"stored/w": "w"}),
    "int64": ({"n": F((3,), "int64")}, {"counts": "n"}),
}


@pytest.mark.parametrize("case", sorted(SUCCESS_CASES))
def test_init_from_checkpoint_same_pairs_and_values(case, tf, source_ckpt):
    spec, amap = SUCCESS_CASES[case]
    expected = tf_init_from_checkpoint(tf, source_ckpt, spec, amap)
    plan = ckptio.plan_restore(source_ckpt, expected.targets, assignment_map=amap)
    assert_same_restore(expected, plan, source_ckpt)
    # Targets the map did not reach are listed, not silently dropped.
    restored = {name for name, _ in expected.pairs.items()}
    assert set(plan.unassigned) == {n for n, _, _ in expected.targets} - restored


ERROR_CASES = {
    # (spec, map, text both messages contain)
    "scope_without_slash": (
        {"new/a": F((4,))},
        {"old": "new/"},
        "Assignment map with scope only name new should map to scope only old. "
        "Should be 'scope/': 'other_scope/'.",
    ),
    "target_scope_without_slash": (
        {"new/a": F((4,))},
        {"old/a": "new/"},
        "Assignment map with scope only name new should map to scope only old/a.",
    ),
    "missing_exact": ({"x": F((4,))}, {"nope": "x"}, "Tensor nope is not found in {ckpt}"),
    "missing_in_scope": (
        {"new/a": F((4,)), "new/zz": F((1,))},
        {"old/": "new/"},
        "Tensor old/zz (zz in old/) is not found in {ckpt} checkpoint",
    ),
    # TF's quirk: a target "scope" without "/" is every variable, minus its first character.
    "quirk_scope_without_slash": (
        {"new/a": F((4,))},
        {"old/": "zzz"},
        "Tensor old/ew/a (ew/a in old/) is not found in {ckpt} checkpoint",
    ),
    "root_missing": ({"new/a": F((4,))}, {"/": "/"}, "Tensor new/a (ew/a in /) is not found"),
    "shape_exact": (
        {"new/a": F((4,))},
        {"old/b": "new/a"},
        "doesn't match with shape of tensor old/b",
    ),
    "shape_in_sorted_order": (
        {"x": F(())},
        [("old/a", "x"), ("c", "x")],
        "Shape of variable x",
    ),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_init_from_checkpoint_same_errors(case, tf, source_ckpt):
    spec, amap, text = ERROR_CASES[case]
    text = text.format(ckpt=source_ckpt)
    expected = tf_init_from_checkpoint(tf, source_ckpt, spec, amap)
    assert isinstance(expected.error, ValueError), expected
    assert text in str(expected.error)
    with pytest.raises(ValueError) as info:
        ckptio.plan_restore(source_ckpt, expected.targets, assignment_map=amap)
    assert isinstance(info.value, RestoreError) and isinstance(info.value, ckptio.CheckpointError)
    assert text in str(info.value)
    assert source_ckpt in str(info.value) or "Assignment map" in text


def test_init_from_checkpoint_runtime_failures_fail_at_planning(tf, source_ckpt):
    """What TF only finds when the initializers run, ckptio reports when planning."""
    cases = [
        ({"q": F((5, 4), parts=3)}, {"p": "q"}, "partition"),  # full shape in the slice spec
        ({"x": F((4,), "float64")}, {"old/a": "x"}, "dtype"),
    ]
    for spec, amap, kind in cases:
        expected = tf_init_from_checkpoint(tf, source_ckpt, spec, amap)
        assert expected.error is None and expected.runtime_error is not None, expected
        with pytest.raises(RestoreError):
            ckptio.plan_restore(source_ckpt, expected.targets, assignment_map=amap)
        plan = ckptio.plan_restore(
            source_ckpt, expected.targets, assignment_map=amap, errors="report"
        )
        assert [p.kind for p in plan.problems] == [kind]
        with pytest.raises(RestoreError):
            plan.load()
    # cast=True goes beyond TF: the float32 tensor is converted.
    plan = ckptio.plan_restore(
        source_ckpt, [("x", (4,), "float64")], assignment_map={"old/a": "x"}, cast=True
    )
    assert_bitwise_equal(plan.load()["x"], SOURCE["old/a"].astype(np.float64))


def test_restore_casts_follow_the_cast_policy(tf, source_ckpt):
    """cast=True, and a Cast given in transforms, go beyond TF under ckptio's cast policy: a
    cast that could lose values is a problem naming both dtypes unless allow_lossy_cast=True,
    which saturates instead of wrapping around; float narrowing needs no flag. Values are
    compared with what TF's reader gives."""
    from ckptio.casting import cast_array
    from ckptio.transforms import Cast

    reader = tf.train.load_checkpoint(source_ckpt)
    d, counts, wide = (reader.get_tensor(n) for n in ("d", "counts", "wide"))
    refused = [
        ([("x", (4,), "int32")], {"d": "x"}, None, "float32 to int32: fractions"),
        ([("x", (3,), "int32")], {"counts": "x"}, None, "int64 to int32: values outside"),
        ([("x", (4,))], {"d": "x"}, {"x": Cast("uint8")}, "float32 to uint8"),
    ]
    for target, amap, transforms, why in refused:
        kwargs = {"assignment_map": amap, "cast": True, "transforms": transforms}
        with pytest.raises(RestoreError, match=f"refusing to cast {why}"):
            ckptio.plan_restore(source_ckpt, target, **kwargs)
        plan = ckptio.plan_restore(source_ckpt, target, errors="report", **kwargs)
        assert [(p.kind, p.target) for p in plan.problems] == [("cast", "x")]
        assert "allow_lossy_cast=True" in plan.problems[0].message
    # Allowed: saturating (d holds -1..-4: uint8 0, where astype would wrap to 255..252).
    allowed = ckptio.plan_restore(
        source_ckpt,
        [("x", (4,))],
        assignment_map={"d": "x"},
        transforms={"x": Cast("uint8")},
        allow_lossy_cast=True,
    ).load()["x"]
    assert_bitwise_equal(allowed, cast_array(d, np.dtype(np.uint8)))
    assert (d < 0).all() and not allowed.any()
    narrowed = ckptio.plan_restore(
        source_ckpt,
        [("x", (3,), "int32")],
        assignment_map={"counts": "x"},
        cast=True,
        allow_lossy_cast=True,
    ).load()["x"]
    assert_bitwise_equal(narrowed, cast_array(counts, np.dtype(np.int32)))
    assert narrowed.tolist() == counts.tolist()
    # Float narrowing is a rounding the policy allows without the flag.
    plan = ckptio.plan_restore(
        source_ckpt, [("x", (3, 8), "float16")], assignment_map={"wide": "x"}, cast=True
    )
    assert_bitwise_equal(plan.load()["x"], wide.astype(np.float16))


def test_scope_map_shape_mismatch_tf_quirk(tf, source_ckpt):
    """TF checks no shapes for scope pairs: a [5] variable silently gets the [4] tensor.
    ckptio reports the mismatch instead (a documented difference)."""
    spec, amap = {"new/a": F((5,))}, {"old/": "new/"}
    expected = tf_init_from_checkpoint(tf, source_ckpt, spec, amap)
    assert expected.error is None and expected.runtime_error is None
    assert expected.values["new/a"].shape == (4,)  # TF's silent result
    with pytest.raises(RestoreError, match="Shape of target new/a \\[5\\]"):
        ckptio.plan_restore(source_ckpt, expected.targets, assignment_map=amap)


def test_ignore_missing_with_assignment_map(tf, source_ckpt):
    plan = ckptio.plan_restore(
        source_ckpt,
        {"new/a": (4,), "new/zz": (1,)},
        assignment_map={"old/": "new/"},
        ignore_missing=True,
    )
    assert plan.pairs() == {"new/a": "old/a"}
    assert [(m.target, m.source) for m in plan.missing] == [("new/zz", "old/zz")]
    assert "not found" in plan.missing[0].message and source_ckpt in plan.missing[0].message


# --------------------------------------------------------------------------- tf-slim selection

SLIM_VARS = {
    "vgg_16/conv1/conv1_1/weights": (3, 3, 3, 2),
    "vgg_16/conv1/conv1_1/biases": (2,),
    "vgg_16/fc8/weights": (1, 1, 2, 3),
    "vgg_16/fc8/biases": (3,),
    "vgg_16/fc8_new/weights": (1, 1, 2, 3),
    "weights": (2,),
    "a.b/w": (1,),
    "axb/w": (1,),
    "logits/semantic/weights": (2, 2),
    "aspp0/weights": (2,),
    "global_step": (),
    "vgg_16/fc8/weights/Momentum": (1, 1, 2, 3),
}

SLIM_QUERIES = [
    {"include": None, "exclude": None},
    {"include": None, "exclude": ["vgg_16/fc8"]},
    {"include": ["vgg_16/fc8"], "exclude": None},
    {"include": ["vgg_16/fc8", "vgg_16"], "exclude": ["vgg_16/fc8/biases"]},
    {"include": ["a.b"], "exclude": None},
    {"include": None, "exclude": ["global_step", "logits", "aspp", "decoder"]},
    {"include": ("weights",), "exclude": ("vgg",)},
    {"include": [""], "exclude": ["vgg_16/conv1/conv1_1/weights$"]},
    {"include": ["vgg_16/.*/weights"], "exclude": [".*Momentum"]},
]


@pytest.fixture(scope="module")
def slim_graph(tf):
    graph = tf.Graph()
    with graph.as_default():
        for name, shape in SLIM_VARS.items():
            tf.compat.v1.get_variable(name, shape=shape)
    return graph


def _op_names(variables) -> list[str]:
    return [v.op.name for v in variables]


@pytest.mark.parametrize("query", SLIM_QUERIES, ids=str)
def test_get_variables_to_restore(query, slim, slim_graph):
    with slim_graph.as_default():
        expected = _op_names(slim.get_variables_to_restore(**query))
        variables = tf_global_variables(slim_graph)
    # slim repeats a variable that two include scopes match; ckptio lists it once.
    expected = list(dict.fromkeys(expected))
    assert ckptio.select(list(SLIM_VARS), **query) == expected
    assert ckptio.select(variables, **query) == expected  # TF variables, duck-typed


def tf_global_variables(graph):
    return graph.get_collection("variables")


@pytest.mark.parametrize(
    ("scope", "suffix", "name"),
    [
        ("vgg_16/fc8", None, None),
        ("vgg_16", "weights", None),
        (None, "biases", None),
        (None, "fc8/weights", None),
        (None, None, "weights"),
        ("vgg_16", None, "weights"),  # also matches top-level `weights` (slim's regex)
        ("vgg_16/fc8", None, "biases"),
        (None, "weights:0", None),
    ],
)
def test_get_variables_by_scope_suffix_name(scope, suffix, name, slim, slim_graph):
    with slim_graph.as_default():
        if name is not None:
            expected = _op_names(slim.get_variables_by_name(name, scope=scope))
        elif suffix is not None and scope is None:
            expected = _op_names(slim.get_variables_by_suffix(suffix))
        else:
            expected = _op_names(slim.get_variables(scope=scope, suffix=suffix))
    assert ckptio.select(list(SLIM_VARS), scope=scope, suffix=suffix, name=name) == expected


@pytest.mark.parametrize(
    ("include", "exclude", "reg_search"),
    [
        (["fc8"], None, True),
        (["fc8"], ["biases", "Momentum"], True),
        (None, ["weights"], True),
        (["vgg_16/fc8"], None, False),
    ],
)
def test_filter_variables(include, exclude, reg_search, slim, slim_graph):
    variables = tf_global_variables(slim_graph)
    expected = _op_names(slim.filter_variables(variables, include, exclude, reg_search))
    match = "search" if reg_search else "slim"
    got = ckptio.select(list(SLIM_VARS), include=include, exclude=exclude, match=match)
    if reg_search:
        assert got == expected
    else:  # re.match over the list order: same set (get_variables_to_restore's order)
        assert sorted(got) == sorted(expected)


def test_type_errors_like_slim(slim, slim_graph):
    with slim_graph.as_default(), pytest.raises(TypeError) as slim_error:
        slim.get_variables_to_restore(include="vgg_16")
    with pytest.raises(TypeError) as ours:
        ckptio.select(list(SLIM_VARS), include="vgg_16")
    assert str(ours.value) == str(slim_error.value)


def test_path_mode_is_strict(slim_graph):
    slim_mode = ckptio.select(list(SLIM_VARS), scope="vgg_16/fc8")
    path_mode = ckptio.select(list(SLIM_VARS), scope="vgg_16/fc8", match="path")
    assert "vgg_16/fc8_new/weights" in slim_mode
    assert "vgg_16/fc8_new/weights" not in path_mode
    assert set(path_mode) == {
        "vgg_16/fc8/weights",
        "vgg_16/fc8/biases",
        "vgg_16/fc8/weights/Momentum",
    }
    assert ckptio.select(list(SLIM_VARS), include=["a.b"], match="path") == ["a.b/w"]


# ------------------------------------------------------------------ assign_from_checkpoint_fn


def test_assign_from_checkpoint_fn_ignore_missing_and_reshape(tf, slim, source_ckpt):
    """slim restores the selected variables present in the checkpoint, reshaping row-major."""
    v1 = tf.compat.v1
    spec = {
        "old/a": F((2, 2)),  # [4] in the checkpoint: reshaped
        "old/b": F((3, 2)),  # [2,3]: reshaped
        "p": F((20,)),
        "c": F(()),
        "new/thing": F((3,)),  # missing: ignored
        "old/sub/c": F((3,)),  # excluded below
        "wide": F((3, 8), "float64"),
    }
    with tf.Graph().as_default():
        _build(tf, spec)
        selected = slim.get_variables_to_restore(exclude=["old/sub"])
        targets = _targets(v1.global_variables())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            init_fn = slim.assign_from_checkpoint_fn(
                source_ckpt, selected, ignore_missing_vars=True, reshape_variables=True
            )
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            init_fn(sess)
            values = {v.op.name: sess.run(v) for v in v1.global_variables()}
    names = ckptio.select(targets, exclude=["old/sub"])
    assert names == _op_names(selected)
    plan = ckptio.plan_restore(source_ckpt, targets, only=names, ignore_missing=True, reshape=True)
    assert [m.target for m in plan.missing] == ["new/thing"]
    loaded = plan.load()
    assert set(loaded) == set(spec) - {"new/thing", "old/sub/c"}
    for name, value in loaded.items():
        assert_bitwise_equal(np.asarray(value), values[name], name)


def _slim_restore(tf, slim, ckpt, spec):
    """Run slim's assign_from_checkpoint_fn: (targets, error or None, values)."""
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        _build(tf, spec)
        targets = _targets(v1.global_variables())
        init_fn = slim.assign_from_checkpoint_fn(ckpt, v1.global_variables())
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            try:
                init_fn(sess)
            except tf.errors.OpError as exc:
                return targets, exc, {}
            return targets, None, {v.op.name: sess.run(v) for v in v1.global_variables()}


def test_saver_failures_fail_at_planning(tf, slim, source_ckpt):
    """Without ignore_missing, slim's callback fails when run; ckptio when planning."""
    v1 = tf.compat.v1
    targets, error, _ = _slim_restore(tf, slim, source_ckpt, {"nope": F((4,))})
    assert isinstance(error, tf.errors.NotFoundError)
    with pytest.raises(RestoreError) as info:
        ckptio.plan_restore(source_ckpt, targets)
    assert source_ckpt in str(info.value) and "nope" in str(info.value)

    # TF quirk: without reshape_variables a resource variable [2,2] silently receives the [4]
    # tensor. ckptio reports the mismatch (and says reshape=True would take it).
    targets, error, values = _slim_restore(tf, slim, source_ckpt, {"old/a": F((2, 2))})
    assert error is None and values["old/a"].shape == (4,)
    with pytest.raises(RestoreError, match="reshape=True"):
        ckptio.plan_restore(source_ckpt, targets)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with tf.Graph().as_default():
            _build(tf, {"nope": F((4,))})
            assert (
                slim.assign_from_checkpoint_fn(
                    source_ckpt, v1.global_variables(), ignore_missing_vars=True
                )
                is None
            )
    plan = ckptio.plan_restore(source_ckpt, {"nope": (4,)}, ignore_missing=True)
    assert plan.entries == [] and plan.load() == {}


def test_saver_var_list_dict_and_partitions(tf, source_ckpt):
    """`Saver({ckpt name: var or [parts]})` pairs, including a partitioned target."""
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        made = _build(tf, {"v3_x": F((2, 3)), "q": F((10, 2), parts=2), "z": F((3,))})
        targets = _targets(v1.global_variables())
        saver = v1.train.Saver({"old/b": made[0], "p": made[1:3]})
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            saver.restore(sess, source_ckpt)
            values = {v.op.name: sess.run(v) for v in v1.global_variables()}
    plan = ckptio.plan_restore(
        source_ckpt, targets, var_list={"old/b": "v3_x", "p": ["q/part_0", "q/part_1"]}
    )
    assert plan.pairs() == {"v3_x": "old/b", "q/part_0": "p", "q/part_1": "p"}
    assert list(plan.unassigned) == ["z"]
    for name, value in plan.load().items():
        assert_bitwise_equal(np.asarray(value), values[name], name)
    # A list var_list of names restores each from its own name (parts from the full tensor).
    plan = ckptio.plan_restore(source_ckpt, {"p/part_0": (5, 2), "p/part_1": (5, 2)})
    assert_bitwise_equal(np.concatenate(list(plan.load().values())), SOURCE["p"])


# --------------------------------------------------------------------------- object graph


def _tf_graph(tf, prefix):
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(
        tf.train.load_checkpoint(prefix).get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH")
    )
    return graph


def _assert_same_graph(ours, theirs) -> None:
    assert len(ours.nodes) == len(theirs.nodes)
    for mine, node in zip(ours.nodes, theirs.nodes):
        assert mine.children == tuple((c.local_name, c.node_id) for c in node.children)
        assert [(a.name, a.full_name, a.checkpoint_key) for a in mine.attributes] == [
            (a.name, a.full_name, a.checkpoint_key) for a in node.attributes
        ]
        assert [(s.original_node, s.slot_name, s.slot_node) for s in mine.slot_variables] == [
            (s.original_variable_node_id, s.slot_name, s.slot_variable_node_id)
            for s in node.slot_variables
        ]
        expected = (
            node.has_checkpoint_values.value if node.HasField("has_checkpoint_values") else None
        )
        assert mine.has_checkpoint_values == expected


@pytest.fixture(scope="module")
def slot_ckpt(tf, tmp_path_factory) -> str:
    """TF2 `tf.train.Checkpoint` with a TF1 Adam optimizer (it records slot variables), and
    local names that need escaping (`a.b`, `c/d`)."""
    module = tf.Module()
    module.dense = tf.Module()
    module.dense.kernel = tf.Variable(np.ones((3, 2), np.float32), name="dense/kernel")
    module.dense.bias = tf.Variable(np.zeros(2, np.float32), name="dense/bias")
    setattr(module, "a.b", tf.Variable([1.0, 2.0], name="dotted"))
    setattr(module, "c/d", tf.Variable([3.0], name="slashed"))
    optimizer = tf.compat.v1.train.AdamOptimizer(0.1)
    variables = [module.dense.kernel, module.dense.bias]
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.matmul(tf.ones((1, 3)), variables[0]) + variables[1])
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    checkpoint = tf.train.Checkpoint(model=module, optimizer=optimizer)
    return checkpoint.save(str(tmp_path_factory.mktemp("slots") / "ckpt"))


def test_object_graph_matches_tf_parse(tf, tf_checkpoints, slot_ckpt):
    for prefix in (tf_checkpoints("tf2_checkpoint"), slot_ckpt):
        graph = ckptio.object_graph(prefix)
        _assert_same_graph(graph, _tf_graph(tf, prefix))
        reader = tf.train.load_checkpoint(prefix)
        # Every recorded key exists, and every variable of the checkpoint is recorded.
        keys = set(reader.get_variable_to_shape_map()) - {"_CHECKPOINTABLE_OBJECT_GRAPH"}
        assert set(graph.tensors) == keys


def test_object_graph_slots_and_names(slot_ckpt):
    graph = ckptio.object_graph(slot_ckpt)
    kernel = "model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE"
    slots = {(t.slot_of, t.slot_name): t.key for t in graph.slots}
    assert (
        slots[(kernel, "m")]
        == "model/dense/kernel/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE"
    )
    assert len(slots) == 4
    assert graph.full_names()[kernel] == "dense/kernel"
    view = graph.view()
    assert {"dense/kernel", "dense/bias", "dense/kernel/Adam", "dense/kernel/Adam_1"} <= set(view)
    assert view.key("dense/kernel") == kernel
    assert ckptio.select(view, drop="training_state") == [
        "dotted",
        "slashed",
        "dense/bias",
        "dense/kernel",
    ]
    paths = graph.view(names="path")
    assert paths.key("model/c/d") == "model/c.Sd/.ATTRIBUTES/VARIABLE_VALUE"  # unescaped
    assert paths.key("model/a.b") == "model/a..b/.ATTRIBUTES/VARIABLE_VALUE"
    assert "model/dense/kernel/.OPTIMIZER_SLOT/optimizer/m" in paths
    assert "(full_name 'dense/kernel')" in graph.tree()


def test_object_graph_keras3_full_names(tf_checkpoints):
    """Keras 3 subclassed layers share full names (`net/kernel` twice): those keys keep their
    object paths, unique full names are used."""
    prefix = tf_checkpoints("tf2_checkpoint")
    view = ckptio.object_graph(prefix).view()
    assert "model/hidden/_kernel" in view and "model/head/_kernel" in view
    assert "net/kernel" not in view
    with ckptio.open(prefix) as ckpt:
        assert_bitwise_equal(
            view["model/hidden/_kernel"],
            ckpt["model/hidden/_kernel/.ATTRIBUTES/VARIABLE_VALUE"],
        )
    weights = ckptio.select(view, drop="training_state")
    assert all(not name.startswith(("adam/", "optimizer/")) for name in weights)
    assert "step" in weights and "vocab" in weights  # user variables are kept


def test_get_model_variables_recipe(tf, slim, tmp_path):
    """`select(ckpt, drop="training_state")` is what slim.get_model_variables() lists, on a
    checkpoint with a global step, Momentum slots and moving-average shadows."""
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        step = v1.train.get_or_create_global_step()
        # What slim's layers create (their Keras-backed builders need tf_keras): weights and
        # biases, and batch norm's moving statistics (model variables, not trainable).
        trained = [
            slim.model_variable("conv1/weights", shape=[3, 3, 3, 4]),
            slim.model_variable("conv1/biases", shape=[4]),
            slim.model_variable("logits/weights", shape=[4, 5]),
        ]
        for stat in ("moving_mean", "moving_variance"):
            slim.model_variable(f"bn1/{stat}", shape=[4], trainable=False)
        loss = tf.add_n([tf.reduce_sum(tf.square(v)) for v in trained])
        train = v1.train.MomentumOptimizer(0.1, 0.9).minimize(loss, global_step=step)
        ema = v1.train.ExponentialMovingAverage(0.99)
        with tf.control_dependencies([train]):
            ema.apply(v1.trainable_variables())
        expected = {v.op.name for v in slim.get_model_variables()}
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            prefix = v1.train.Saver().save(sess, str(tmp_path / "model.ckpt"))
    with ckptio.open(prefix) as ckpt:
        assert len(ckpt) > len(expected) + 5  # slots, shadows and the step are there
        assert set(ckptio.select(ckpt, drop="training_state")) == expected
        assert set(ckptio.select(ckpt, drop="training_state", scope="conv1")) == {
            n for n in expected if n.startswith("conv1")
        }
