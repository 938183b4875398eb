"""The command line features of issue 14: TF2 names, `show --all/--hist`, `tree` scopes, `ls`
in a terminal, `diff --stats`, pictures (`--plot`), progress in a pseudo-terminal, `merge`."""

from __future__ import annotations

import builtins
import errno
import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios

import ckptio
import numpy as np
import pytest
from ckptio import cli
from ckptio.cli import main
from cli_runner import ERROR_LINE, run, run_json

PYTHONPATH = os.path.dirname(os.path.dirname(ckptio.__file__))


def in_terminal(*argv: str, columns: int = 80, env: dict | None = None) -> tuple[int, str]:
    """(exit status, everything written) of ``python -m ckptio argv...`` run in a
    pseudo-terminal of `columns` columns (stdout and stderr are the terminal)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    environ = {**os.environ, "PYTHONPATH": PYTHONPATH, **(env or {})}
    environ.pop("COLUMNS", None)
    environ.update(env or {})
    proc = subprocess.Popen(
        [sys.executable, "-m", "ckptio", *map(str, argv)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=environ,
        close_fds=True,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError as exc:  # EIO: the child closed the terminal
            if exc.errno != errno.EIO:
                raise
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    status = proc.wait(timeout=120)
    return status, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


@pytest.fixture
def numbered(tmp_path) -> str:
    """Names that sort differently by characters and by numbers, one of them long."""
    rng = np.random.default_rng(0)
    tensors = {
        f"model/_variables/{i}": rng.normal(size=(4, i + 1)).astype(np.float32)
        for i in (1, 2, 10, 11)
    }
    long = "encoder/" + "very_long_scope_name/" * 6 + "kernel"
    tensors[long] = np.zeros((3, 3), np.float32)
    tensors["global_step"] = np.array(7, np.int64)
    tensors["special"] = np.array([0, 0, np.nan, np.inf, -np.inf, 1, 2, 3], np.float32)
    return ckptio.save(str(tmp_path / "numbered"), tensors)


# --------------------------------------------------------------------------- ls


def test_ls_header_natural_sort_and_drop(capsys, numbered, tf_checkpoints):
    status, out, err = run(capsys, "ls", numbered)
    lines = out.splitlines()
    assert status == 0 and lines[0].split() == ["NAME", "DTYPE", "SHAPE", "SIZE"]
    names = [line.split()[0] for line in lines[1:-1]]
    assert names[2:6] == [f"model/_variables/{i}" for i in (1, 2, 10, 11)]  # not 1, 10, 11, 2
    assert [t["name"] for t in run_json(capsys, "ls", numbered)["tensors"]] == names
    assert "very_long_scope_name/" * 6 in out  # not a terminal: names in full
    # --drop uses select()'s presets.
    prefix = tf_checkpoints("tf1_saver")
    kept = [
        t["name"] for t in run_json(capsys, "ls", prefix, "--drop", "training-state")["tensors"]
    ]
    with ckptio.open(prefix) as ckpt:
        want = ckptio.select(ckpt, drop="training_state")
        assert sorted(kept) == sorted(want) and len(want) < len(ckpt)
        optimizer = ckptio.select(ckpt, drop="optimizer")
    kept = [t["name"] for t in run_json(capsys, "ls", prefix, "--drop", "optimizer")["tensors"]]
    assert sorted(kept) == sorted(optimizer)
    status, _, err = run(capsys, "ls", prefix, "--drop", "weights")
    assert status == 2 and ERROR_LINE.match(err)


def test_ls_tf2_full_names(capsys, tf_checkpoints):
    prefix = tf_checkpoints("tf2_checkpoint")
    report = run_json(capsys, "ls", prefix, "--names", "full_name")
    with ckptio.open(prefix) as ckpt:
        view = ckptio.object_graph(ckpt).view(names="full_name")
        assert {t["name"] for t in report["tensors"]} == set(view)
        for t in report["tensors"]:
            assert t["shape"] == list(view.shapes()[t["name"]])
            assert t["nbytes"] == ckpt.info(view.key(t["name"])).nbytes
    kept = run_json(capsys, "ls", prefix, "--names", "full_name", "--drop", "training-state")
    assert {t["name"] for t in kept["tensors"]} == set(ckptio.select(view, drop="training_state"))
    status, _, err = run(capsys, "ls", tf_checkpoints("tf1_saver"), "--names", "full_name")
    assert status == 1 and "no object graph" in err


def test_ls_fits_the_terminal(numbered):
    for columns in (50, 72, 120):
        status, text = in_terminal("ls", numbered, columns=columns)
        lines = text.splitlines()
        assert status == 0 and lines[0].split() == ["NAME", "DTYPE", "SHAPE", "SIZE"]
        assert all(len(line) <= columns for line in lines), (columns, lines)
        assert len(lines) == 1 + 7 + 1  # header, a row per tensor (none wrapped), totals
        long_row = next(line for line in lines[1:] if line.startswith("encoder/"))
        assert "…" in long_row and long_row.startswith("encoder/very")  # cut in the middle
        assert long_row.endswith("36 B") and "float32  [3, 3]" in long_row  # columns intact
    # COLUMNS wins over the terminal's size, as for other tools.
    status, text = in_terminal("ls", numbered, columns=200, env={"COLUMNS": "60"})
    assert status == 0 and max(map(len, text.splitlines())) <= 60


# --------------------------------------------------------------------------- show


def test_show_friendly_names(capsys, tf_checkpoints):
    prefix = tf_checkpoints("tf2_checkpoint")
    with ckptio.open(prefix) as ckpt:
        view = ckptio.object_graph(ckpt).view(names="full_name")
        graph = ckptio.object_graph(ckpt)
        full = next(
            n
            for n in view
            if graph.tensors.get(view.key(n)) is not None
            and graph.tensors[view.key(n)].full_name == n
            and graph.tensors[view.key(n)].path != n
            and ckpt.info(view.key(n)).size > 1
        )
        key = view.key(full)
        path = graph.tensors[key].path
        want = ckpt[key].tolist()
    for name, how in ((full, "full_name"), (path, "path")):
        report = run_json(capsys, "show", prefix, name, "--full")
        assert report["key"] == key and report["values"] == want, how
        status, out, _ = run(capsys, "show", prefix, name)
        assert status == 0 and f"({how}; key {key})" in out.splitlines()[0]
    assert run_json(capsys, "show", prefix, full, "--names", "full_name")["key"] == key
    # The other form given with --names: a usage error with the hint.
    status, out, err = run(capsys, "show", prefix, key, "--names", "full_name")
    assert status == 2 and out == "" and ERROR_LINE.match(err)
    assert "it is a key name; drop --names" in err
    status, _, err = run(capsys, "show", prefix, full, "--names", "key")
    assert status == 2 and "it is a full_name name; pass --names full_name" in err
    status, _, err = run(capsys, "show", prefix, full + "x")
    assert status == 1 and f"did you mean {full!r}" in err


def test_show_all(capsys, numbered, tf_checkpoints):
    report = run_json(capsys, "show", numbered, "--all")
    with ckptio.open(numbered) as ckpt:
        assert [t["name"] for t in report["tensors"]] == sorted(ckpt, key=cli._natural)
        for t in report["tensors"]:
            value = ckpt[t["name"]]
            assert t["stats"] == cli._stats(value)
            assert t["values"] == cli._json_values(value.reshape(-1)[:6])
    status, out, _ = run(capsys, "show", numbered, "--all", "--linewidth", "60")
    assert status == 0 and all(len(line) <= 60 for line in out.splitlines())
    assert "model/_variables/11  float32 [4, 12]  192 B" in out
    assert "(42 more)]" in out  # 48 values, 6 shown
    # Strings, every dtype and partitioned tensors.
    for fixture in ("strings", "all_dtypes", "partitioned"):
        prefix = tf_checkpoints(fixture)
        report = run_json(capsys, "show", prefix, "--all")
        with ckptio.open(prefix) as ckpt:
            assert len(report["tensors"]) == len(ckpt)
    status, _, err = run(capsys, "show", numbered, "special", "--all")
    assert status == 2 and ERROR_LINE.match(err)
    status, _, err = run(capsys, "show", numbered)
    assert status == 2 and "--all" in err


def test_show_hist(capsys, numbered):
    status, out, _ = run(capsys, "show", numbered, "special", "--hist", "--bins", "3")
    lines = out.splitlines()
    assert status == 0 and "zeros 2  nan 1  inf 2" in lines[0]
    counts = [int(line.split(")")[-1].split("]")[-1].split()[0]) for line in lines[1:]]
    expected, _ = np.histogram(np.array([0, 0, 1, 2, 3.0]), bins=3)
    assert counts == expected.tolist()
    assert lines[1].endswith("█" * 40) and "▏" not in lines[1]  # the largest bin: 40 cells
    report = run_json(capsys, "show", numbered, "model/_variables/10", "--hist")
    with ckptio.open(numbered) as ckpt:
        counts, edges = np.histogram(ckpt["model/_variables/10"].astype(np.float64), bins=20)
    assert report["histogram"]["counts"] == counts.tolist()
    assert report["histogram"]["edges"] == pytest.approx(edges.tolist())
    assert cli._bar(1, 1000, 40) == "▏"  # a non-empty bin is visible
    assert cli._bar(3, 8, 1) == "▍" and cli._bar(0, 8, 5) == ""
    status, _, err = run(capsys, "show", numbered, "special", "--plot", "x.png")
    assert status == 2 and "--hist" in err


# --------------------------------------------------------------------------- diff --stats


def test_diff_stats(capsys, tmp_path, tf_checkpoints):
    rng = np.random.default_rng(1)
    a = {
        "w": rng.normal(size=(8, 8)).astype(np.float32),
        "same": np.ones(3, np.float32),
        "zero": np.zeros(2, np.float32),
        "n": np.arange(5, dtype=np.int64),
    }
    b = {
        **a,
        "w": a["w"] + rng.normal(size=(8, 8)).astype(np.float32) * 0.01,
        "zero": np.ones(2, np.float32),
        "n": np.arange(5, dtype=np.int64) * 2,
    }
    pa = ckptio.save(str(tmp_path / "a"), a)
    pb = ckptio.save(str(tmp_path / "b"), b)
    report = run_json(capsys, "diff", pa, pb, "--stats")
    rows = {r["name"]: r for r in report["stats"]}
    wa, wb = a["w"].astype(np.float64), b["w"].astype(np.float64)
    assert rows["w"]["rel_change"] == pytest.approx(np.linalg.norm(wa - wb) / np.linalg.norm(wa))
    assert rows["w"]["max_abs_diff"] == pytest.approx(np.abs(wa - wb).max())
    assert rows["same"] == {"name": "same", "rel_change": 0.0, "max_abs_diff": 0.0}
    assert rows["zero"]["rel_change"] == "inf"  # ||a|| = 0
    assert rows["n"]["rel_change"] == pytest.approx(
        np.linalg.norm(np.arange(5)) / np.linalg.norm(np.arange(5))
    )
    status, out, _ = run(capsys, "diff", pa, pb, "--stats")
    assert status == 0
    table = out.split("\n\n")[1].splitlines()
    assert table[0].split() == ["NAME", "REL", "CHANGE", "MAX", "ABS", "DIFF"]
    assert [line.split()[0] for line in table[1:]] == ["n", "same", "w", "zero"]
    # TF2 names on both sides.
    prefix = tf_checkpoints("tf2_checkpoint")
    report = run_json(capsys, "diff", prefix, prefix, "--names", "full_name", "--stats")
    with ckptio.open(prefix) as ckpt:
        view = ckptio.object_graph(ckpt).view(names="full_name")
    assert report["identical"] == len(view) and {r["name"] for r in report["stats"]} <= set(view)


def test_plots(capsys, numbered, tmp_path):
    pytest.importorskip("matplotlib")
    out_png = tmp_path / "hist.png"
    status, out, _ = run(
        capsys, "show", numbered, "model/_variables/10", "--hist", "--plot", out_png
    )
    assert status == 0 and out.endswith(f"wrote {out_png}\n")
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out_png.stat().st_size > 5000
    other = ckptio.save(str(tmp_path / "other"), {"global_step": np.array(8, np.int64)})
    diff_png = tmp_path / "diff.png"
    status, _, err = run(capsys, "diff", numbered, other, "--plot", diff_png)
    assert status == 0, err
    assert diff_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib(capsys, numbered, tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.split(".")[0] == "matplotlib":
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    status, out, err = run(
        capsys, "show", numbered, "special", "--hist", "--plot", tmp_path / "x.png"
    )
    assert status == 1 and out == "" and ERROR_LINE.match(err)
    assert "--plot needs matplotlib: pip install 'ckptio[plot]'" in err
    status, _, err = run(capsys, "diff", numbered, numbered, "--plot", tmp_path / "x.png")
    assert status == 1 and "ckptio[plot]" in err and not (tmp_path / "x.png").exists()


# --------------------------------------------------------------------------- progress


@pytest.fixture
def big(tmp_path) -> str:
    """A checkpoint large enough to take a moment: 16 tensors of 4 MiB."""
    rng = np.random.default_rng(2)
    block = rng.normal(size=(1024, 1024)).astype(np.float32)
    return ckptio.save(str(tmp_path / "big"), {f"layer_{i}/w": block + i for i in range(16)})


@pytest.mark.parametrize(
    "command",
    [
        ["verify", "{big}"],
        ["diff", "{big}", "{big}"],
        ["convert", "{big}", "{tmp}/out.npz", "--verify"],
        ["rewrite", "{big}", "{tmp}/copy", "--cast", "bfloat16"],
        ["merge", "{tmp}/merged", "{big}::include=layer_1/", "{big}::include=layer_2/"],
    ],
)
def test_progress_in_a_terminal(big, tmp_path, command):
    argv = [part.format(big=big, tmp=tmp_path) for part in command]
    status, text = in_terminal(*argv)
    assert status == 0, text
    label = command[0]
    bars = [part for part in text.split("\r") if part.startswith(label)]
    assert bars, text
    # Counted in bytes (tqdm: "12.0M/64.0M [00:01<00:04, 9.5MB/s]": rate and time left).
    # diff reads both sides; convert --verify reads, writes and reads back.
    total = {"merge": "8.00M", "diff": "128M", "convert": "192M"}.get(label, "64.0M")
    try:
        import tqdm  # noqa: F401
    except (
        ImportError
    ):  # the plain fallback: "verify [###.....] 12.0 MiB/64.0 MiB 9 MiB/s 0:04 left"
        total = {"merge": "8.0 MiB", "diff": "128.0 MiB", "convert": "192.0 MiB"}.get(
            label, "64.0 MiB"
        )
        assert any(f"/{total} " in b and "/s " in b and " left" in b for b in bars), bars
        return
    assert any(re.search(rf"/{total} \[\d\d:\d\d<[?\d]", b) and "B/s" in b for b in bars), bars
    if label == "convert":
        assert any(b.startswith("convert: writing and verifying:") for b in bars), bars
    # Not a terminal: no bar at all.
    proc = subprocess.run(
        [sys.executable, "-m", "ckptio", *argv[:1], *argv[1:], "--overwrite"]
        if label in ("convert", "rewrite", "merge")
        else [sys.executable, "-m", "ckptio", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": PYTHONPATH},
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_convert_bar_fills_only_when_done(big, tmp_path, monkeypatch):
    """`convert --verify`: when every tensor is read the bar is a third of the way (writing
    and verifying follow); it is full only after the output is written and verified."""
    import ckptio.convert

    seen = {}
    real_convert = ckptio.convert.convert

    class Recording(cli.Progress):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, enabled=True, use_tqdm=False, **kwargs)
            seen["bar"] = self

    def convert(*args, **kwargs):
        report = real_convert(*args, **kwargs)
        bar = seen["bar"]
        seen["at_return"] = (bar.position, bar.total, bar.label)
        return report

    monkeypatch.setattr(cli, "Progress", Recording)
    monkeypatch.setattr(ckptio.convert, "convert", convert)
    assert main(["convert", big, str(tmp_path / "out.npz"), "--verify"]) == 0
    position, total, label = seen["at_return"]
    assert total == 3 * 16 * 4 * 2**20 and position == total // 3
    assert label == "convert: writing and verifying"
    assert seen["bar"].position == total  # filled at the end


# --------------------------------------------------------------------------- merge


def test_merge_api_read_by_tensorflow(tf, tf_checkpoints, tmp_path, bitwise_equal):
    backbone = tf_checkpoints("tf1_saver")
    other = tf_checkpoints("partitioned")
    with ckptio.open(backbone) as a, ckptio.open(other) as b:
        head_names = [n for n in b if n.startswith("part/")]
        plan = ckptio.merge(
            str(tmp_path / "merged"),
            [
                (a, {"select": lambda n: n.startswith("model/")}),
                (b, {"select": head_names, "rename": {"part/": "head/"}}),
            ],
        )
        expected = {t: (a if p == a.path else b, n) for t, (p, n) in plan.items()}
        assert set(plan) == {n for n in a if n.startswith("model/")} | {
            "head/" + n[5:] for n in head_names
        }
        reader = tf.train.load_checkpoint(str(tmp_path / "merged"))
        assert set(reader.get_variable_to_shape_map()) == set(plan)
        with ckptio.open(str(tmp_path / "merged")) as merged:
            for target, (source, name) in expected.items():
                bitwise_equal(np.asarray(reader.get_tensor(target)), source[name], target)
                info = source._core.info(name)
                if not source.info(name).sliced:  # raw copy: the stored checksum carried over
                    assert merged._core.info(target)["masked_crc32c"] == info["masked_crc32c"]


def test_merge_conflicts_and_prefer(tmp_path):
    a = ckptio.save(str(tmp_path / "a"), {"w": np.ones(2, np.float32), "x": np.zeros(1)})
    b = ckptio.save(str(tmp_path / "b"), {"w": np.full(2, 2, np.float32), "y": np.zeros(1)})
    with pytest.raises(ckptio.UsageError, match=r"in more than one source: .*a and .*b") as info:
        ckptio.merge(str(tmp_path / "m"), [a, b])
    assert info.value.key == "w" and not os.path.exists(str(tmp_path / "m.index"))
    for prefer, value in (("first", 1), ("last", 2)):
        out = str(tmp_path / prefer)
        plan = ckptio.merge(out, [a, b], prefer=prefer)
        assert set(plan) == {"w", "x", "y"}
        assert ckptio.open(out)["w"].tolist() == [value, value]
    # A global rename applies to every source, after its own.
    plan = ckptio.merge(
        str(tmp_path / "r"),
        [(a, {"rename": {"w": "a_w"}}), b],
        rename={"a_w": "from_a/w"},
        select=lambda n: n != "x",
    )
    assert set(plan) == {"from_a/w", "w", "y"}
    with pytest.raises(ckptio.UsageError, match="rename key 'nope' matches no tensor"):
        ckptio.merge(str(tmp_path / "r2"), [(a, {"rename": {"nope": "z"}})])
    with pytest.raises(ckptio.CheckpointError, match="into one of the sources"):
        ckptio.merge(a, [a, b], prefer="first")


def test_merge_command(capsys, tf, tf_checkpoints, tmp_path):
    backbone = tf_checkpoints("tf1_saver")
    out = tmp_path / "merged"
    status, _, err = run(capsys, "merge", out, backbone, backbone)
    assert status == 2 and ERROR_LINE.match(err) and "--prefer first or --prefer last" in err
    status, text, err = run(
        capsys,
        "merge",
        out,
        f"{backbone}::include=model/dense",
        f"{backbone}::include=model/dense::map=model/=copy/",
        "--exclude",
        ".*/Adam",
        "-v",
    )
    assert status == 0, err
    with ckptio.open(backbone) as ckpt:
        dense = [n for n in ckpt if n.startswith("model/dense") and "/Adam" not in n]
        reader = tf.train.load_checkpoint(str(out))
        names = set(reader.get_variable_to_shape_map())
        assert names == set(dense) | {"copy/" + n[6:] for n in dense}
        for n in dense:
            np.testing.assert_array_equal(reader.get_tensor("copy/" + n[6:]), ckpt[n])
    assert text.splitlines()[-1].startswith(f"wrote {len(names)} tensors to {out}")
    report = run_json(
        capsys, "merge", tmp_path / "m2", backbone, backbone, "--prefer", "last", "--dry-run"
    )
    assert report["dry_run"] and not os.path.exists(str(tmp_path / "m2.index"))
    status, _, err = run(capsys, "merge", tmp_path / "m3", f"{backbone}::include=nothing")
    assert status == 2 and "::include 'nothing' matches no tensor" in err
    status, _, err = run(capsys, "merge", tmp_path / "m3", f"{backbone}::bad=1")
    assert status == 2 and "expected SRC::include=RE" in err


def test_progress_of_remote_reads(big, tmp_path, s3_server):
    """`verify` and `convert` of an s3:// checkpoint (moto on loopback): the same bar, in bytes
    fetched."""
    url = s3_server.upload(big, "progress/big")
    env = {
        "PYTHONPATH": PYTHONPATH,
        **{k: os.environ[k] for k in os.environ if k.startswith("AWS")},
    }
    status, text = in_terminal("verify", url, env=env)
    assert status == 0 and "OK: 16 of 16 tensors verified" in text, text
    bars = [part for part in text.split("\r") if part.startswith("verify")]
    assert any("/64.0M [" in b and "B/s" in b for b in bars) or any(
        "/64.0 MiB " in b for b in bars
    ), bars
    status, text = in_terminal("convert", url, tmp_path / "remote.npz", env=env)
    assert status == 0 and any(p.startswith("convert") for p in text.split("\r")), text
