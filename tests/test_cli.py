"""The ``ckptio`` command: every subcommand through ``main(argv)`` (exit status, stdout, stderr),
and once each as a real ``python -m ckptio`` process."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys

import ckptio
import numpy as np
import pytest
from ckptio.cli import Progress, main, sanitize
from cli_runner import ERROR_LINE, run, run_json


@pytest.fixture
def pair(tmp_path) -> tuple[str, str]:
    """Two checkpoints differing in every way `diff` reports."""
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    a = ckptio.save(
        str(tmp_path / "a"),
        {
            "same": w,
            "removed": np.zeros(2, np.int32),
            "values": w,
            "dtype": w,
            "shape": w,
            "nan": np.array([np.nan, 1.0], np.float32),
            "text": np.array([b"x", b"y"], dtype=object),
        },
    )
    changed = w.copy()
    changed[1, 2] += 0.5
    changed[0, 0] -= 0.25
    b = ckptio.save(
        str(tmp_path / "b"),
        {
            "same": w,
            "added": np.ones(1, np.int64),
            "values": changed,
            "dtype": w.astype(np.float16),
            "shape": w.reshape(3, 2),
            "nan": np.array([np.nan, 1.0], np.float32),
            "text": np.array([b"x", b"z"], dtype=object),
        },
    )
    return a, b


# --------------------------------------------------------------------------- ls


def test_ls_text_and_json(capsys, tf_checkpoints):
    prefix = tf_checkpoints("tf1_saver")
    status, out, err = run(capsys, "ls", prefix)
    assert status == 0 and err == ""
    lines = out.splitlines()
    with ckptio.open(prefix) as ckpt:
        names = sorted(ckpt)
        assert lines[0].split() == ["NAME", "DTYPE", "SHAPE", "SIZE"]
        assert [line.split()[0] for line in lines[1:-1]] == names
        assert lines[1].split()[1:3] == [ckpt.dtype_names()[names[0]], "[]"]
        total = sum(ckpt.info(n).nbytes for n in names)
        assert lines[-1].startswith(f"{len(names)} tensors, ")
        report = run_json(capsys, "ls", prefix)
        assert report["format"] == "V2" and report["path"] == ckpt.path
        assert [t["name"] for t in report["tensors"]] == names
        for t in report["tensors"]:
            assert t["shape"] == list(ckpt.shapes()[t["name"]])
            assert t["dtype"] == ckpt.dtype_names()[t["name"]]
        assert report["totals"]["nbytes"] == total


@pytest.mark.parametrize("fixture", ["all_dtypes", "strings", "partitioned", "v1_saver"])
def test_ls_sizes_match_the_index(capsys, tf_checkpoints, fixture):
    prefix = tf_checkpoints(fixture)
    report = run_json(capsys, "ls", prefix)
    with ckptio.open(prefix) as ckpt:
        assert {t["name"]: t["nbytes"] for t in report["tensors"]} == {
            n: ckpt.info(n).nbytes for n in ckpt
        }


def test_ls_path_forms(capsys, tf_checkpoints):
    prefix = tf_checkpoints("tf1_saver")
    want = run_json(capsys, "ls", prefix)["tensors"]
    directory = os.path.dirname(prefix)
    data = next(f for f in os.listdir(directory) if ".data-" in f)
    for form in (directory, prefix + ".index", os.path.join(directory, data)):
        assert run_json(capsys, "ls", form)["tensors"] == want, form
    v1 = run_json(capsys, "ls", tf_checkpoints("v1_saver"))
    assert v1["format"] == "V1" and len(v1["tensors"]) == 6


def test_ls_include_exclude_sort(capsys, tf_checkpoints):
    prefix = tf_checkpoints("tf1_saver")
    listed = run_json(capsys, "ls", prefix, "--include", "model/dense")["tensors"]
    names = [t["name"] for t in listed]
    assert names and all(n.startswith("model/dense") for n in names)
    names = [
        t["name"]
        for t in run_json(capsys, "ls", prefix, "--include", "model/", "--exclude", ".*/Adam")[
            "tensors"
        ]
    ]
    assert names and all(n.startswith("model/") and "/Adam" not in n for n in names)
    # Slim semantics: a regex matched at the start of the name, not anywhere in it; a pattern
    # that matches nothing is a usage error, not an empty listing.
    status, out, err = run(capsys, "ls", prefix, "--include", "dense")
    assert status == 2 and out == "" and ERROR_LINE.match(err)
    assert "--include 'dense' matches no tensor" in err
    status, _, err = run(capsys, "ls", prefix, "--exclude", "x")
    assert status == 2 and "--exclude 'x' matches no tensor" in err
    sizes = [t["nbytes"] for t in run_json(capsys, "ls", prefix, "--sort", "size")["tensors"]]
    assert sizes == sorted(sizes, reverse=True)


# --------------------------------------------------------------------------- show


def test_show_values_stats_and_slice(capsys, tf_checkpoints):
    prefix = tf_checkpoints("partitioned")
    with ckptio.open(prefix) as ckpt:
        value = ckpt["part/fixed"]
    status, out, _ = run(capsys, "show", prefix, "part/fixed", "--precision", "2")
    assert status == 0
    assert "dtype: float32" in out and "shape: [10, 4]" in out and "stats:" in out
    with np.printoptions(precision=2):
        assert np.array2string(value[0], separator=", ") in out.replace("\n  ", "\n")
    report = run_json(capsys, "show", prefix, "part/fixed")
    np.testing.assert_array_equal(np.array(report["values"], np.float32), value)
    assert report["stats"]["max"] == pytest.approx(float(value.max()))
    report = run_json(capsys, "show", prefix, "part/long", "--slice", "5:8")
    assert report["slice_shape"] == [3] and "values" in report
    report = run_json(capsys, "show", prefix, "part/long", "--threshold", "10")
    assert "values" not in report and report["shape"] == [20000]


def test_show_strings_and_all_dtypes(capsys, tf_checkpoints):
    strings = tf_checkpoints("strings")
    report = run_json(capsys, "show", strings, "non_utf8")
    assert report["values"] == [[255, 0, 254], "\x00", [128, 97, 98, 99, 195]]
    status, out, _ = run(capsys, "show", strings, "utf8")
    assert status == 0 and "min_length" in out
    prefix = tf_checkpoints("all_dtypes")
    with ckptio.open(prefix) as ckpt:
        names = {}
        for name, dtype in ckpt.dtype_names().items():
            names.setdefault(dtype, name)
    for dtype, name in names.items():  # every dtype prints, as text and as JSON
        status, out, err = run(capsys, "show", prefix, name)
        assert status == 0 and f"dtype: {dtype}" in out, err
        run_json(capsys, "show", prefix, name)


def test_show_missing_name_suggests(capsys, tf_checkpoints):
    prefix = tf_checkpoints("tf1_saver")
    status, out, err = run(capsys, "show", prefix, "model/dense/kernal")
    assert status == 1 and out == ""
    assert ERROR_LINE.match(err)
    assert err.startswith(f"ckptio: error: {prefix}: key 'model/dense/kernal': no such tensor")
    assert "did you mean 'model/dense/kernel'" in err


# --------------------------------------------------------------------------- tree


def test_tree(capsys, tf_checkpoints):
    prefix = tf_checkpoints("tf2_checkpoint")
    graph = ckptio.object_graph(prefix)
    status, out, _ = run(capsys, "tree", prefix)
    with ckptio.open(prefix) as ckpt:
        shapes, dtypes = ckpt.shapes(), ckpt.dtype_names()
    # The object graph as `ObjectGraph.tree()` prints it, each tensor with its dtype and shape.
    assert status == 0 and out == graph.tree(lambda k: f"{dtypes[k]} {list(shapes[k])}") + "\n"
    assert "model/hidden/_kernel/.ATTRIBUTES/VARIABLE_VALUE  (full_name " in out
    assert f"float32 {list(shapes['model/hidden/_kernel/.ATTRIBUTES/VARIABLE_VALUE'])}" in out
    report = run_json(capsys, "tree", prefix)
    keys = {t["key"] for node in report["nodes"] for t in node["tensors"]}
    assert keys == set(graph.tensors)
    assert report["nodes"][0]["path"] == "" and report["nodes"][0]["children"]
    for tensor in (t for node in report["nodes"] for t in node["tensors"]):
        assert tensor["shape"] == list(shapes[tensor["key"]]), tensor
        assert tensor["dtype"] == dtypes[tensor["key"]]


def test_tree_of_tf1_scopes(capsys, tf_checkpoints):
    prefix = tf_checkpoints("tf1_saver")
    with ckptio.open(prefix) as ckpt:
        shapes, sizes = ckpt.shapes(), ckpt.nbytes()

    def under(scope: str) -> tuple[int, int]:
        names = [n for n in shapes if n.startswith(scope)]
        return sum(int(np.prod(shapes[n])) for n in names), sum(sizes[n] for n in names)

    report = run_json(capsys, "tree", prefix)
    assert (report["parameters"], report["nbytes"]) == under("")
    scopes = {}

    def collect(node):
        scopes[node["path"]] = node
        for sub in node["scopes"]:
            collect(sub)

    collect(report)
    expected_scopes = {n[: i + 1] for n in shapes for i, c in enumerate(n) if c == "/"}
    assert set(scopes) - {""} == expected_scopes
    for path, node in scopes.items():
        assert (node["parameters"], node["nbytes"]) == under(path), path
        for t in node["tensors"]:
            assert t["shape"] == list(shapes[path + t["name"]])
    status, out, err = run(capsys, "tree", prefix)
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "PARAMS", "SIZE", "DTYPE", "SHAPE"]
    params, nbytes = under("model/dense/")
    row = next(line for line in lines if line.strip().startswith("dense/"))
    assert row.split()[1] == f"{params:,}" and row.split()[0] == "dense/"
    assert row.endswith(f"{nbytes} B" if nbytes < 1024 else f"{nbytes / 1024:.1f} KiB")
    assert lines[-1].startswith(f"{len(shapes)} tensors, {under('')[0]:,} parameters")
    # A TF2 checkpoint: --scopes shows its keys' scopes, --names the scopes of its full names.
    tf2 = tf_checkpoints("tf2_checkpoint")
    report = run_json(capsys, "tree", tf2, "--names", "full_name")
    assert {s["name"] for s in report["scopes"]} >= {"net"}
    assert run_json(capsys, "tree", tf2, "--scopes")["scopes"][0]["name"] in ("model", "optimizer")


# --------------------------------------------------------------------------- diff


def test_diff(capsys, pair):
    a, b = pair
    status, out, _ = run(capsys, "diff", a, b)
    assert status == 0
    lines = out.splitlines()
    assert "- removed  int32 [2]" in lines and "+ added  int64 [1]" in lines
    assert "~ values  values: 2 differ, max abs diff 0.5" in lines
    assert "~ dtype  dtype float32 -> float16; values equal" in lines  # small ints
    assert "~ shape  shape [2, 3] -> [3, 2]" in lines
    assert "~ text  values: 1 differ" in lines
    assert lines[-1] == "1 removed, 1 added, 4 changed, 2 identical"  # same, nan
    report = run_json(capsys, "diff", a, b)
    changed = {e["name"]: e for e in report["changed"]}
    assert changed["values"]["max_abs_diff"] == 0.5 and changed["values"]["differing"] == 2
    assert changed["shape"]["shape"] == [[2, 3], [3, 2]]
    assert report["identical"] == 2
    assert run(capsys, "diff", a, b, "--exit-code")[0] == 1
    assert run(capsys, "diff", a, a, "--exit-code")[0] == 0
    status, out, _ = run(capsys, "diff", a, b, "--no-values", "--include", "values")
    assert out.splitlines() == ["0 removed, 0 added, 0 changed, 1 identical"]


# --------------------------------------------------------------------------- verify


def test_verify_ok_and_corrupt(capsys, tf_checkpoints, tmp_path):
    prefix = tf_checkpoints("tf1_saver")
    status, out, err = run(capsys, "verify", prefix)
    assert status == 0 and out.startswith("OK: 16 of 16 tensors verified") and err == ""
    # (The copy is named by its prefix: the state file may hold the original's absolute path.)
    shutil.copytree(os.path.dirname(prefix), tmp_path / "copy")
    copy = tmp_path / "copy" / os.path.basename(prefix)
    data = next(copy.parent.glob("*.data-*"))
    blob = bytearray(data.read_bytes())
    with ckptio.open(str(copy)) as ckpt:
        info = ckpt.info("model/dense/kernel")
    blob[info.offset + 3] ^= 0x40
    data.write_bytes(bytes(blob))
    status, out, err = run(capsys, "verify", str(copy))
    assert status == 1 and out.startswith("FAILED (1 unreadable or corrupt): 15 of 16")
    assert ERROR_LINE.match(err) and "key 'model/dense/kernel'" in err
    status = main(["verify", str(copy), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert status == 1 and not report["ok"]
    assert [e["key"] for e in report["errors"]] == ["model/dense/kernel"]


# --------------------------------------------------------------------------- convert


def test_convert(capsys, tf_checkpoints, tmp_path):
    prefix = tf_checkpoints("tf1_saver")
    out = tmp_path / "m.safetensors"
    status, text, err = run(
        capsys,
        "convert",
        prefix,
        out,
        "--include",
        "model/",
        "--exclude",
        ".*/Adam",
        "--exclude",
        ".*/Momentum",
        "--map",
        "model/=net/",
        "--verify",
    )
    assert status == 0, err
    assert text.strip().endswith("[safetensors, verified]")
    import safetensors.numpy

    loaded = safetensors.numpy.load_file(out)
    with ckptio.open(prefix) as ckpt:
        assert set(loaded) == {
            "net/" + n[len("model/") :]
            for n in ckpt
            if n.startswith("model/") and "/Adam" not in n and "/Momentum" not in n
        }
        np.testing.assert_array_equal(loaded["net/dense/kernel"], ckpt["model/dense/kernel"])
    # An existing output is an error, then replaced with --overwrite; format from --to.
    status, _, err = run(capsys, "convert", prefix, out)
    assert status == 1 and ERROR_LINE.match(err) and "overwrite" in err
    report = run_json(
        capsys, "convert", prefix, tmp_path / "m.bin", "--to", "npz", "--cast", "float16"
    )
    assert report["format"] == "npz" and report["skipped"] == {}
    with np.load(tmp_path / "m.bin") as archive:
        assert archive["model/dense/kernel"].dtype == np.float16


def test_convert_strings_fail_or_skip(capsys, tf_checkpoints, tmp_path):
    prefix = tf_checkpoints("strings")
    status, out, err = run(capsys, "convert", prefix, tmp_path / "s.npz")
    assert status == 1 and out == "" and ERROR_LINE.match(err)
    assert "--skip-unsupported" in err and not (tmp_path / "s.npz").exists()
    status, out, err = run(capsys, "convert", prefix, tmp_path / "s.npz", "--skip-unsupported")
    assert status == 2 and "nothing to write" in err and "--allow-empty" in err
    assert not (tmp_path / "s.npz").exists()
    args = ("convert", prefix, tmp_path / "s.npz", "--skip-unsupported", "--allow-empty")
    status, out, _ = run(capsys, *args)
    assert status == 0 and out.count("skipped ") == 16 and "wrote 0 tensors" in out


def test_convert_tf2_names_and_torch_layout(capsys, tf_checkpoints, tmp_path):
    prefix = tf_checkpoints("tf2_checkpoint")
    out = tmp_path / "t.npz"
    status, _, err = run(
        capsys, "convert", prefix, out, "--names", "full_name", "--layout", "torch",
        "--include", "model/", "--verify",
    )  # fmt: skip
    assert status == 0, err
    key = ckptio.object_graph(prefix).view(names="full_name").key("model/hidden/_kernel")
    with np.load(out) as archive, ckptio.open(prefix) as ckpt:
        assert sorted(archive.files) == [
            "model.head.bias", "model.head.weight", "model.hidden.bias", "model.hidden.weight",
        ]  # fmt: skip
        np.testing.assert_array_equal(archive["model.hidden.weight"], ckpt[key].T)


# --------------------------------------------------------------------------- rewrite


def test_rewrite(capsys, tf_checkpoints, tmp_path):
    prefix = tf_checkpoints("tf1_saver")
    dst = tmp_path / "new" / "model.ckpt-0"
    dst.parent.mkdir()
    status, out, _ = run(
        capsys, "rewrite", prefix, dst, "--map", "model/=net/", "--exclude", ".*Adam", "--dry-run"
    )
    assert status == 0 and "model/dense/kernel -> net/dense/kernel" in out
    assert "would write" in out and not os.listdir(dst.parent)
    report = run_json(capsys, "rewrite", prefix, dst, "--map", "model/=net/", "--exclude", ".*Adam")
    assert report["dry_run"] is False
    with ckptio.open(str(dst)) as new, ckptio.open(prefix) as old:
        assert sorted(new) == sorted(report["tensors"].values())
        np.testing.assert_array_equal(new["net/dense/kernel"], old["model/dense/kernel"])
        assert not any("Adam" in n for n in new)


# --------------------------------------------------------------------------- errors, helpers


def test_errors_and_usage(capsys, tmp_path):
    status, out, err = run(capsys, "ls", tmp_path / "nothing")
    assert status == 1 and out == "" and ERROR_LINE.match(err)
    assert str(tmp_path / "nothing") in err
    assert run(capsys, "ls")[0] == 2  # missing argument
    assert run(capsys, "frobnicate")[0] == 2
    assert run(capsys, "ls", "x", "--include", "(")[0] == 2  # bad regex
    assert run(capsys, "rewrite", "x", "y", "--map", "nothing")[0] == 2
    status, _, err = run(capsys)
    assert status == 2 and "a command is required" in err
    status, out, _ = run(capsys, "--version")
    assert status == 0 and out.strip() == f"ckptio {ckptio.__version__}"


def test_names_are_sanitized(capsys, tmp_path):
    evil = "a\x1b[31m\nb\u202e\tc"
    prefix = ckptio.save(str(tmp_path / "evil"), {evil: np.zeros(1, np.float32)})
    status, out, _ = run(capsys, "ls", prefix)
    assert status == 0 and "\x1b" not in out and "\u202e" not in out
    assert out.splitlines()[1].startswith("a\\x1b[31m\\nb\\u202e\\tc ")
    assert run_json(capsys, "ls", prefix)["tensors"][0]["name"] == evil  # exact in JSON
    status, _, err = run(capsys, "show", prefix, evil + "x")
    assert status == 1 and ERROR_LINE.match(err) and "\x1b" not in err
    assert sanitize("ok/\udcff") == "ok/\\xff"  # a byte that was not UTF-8


def test_progress_only_on_terminals():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    quiet = io.StringIO()
    with Progress("work", quiet) as progress:
        progress(1, 2, "a")
    assert quiet.getvalue() == ""
    # The plain fallback (no tqdm): items, or bytes with rate and time left given sizes.
    tty = Terminal()
    with Progress("work", tty, use_tqdm=False) as progress:
        progress(1, 2, "a\x1b")
        progress(2, 2, "b")
    text = tty.getvalue()
    assert "work [" in text and "2/2 b" in text and "\x1b" not in text
    assert text.endswith("\r")  # erased at the end
    tty = Terminal()
    sizes = {"a": 3000, "b": 1000}
    with Progress("work", tty, use_tqdm=False, sizes=sizes, total=8000) as progress:
        progress(1, 2, "a")
        last = tty.getvalue().rsplit("\r", 1)[-1]
        assert "work [#########...............] 2.9 KiB/7.8 KiB " in last
        assert "/s " in last and " left a" in last
        progress(2, 2, "b")  # every tensor read: half of the work, not 100%
        assert progress.position == 4000 < progress.total
        progress.finish()
        last = tty.getvalue().rsplit("\r", 1)[-1]
        assert "[########################] 7.8 KiB/7.8 KiB" in last


# --------------------------------------------------------------------------- real processes


def _cli(*argv: str, cwd: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ckptio", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def test_process_ls_is_light(tf_checkpoints):
    prefix = tf_checkpoints("tf1_saver")
    proc = _cli("ls", "--json", prefix)
    assert proc.returncode == 0 and proc.stderr == ""
    assert len(json.loads(proc.stdout)["tensors"]) == 16
    # Neither TensorFlow nor a converter's library is on the CLI's start-up path.
    script = (
        "import sys, ckptio.cli; heavy = {'tensorflow', 'torch', 'safetensors', 'onnx', 'keras'};"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    imported = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert imported.stdout.strip() == "[]", imported.stderr


def test_process_show(tf_checkpoints):
    proc = _cli("show", tf_checkpoints("tf1_saver"), "global_step")
    assert proc.returncode == 0 and "dtype: int64" in proc.stdout


def test_process_tree(tf_checkpoints):
    proc = _cli("tree", "--json", tf_checkpoints("tf2_checkpoint"))
    assert proc.returncode == 0 and json.loads(proc.stdout)["nodes"]


def test_process_diff(pair):
    proc = _cli("diff", *pair, "--exit-code")
    assert proc.returncode == 1 and "4 changed" in proc.stdout


def test_process_verify(tf_checkpoints, tmp_path):
    prefix = tf_checkpoints("tf1_saver")
    shutil.copytree(os.path.dirname(prefix), tmp_path / "copy")
    copy = tmp_path / "copy" / os.path.basename(prefix)
    data = next(copy.parent.glob("*.data-*"))
    blob = bytearray(data.read_bytes())
    blob[len(blob) // 2] ^= 0x01
    data.write_bytes(bytes(blob))
    proc = _cli("verify", copy)
    assert proc.returncode == 1 and proc.stdout.startswith("FAILED")
    assert all(ERROR_LINE.match(line + "\n") for line in proc.stderr.splitlines())


def test_process_convert(tf_checkpoints, tmp_path):
    proc = _cli("convert", tf_checkpoints("partitioned"), tmp_path / "p.npz", "--verify")
    assert proc.returncode == 0, proc.stderr
    with np.load(tmp_path / "p.npz") as archive, ckptio.open(tf_checkpoints("partitioned")) as c:
        np.testing.assert_array_equal(archive["part/fixed"], c["part/fixed"])


def test_process_rewrite_and_usage_error(tf_checkpoints, tmp_path):
    proc = _cli("rewrite", tf_checkpoints("tf1_saver"), tmp_path / "r", "--map", "bad")
    assert proc.returncode == 2 and "expected OLD=NEW" in proc.stderr
    proc = _cli("rewrite", tf_checkpoints("tf1_saver"), tmp_path / "r", "--map", "model/=m/")
    assert proc.returncode == 0, proc.stderr
    assert "m/dense/kernel" in ckptio.open(str(tmp_path / "r"))
