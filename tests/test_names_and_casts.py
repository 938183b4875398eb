"""Issue 10, sections 2, 3 and 6: casts never destroy data silently, every name the user gives
must match something, and the command line answers bad input with one line, never a
traceback. Checkpoints written by ckptio are read back with TensorFlow where TF has an opinion."""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys
import warnings

import ckptio
import ml_dtypes
import numpy as np
import pytest
from ckptio import casting, distributed
from cli_runner import ERROR_LINE, run
from conftest import import_tensorflow


def usage_error(capsys, *argv) -> str:
    """Run argv, assert a one-line usage error (exit status 2) and return it."""
    status, out, err = run(capsys, *argv)
    assert status == 2 and out == "" and ERROR_LINE.match(err), (status, out, err)
    return err


WEIGHTS = np.array([[-300.7, -1.5, 0.0], [0.49, 2.5, 1e6]], np.float32)


@pytest.fixture
def ckpt(tmp_path) -> str:
    """A training checkpoint: float weights, an int64 step counter, a bool, an Adam slot."""
    (tmp_path / "src").mkdir()
    return ckptio.save(
        str(tmp_path / "src" / "model.ckpt-7"),
        {
            "dense/kernel": WEIGHTS,
            "dense/bias": np.array([0.1, -0.2, 0.3], np.float32),
            "dense/kernel/adam_m": np.ones((2, 3), np.float32),
            "global_step": np.int64(2**40 + 1),
            "flag": np.array([True, False]),
        },
    )


# --------------------------------------------------------------------------- the cast policy

INTS = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
FLOATS = [np.float16, np.float32, np.float64, ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn]


def _extremes(dtype) -> np.ndarray:
    info = casting._iinfo(np.dtype(dtype))
    return np.array([info.min, info.max], dtype=dtype)


@pytest.mark.parametrize("src", [*INTS, ml_dtypes.int4, ml_dtypes.uint4], ids=lambda d: str(d))
@pytest.mark.parametrize("dst", INTS + FLOATS[:4], ids=lambda d: str(d))
def test_integer_casts_allowed_exactly_when_extremes_survive(src, dst):
    """The policy says an integer cast is safe exactly when the source's extreme values come
    back unchanged from the target (checked here by casting them there and back)."""
    values = _extremes(src)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        cast = values.astype(dst)
    survives = True
    for original, stored in zip(values.tolist(), cast):
        if casting._is_int(np.dtype(dst)):
            back = int(stored)
        else:
            number = float(stored)
            back = int(number) if math.isfinite(number) and number.is_integer() else None
        survives = survives and back == int(original)
    assert (casting.lossy_reason(np.dtype(src), np.dtype(dst)) is None) == survives


@pytest.mark.parametrize(
    "src, dst, allowed",
    [
        ("float32", "bfloat16", True),
        ("float32", "float16", True),
        ("float64", "float8_e4m3fn", True),
        ("bfloat16", "float32", True),
        ("float32", "complex64", True),
        ("complex128", "complex64", True),
        ("bool", "int8", True),
        ("bool", "float32", True),
        ("float32", "int8", False),
        ("float64", "int64", False),
        ("complex64", "float32", False),
        ("int8", "bool", False),
        ("float32", "bool", False),
        ("int64", "float64", False),  # TF step counters beyond 2**53 would change
    ],
)
def test_policy_table(src, dst, allowed):
    by_name = casting._by_name()
    reason = casting.lossy_reason(by_name[src], by_name[dst])
    assert (reason is None) == allowed
    if not allowed:
        assert reason


def test_lossy_cast_values_saturate():
    to_int8 = casting.cast_array(np.array([-300.7, -1.5, 0.49, 2.5, 1e6, np.nan]), np.dtype("i1"))
    assert to_int8.tolist() == [-128, -1, 0, 2, 127, 0]
    narrowed = casting.cast_array(np.array([-70000, 5, 70000], np.int32), np.dtype("i2"))
    assert narrowed.tolist() == [-32768, 5, 32767]
    unsigned = casting.cast_array(np.array([-3, 7], np.int64), np.dtype("u1"))
    assert unsigned.tolist() == [0, 7]
    assert casting.cast_array(np.array([1 + 2j]), np.dtype("f4")).tolist() == [1.0]
    assert casting.cast_array(np.array([0.0, 0.5]), np.dtype("?")).tolist() == [False, True]


def test_unknown_dtype_names_list_the_accepted_ones():
    with pytest.raises(ckptio.UsageError) as caught:
        casting.target_dtype("flaot16")
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, ckptio.CheckpointError)
    text = str(caught.value)
    assert "did you mean 'float16'" in text and "accepted: bfloat16, bool," in text
    assert "qint8" not in casting.dtype_names() and "float8_e5m2" in casting.dtype_names()


# --------------------------------------------------------------------------- casts through the API


def test_convert_refuses_float_to_int_and_writes_nothing(ckpt, tmp_path):
    out = tmp_path / "w.npz"
    with pytest.raises(ckptio.LossyCastError) as caught:
        ckptio.to_npz(ckpt, out, cast="int8")
    text = str(caught.value)
    assert "float32 to int8" in text and "allow_lossy_cast=True" in text
    assert caught.value.key == "dense/bias" and not out.exists()
    report = ckptio.to_npz(ckpt, out, cast="int8", allow_lossy_cast=True)
    with np.load(out) as stored:
        assert stored["dense/kernel"].tolist() == [[-128, -1, 0], [0, 2, 127]]
        assert stored["global_step"] == 2**40 + 1 and stored["flag"].dtype == np.bool_
    assert len(report.written) == 5


def test_every_converter_and_rewrite_use_the_policy(ckpt, tmp_path):
    calls = [
        lambda: ckptio.to_safetensors(ckpt, tmp_path / "a.safetensors", cast="int16"),
        lambda: ckptio.to_torch(ckpt, cast="uint8"),
        lambda: ckptio.save_torch(ckpt, tmp_path / "a.pt", cast={"global_step": "int32"}),
        lambda: ckptio.rewrite(ckpt, tmp_path / "r", cast="int32"),
        lambda: ckptio.rewrite(ckpt, tmp_path / "r", cast={"global_step": "float64"}),
        lambda: distributed.rewrite(ckpt, tmp_path / "d", cast={"flag": "bool", "dense/bias": "i"}),
        lambda: distributed.to_safetensors(ckpt, tmp_path / "st", cast="int8"),
        lambda: distributed.rewrite(ckpt, tmp_path / "d", cast={"global_step": "int8"}),
    ]
    for call in calls:
        with pytest.raises(ckptio.UsageError):
            call()
    assert not any(p.name != "src" for p in tmp_path.iterdir())


def test_rewrite_bfloat16_keeps_the_int64_step_in_tensorflow(ckpt, tmp_path):
    tf = import_tensorflow()
    plan = ckptio.rewrite(ckpt, tmp_path / "bf16", cast="bfloat16")
    assert plan.casts == {
        "dense/bias": ("float32", "bfloat16"),
        "dense/kernel": ("float32", "bfloat16"),
        "dense/kernel/adam_m": ("float32", "bfloat16"),
    }
    reader = tf.train.load_checkpoint(str(tmp_path / "bf16"))
    assert reader.get_variable_to_dtype_map()["global_step"] == tf.int64
    assert reader.get_tensor("global_step") == 2**40 + 1
    assert reader.get_variable_to_dtype_map()["dense/kernel"] == tf.bfloat16
    kernel = reader.get_tensor("dense/kernel")
    np.testing.assert_array_equal(kernel, WEIGHTS.astype(ml_dtypes.bfloat16))
    # Opted in, the sharded rewrite saturates as the in-process one does.
    lossy = {"dense/kernel": "int8"}
    ckptio.rewrite(ckpt, tmp_path / "one", cast=lossy, allow_lossy_cast=True)
    distributed.rewrite(ckpt, tmp_path / "many", cast=lossy, allow_lossy_cast=True)
    for prefix in ("one", "many"):
        stored = tf.train.load_checkpoint(str(tmp_path / prefix)).get_tensor("dense/kernel")
        assert stored.dtype == np.int8 and stored.tolist() == [[-128, -1, 0], [0, 2, 127]]


def test_verify_reports_cast_errors(ckpt, tmp_path):
    report = ckptio.to_npz(ckpt, tmp_path / "h.npz", cast="float16", verify=True)
    assert set(report.cast_errors) == {"dense/kernel", "dense/bias", "dense/kernel/adam_m"}
    entry = report.cast_errors["dense/kernel"]
    assert entry["from"] == "float32" and entry["to"] == "float16"
    # 1e6 overflows float16 to inf: an infinite error, reported as such.
    assert entry["max_abs_error"] == np.inf and entry["max_rel_error"] == np.inf
    bias = report.cast_errors["dense/bias"]
    exact = np.array([0.1, -0.2, 0.3], np.float32)
    err = np.abs(exact.astype(np.float16).astype(np.float64) - exact.astype(np.float64))
    assert bias["max_abs_error"] == pytest.approx(err.max(), rel=0, abs=0)
    assert bias["max_rel_error"] == pytest.approx((err / np.abs(exact)).max(), rel=1e-12)
    assert report.cast_errors["dense/kernel/adam_m"]["max_abs_error"] == 0.0
    assert not ckptio.to_npz(ckpt, tmp_path / "n.npz", cast="float16").cast_errors


# --------------------------------------------------------------------------- names must match


def test_rename_cast_and_transforms_keys_must_match(ckpt, tmp_path):
    with pytest.raises(
        ckptio.UsageError,
        match=r"rename key 'dense/kernal' matches no tensor; "
        r"did you mean 'dense/kernel'",
    ):
        ckptio.rewrite(ckpt, tmp_path / "r", rename={"dense/kernal": "k"})
    with pytest.raises(ckptio.UsageError, match=r"rename scope 'dnse/' .*did you mean 'dense/'"):
        ckptio.to_npz(ckpt, tmp_path / "r.npz", rename={"dnse/": "fc/"})
    with pytest.raises(ckptio.UsageError, match=r"transforms key 'dense/bais'.*'dense/bias'"):
        ckptio.to_npz(ckpt, tmp_path / "r.npz", transforms={"dense/bais": np.negative})
    with pytest.raises(
        ckptio.UsageError, match=r"transforms key 'flag' names a tensor that is not"
    ):
        ckptio.rewrite(ckpt, tmp_path / "r", select=["dense/bias"], transforms={"flag": np.invert})
    with pytest.raises(ckptio.UsageError, match=r"cast names 'dense/bais'.*'dense/bias'"):
        ckptio.to_npz(ckpt, tmp_path / "r.npz", cast={"dense/bais": "float16"})
    assert not list(tmp_path.glob("r*"))
    # What does match is applied.
    ckptio.rewrite(ckpt, tmp_path / "r", rename={"dense/": "fc/"}, transforms={"flag": np.invert})
    with ckptio.open(tmp_path / "r") as out:
        assert "fc/kernel" in out and out["flag"].tolist() == [False, True]


def test_nothing_to_write_is_an_error_unless_allowed(ckpt, tmp_path):
    tf = import_tensorflow()
    with pytest.raises(ckptio.UsageError, match=r"nothing to write.*allow_empty=True"):
        ckptio.rewrite(ckpt, tmp_path / "e", select=[])
    with pytest.raises(ckptio.UsageError, match="nothing to write"):
        ckptio.to_safetensors(ckpt, tmp_path / "e.safetensors", select=lambda n: False)
    assert not list(tmp_path.glob("e*"))
    ckptio.rewrite(ckpt, tmp_path / "e", select=[], allow_empty=True)
    assert tf.train.load_checkpoint(str(tmp_path / "e")).get_variable_to_shape_map() == {}


def test_plan_restore_transforms_key_typo(ckpt):
    target = {"dense/kernel": (2, 3), "dense/bias": (3,)}
    flip = ckptio.transforms.Reverse(axis=0)
    with pytest.raises(
        ckptio.RestoreError, match=r"transforms key 'dense/kernle' .*'dense/kernel'"
    ):
        ckptio.plan_restore(ckpt, target, transforms={"dense/kernle": flip})
    plan = ckptio.plan_restore(ckpt, target, transforms={"dense/kernle": flip}, errors="report")
    assert [p.kind for p in plan.problems] == ["name"]
    only = ckptio.plan_restore(
        ckpt, target, only=["dense/bias"], errors="report", transforms={"dense/kernel": flip}
    )
    assert "not restored" in only.problems[0].message
    good = ckptio.plan_restore(ckpt, target, transforms={"dense/kernel": flip})
    np.testing.assert_array_equal(good.load()["dense/kernel"], WEIGHTS[::-1])


def test_assignment_map_scope_that_reaches_nothing(ckpt):
    tf = import_tensorflow()
    target = {"dense_1/kernel": (2, 3), "dense_1/bias": (3,)}
    with pytest.raises(ckptio.RestoreError, match=r"scope 'dense1' holds no target.*'dense_1'"):
        ckptio.plan_restore(ckpt, target, assignment_map={"dense/": "dense1/"})
    # TensorFlow builds the same map without a word (and restores nothing).
    graph = tf.Graph()
    with graph.as_default():
        for name, shape in target.items():
            tf.compat.v1.get_variable(name, shape=shape)
        tf.compat.v1.train.init_from_checkpoint(ckpt, {"dense/": "dense1/"})
    plan = ckptio.plan_restore(ckpt, target, assignment_map={"dense/": "dense_1/"})
    assert plan.pairs() == {"dense_1/kernel": "dense/kernel", "dense_1/bias": "dense/bias"}


def test_cli_patterns_match_with_or_without_the_output_suffix(ckpt, capsys):
    tf = import_tensorflow()
    names = ckptio.open(ckpt).keys()
    status, out, _ = run(capsys, "ls", ckpt, "--exclude", ".*/adam_m$", "--json")
    listed = {t["name"] for t in __import__("json").loads(out)["tensors"]}
    assert status == 0 and listed == set(names) - {"dense/kernel/adam_m"}
    status, out, _ = run(capsys, "ls", ckpt, "--exclude", ".*/adam_m:0$", "--json")
    assert status == 0 and "dense/kernel/adam_m" not in out
    # The Python API keeps TF-slim's exact semantics, where `$` meets the ":0".
    assert "dense/kernel/adam_m" in ckptio.select(list(names), exclude=[".*/adam_m$"])
    slim = pytest.importorskip("tf_slim")
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.get_variable("dense/kernel/adam_m", shape=(1,))
        kept = slim.get_variables_to_restore(exclude=[".*/adam_m$"])
    assert [v.op.name for v in kept] == ["dense/kernel/adam_m"]


# --------------------------------------------------------------------------- the command line


def test_cli_cast(ckpt, tmp_path, capsys):
    out = tmp_path / "w.npz"
    err = usage_error(capsys, "convert", ckpt, out, "--cast", "int8")
    assert "float32 to int8" in err and "--allow-lossy-cast" in err and "=True" not in err
    assert not out.exists()
    status, text, _ = run(capsys, "convert", ckpt, out, "--cast", "int8", "--allow-lossy-cast")
    assert status == 0 and np.load(out)["dense/kernel"].tolist() == [[-128, -1, 0], [0, 2, 127]]
    err = usage_error(capsys, "convert", ckpt, out, "--cast", "foo", "--overwrite")
    assert "unknown dtype 'foo'" in err and "accepted: bfloat16, bool, complex128" in err
    err = usage_error(capsys, "rewrite", ckpt, tmp_path / "r", "--cast", "float")
    assert "did you mean 'float64' or 'float32' or 'float16'" in err
    status, text, _ = run(
        capsys, "convert", ckpt, tmp_path / "h.npz", "--cast", "float16", "--verify"
    )
    assert status == 0
    half = np.array([0.1, -0.2, 0.3], np.float32)
    worst = np.abs(half.astype(np.float16).astype(np.float64) - half).max()
    assert f"cast dense/bias: float32 -> float16, max abs error {worst:.6g}, max rel" in text
    assert "cast dense/kernel: float32 -> float16, max abs error inf" in text


def test_cli_names_must_match(ckpt, tmp_path, capsys):
    err = usage_error(capsys, "rewrite", ckpt, tmp_path / "r", "--map", "dense/kernal=k")
    assert "--map 'dense/kernal' matches no tensor; did you mean 'dense/kernel'" in err
    err = usage_error(capsys, "convert", ckpt, tmp_path / "r.npz", "--include", "dens/")
    assert "--include 'dens/' matches no tensor; did you mean 'dense/'" in err
    err = usage_error(capsys, "diff", ckpt, ckpt, "--exclude", "glbal_step")
    assert "did you mean 'global_step'" in err
    err = usage_error(
        capsys, "rewrite", ckpt, tmp_path / "r", "--include", "flag", "--exclude", "fl"
    )
    assert "nothing to write" in err and "--allow-empty" in err
    assert not list(tmp_path.glob("r*"))
    args = ("rewrite", ckpt, tmp_path / "r", "--include", "flag", "--exclude", "fl")
    status, out, _ = run(capsys, *args, "--allow-empty")
    assert status == 0 and "wrote 0 tensors" in out


def test_cli_show_slice_errors(ckpt, capsys):
    for name, index, words in [
        ("dense/kernel", "5", "does not fit shape [2, 3]"),
        ("dense/kernel", "0, 0, 0", "does not fit shape [2, 3]"),
        ("global_step", "0", "is a scalar"),
        ("dense/kernel", "a:b", "expected integers"),
        ("dense/kernel", "0:1:0", "expected integers"),
        ("dense/kernel", "..., ...", "only once"),
        ("dense/kernel", "", "expected integers"),
    ]:
        err = usage_error(capsys, "show", ckpt, name, "--slice", index)
        assert words in err and "--slice" in err
    status, out, _ = run(capsys, "show", ckpt, "dense/kernel", "--slice", "-1, 1:")
    assert status == 0 and "slice: [-1, 1:] -> [2]" in out


def test_cli_uses_its_own_flag_names(ckpt, tmp_path, capsys):
    out = tmp_path / "w.npz"
    out.write_bytes(b"")
    status, _, err = run(capsys, "convert", ckpt, out)
    assert status == 1 and "pass --overwrite" in err and "overwrite=True" not in err
    err = usage_error(capsys, "convert", ckpt, tmp_path / "w.bin")
    assert "pass --to" in err and "to=" not in err
    ckptio.save(str(tmp_path / "s"), {"s": np.array([b"x"], dtype=object)})
    status, _, err = run(capsys, "convert", tmp_path / "s", tmp_path / "s.npz")
    assert status == 1 and "--skip-unsupported" in err and "unsupported=" not in err


def test_cli_verify_missing_shard_is_one_line(tmp_path, capsys):
    tensors = {f"t{i}": np.full(10, i, np.float32) for i in range(6)}
    prefix = ckptio.save(str(tmp_path / "m"), tensors, max_shard_bytes=80)
    with ckptio.open(prefix) as ckpt:
        count = len(list(tmp_path.glob("m.data-*")))
        shards = {n: f"{prefix}.data-{ckpt.info(n).shard:05d}-of-{count:05d}" for n in ckpt}
    missing = sorted(set(shards.values()))[1]
    held = sorted(n for n, path in shards.items() if path == missing)
    assert len(held) >= 2
    os.remove(missing)
    status, out, err = run(capsys, "verify", prefix)
    assert status == 1 and ERROR_LINE.match(err), err
    assert os.path.basename(missing) in err and f"holds {len(held)} tensors" in err
    assert out.startswith(f"FAILED ({len(held)} unreadable or corrupt)")


def test_cli_verify_v1_says_what_it_checked(tf_checkpoints, capsys):
    status, out, _ = run(capsys, "verify", tf_checkpoints("v1_saver"))
    assert status == 0 and "V1 block checksums only (no tensor checksums)" in out
    status, out, _ = run(capsys, "verify", tf_checkpoints("tf1_saver"))
    assert status == 0 and ", tensor checksums (" in out


def test_cli_rewrite_output(ckpt, tmp_path, capsys):
    status, out, _ = run(capsys, "rewrite", ckpt, tmp_path / "a", "--cast", "bfloat16")
    assert status == 0 and out.count("\n") == 1
    assert out.startswith("wrote 5 tensors to ") and "(0 left out, 3 cast)" in out
    status, out, _ = run(capsys, "rewrite", ckpt, tmp_path / "b", "-v", "--map", "dense/=fc/")
    assert status == 0 and "dense/bias -> fc/bias\n" in out and out.count("\n") == 6
    status, out, _ = run(capsys, "rewrite", ckpt, tmp_path / "c", "--dry-run", "--cast", "float16")
    assert status == 0 and "dense/kernel  (float32 -> float16)\n" in out
    assert "global_step\n" in out and out.endswith("(0 left out, 3 cast)\n")
    assert not list(tmp_path.glob("c*"))


# --------------------------------------------------------------------------- fuzzing the CLI

BAD_VALUES = [
    "",
    "foo",
    "-1",
    "0:",
    ":::",
    "(",
    "a=b=c",
    "=x",
    "\x1b[31m",
    "..., ...",
    "1e9",
    "float",
    "int8",
    "dense/kernal",
    "--",
    "ü",
    "9" * 30,
]
FLAGS = {
    "ls": ["--include", "--exclude", "--sort"],
    "show": ["--slice", "--precision", "--threshold"],
    "diff": ["--include", "--exclude"],
    "convert": ["--to", "--map", "--cast", "--names", "--layout", "--include"],
    "rewrite": ["--map", "--cast", "--include", "--exclude"],
    "verify": ["--nope"],
    "tree": ["--json"],
}


def _bad_argv(rng: random.Random, ckpt: str, out: str) -> list[str]:
    command = rng.choice(sorted(FLAGS))
    argv = [command]
    positional = {
        "show": [ckpt, rng.choice(["dense/kernel", "global_step", "nope"])],
        "diff": [ckpt, ckpt],
        "convert": [ckpt, out + rng.choice([".npz", ".x", ""])],
        "rewrite": [ckpt, out],
    }.get(command, [ckpt])
    if rng.random() < 0.15:
        positional = positional[:-1] or ["/no/such/ckpt"]
    argv += positional
    for _ in range(rng.randint(1, 2)):
        argv += [rng.choice(FLAGS[command]), rng.choice(BAD_VALUES)]
    return argv


def test_fuzz_cli_bad_input(ckpt, tmp_path, capsys):
    """Bad flags, names, slices, dtypes, maps and patterns: exit status 1 or 2, one line on
    stderr, no traceback (a run that happens to be valid must succeed instead)."""
    rng = random.Random(10)
    out = str(tmp_path / "out")
    seen = set()
    for _ in range(300):
        argv = _bad_argv(rng, ckpt, out)
        status, _, err = run(capsys, *argv)
        assert "Traceback" not in err, argv
        if status == 0:
            assert err == "", argv
            for leftover in tmp_path.glob("out*"):  # keep each run independent
                leftover.unlink()
            continue
        seen.add(status)
        assert status in (1, 2) and ERROR_LINE.match(err), (argv, status, err)
    assert seen == {1, 2}


def test_process_never_prints_a_traceback(ckpt, tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    for argv in (
        ["show", ckpt, "dense/kernel", "--slice", "9"],
        ["convert", ckpt, str(tmp_path / "x.npz"), "--cast", "foo"],
        ["convert", ckpt, str(tmp_path / "x.npz"), "--cast", "int8"],
        ["rewrite", ckpt, str(tmp_path / "r"), "--map", "nope=x"],
        ["ls", ckpt, "--bogus"],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "ckptio", *argv], capture_output=True, text=True, env=env
        )
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, (argv, proc.stderr)
        assert "Traceback" not in proc.stderr and proc.stdout == ""
