"""Lifetime, files and threads.

* Views outlive their reader (close, del, gc, even the files being deleted or replaced) and can
  never be written, nor made writable.
* A writer killed midway leaves no readable checkpoint and changes none of its inputs.
* Paths with glob characters, braces, spaces, non-ASCII, symlinks, read-only directories work
  for open(), latest_checkpoint(), save() and rewrite(), or fail with a CheckpointError naming
  the path.
* Threads: concurrent readers agree with a single-threaded read; opening and closing readers
  while their views are in use is safe; close() during verify() either lets it finish or makes
  it raise "closed".
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import weakref
from pathlib import Path

import ckptio
import numpy as np
import pytest
from ckptio import CheckpointError, NotFoundError
from conftest import import_tensorflow


# ============================================================================ helpers
def fingerprint(value) -> tuple:
    """dtype, shape and exact contents (bytes elements for string tensors)."""
    a = np.asarray(value)
    if a.dtype == object:
        return (a.dtype.str, a.shape, tuple(bytes(x) for x in a.reshape(-1)))
    return (a.dtype.str, a.shape, hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest())


def read_all(path) -> dict[str, tuple]:
    with ckptio.open(path) as ckpt:
        return {name: fingerprint(ckpt.get_tensor(name, copy=True, verify=True)) for name in ckpt}


def expected(tensors: dict) -> dict[str, tuple]:
    out = {}
    for name, value in tensors.items():
        a = np.asarray(value)
        if a.dtype.kind in "SU":
            a = np.array(
                [x.encode() if isinstance(x, str) else x for x in a.reshape(-1)], dtype=object
            ).reshape(a.shape)
        out[name] = fingerprint(a)
    return out


def file_hashes(directory: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.is_file()
    }


def sample_tensors(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "dense/kernel": rng.normal(size=(16, 8)).astype(np.float32),
        "dense/bias": np.full(8, seed, dtype=np.float64),
        "step": np.int64(1000 + seed),
        "names": np.array([b"a", b"\xff\x00", f"seed {seed}".encode()], dtype=object),
        "key with [*?] {é} 中文": np.arange(3, dtype=np.int16) + seed,
    }


# ============================================================================ lifetime
def test_views_outlive_closed_and_collected_readers(tf_checkpoints):
    for name in ["all_dtypes", "strings", "partitioned", "sharded"]:
        ckpt = ckptio.open(tf_checkpoints(name))
        views = {n: ckpt[n] for n in ckpt}
        regions = {n: ckpt.get_slice(n)[:1] for n in ckpt if ckpt.info(n).shape}
        want = {n: fingerprint(np.array(v)) for n, v in views.items()}
        want_regions = {n: fingerprint(np.array(v)) for n, v in regions.items()}
        alive = weakref.ref(ckpt)
        ckpt.close()
        with pytest.raises(CheckpointError, match="closed"):
            ckpt.get_tensor(next(iter(views)))
        del ckpt
        gc.collect()
        assert alive() is None, "the Checkpoint object must not be kept alive by its views"
        assert {n: fingerprint(v) for n, v in views.items()} == want, name
        assert {n: fingerprint(v) for n, v in regions.items()} == want_regions, name


def test_views_survive_their_files_being_deleted(tmp_path):
    tensors = sample_tensors(1)
    prefix = ckptio.save(tmp_path / "m", tensors)
    with ckptio.open(prefix) as ckpt:
        views = {n: ckpt[n] for n in ckpt}
    for p in tmp_path.iterdir():
        p.unlink()
    gc.collect()
    assert {n: fingerprint(v) for n, v in views.items()} == expected(tensors)


def test_views_keep_old_values_when_the_checkpoint_is_overwritten(tmp_path):
    """The writer renames new files into place: mapped views of the old ones stay intact."""
    old, new = sample_tensors(1), sample_tensors(2)
    prefix = ckptio.save(tmp_path / "m", old)
    ckpt = ckptio.open(prefix)
    views = {n: ckpt[n] for n in ckpt}
    ckptio.save(prefix, new, overwrite=True)
    assert {n: fingerprint(v) for n, v in views.items()} == expected(old)
    ckpt.close()
    assert read_all(prefix) == expected(new)
    assert {n: fingerprint(v) for n, v in views.items()} == expected(old)
    # Rewriting a checkpoint onto itself, while views of it are alive, is the same.
    with ckptio.open(prefix) as ckpt:
        views = {n: ckpt[n] for n in ckpt}
        ckptio.rewrite(ckpt, prefix, overwrite=True, cast={"dense/kernel": "float16"})
    cast = dict(new, **{"dense/kernel": new["dense/kernel"].astype(np.float16)})
    assert read_all(prefix) == expected(cast)
    assert {n: fingerprint(v) for n, v in views.items()} == expected(new)


def test_mapped_views_cannot_be_written_or_made_writable(tf_checkpoints):
    with ckptio.open(tf_checkpoints("all_dtypes")) as ckpt:
        checked = 0
        for name in ckpt:
            view = ckpt[name]
            if view.dtype == object or view.size == 0:
                continue
            before = view.tobytes()
            derived = [
                view,
                view.reshape(-1),
                view.reshape(-1)[::2],
                view.reshape(-1).view(np.uint8),
                np.asarray(view),
                view.T,
            ]
            for v in derived:
                assert not v.flags.writeable, name
                first = (0,) * v.ndim
                with pytest.raises(ValueError, match="read-only"):
                    v[first] = v[first]
                with pytest.raises(ValueError, match="WRITEABLE"):
                    v.flags.writeable = True
            with pytest.raises(ValueError, match="read-only"):
                np.copyto(view, np.array(view))
            with pytest.raises(ValueError, match="read-only"):
                view.fill(view.reshape(-1)[0])
            copy = ckpt.get_tensor(name, copy=True)
            copy.reshape(-1)[0] = copy.reshape(-1)[-1]  # copies are writable and independent
            assert view.tobytes() == before == ckpt[name].tobytes(), name
            checked += 1
        assert checked > 20


# ============================================================================ killed writers
def run_killed(script: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]


def test_rewrite_killed_midway_changes_nothing(tmp_path):
    src_dir, dst_dir = tmp_path / "src", tmp_path / "dst"
    src_dir.mkdir()
    dst_dir.mkdir()
    src = ckptio.save(src_dir / "m", {**sample_tensors(1), "zz": np.zeros(3)}, update_state=True)
    previous = ckptio.save(dst_dir / "previous", sample_tensors(3), update_state=True)
    before = {"src": file_hashes(src_dir), "dst": file_hashes(dst_dir)}
    run_killed(f"""
import os, signal, ckptio
def die(value):
    os.kill(os.getpid(), signal.SIGKILL)
ckptio.rewrite({src!r}, {str(dst_dir / "new")!r}, transforms={{"zz": die}}, update_state=True)
""")
    assert file_hashes(src_dir) == before["src"]
    left = file_hashes(dst_dir)
    assert {n: h for n, h in left.items() if ".tempstate" not in n} == before["dst"]
    assert any(".tempstate" in n for n in left)  # tensors before "zz" had been written
    with pytest.raises(NotFoundError):
        ckptio.open(dst_dir / "new")
    assert ckptio.latest_checkpoint(dst_dir) == previous
    assert read_all(dst_dir) == expected(sample_tensors(3))  # temp files are ignored
    assert read_all(src) == expected({**sample_tensors(1), "zz": np.zeros(3)})


def test_overwrite_killed_midway_keeps_the_old_checkpoint(tmp_path):
    prefix = ckptio.save(tmp_path / "m", sample_tensors(1), update_state=True)
    before = file_hashes(tmp_path)
    run_killed(f"""
import os, signal, numpy as np, ckptio
def tensors():
    yield "a", np.ones(1000, np.float32)
    yield "b", np.ones((300, 300))
    os.kill(os.getpid(), signal.SIGKILL)
ckptio.save({prefix!r}, tensors(), overwrite=True, update_state=True)
""")
    left = file_hashes(tmp_path)
    assert {n: h for n, h in left.items() if ".tempstate" not in n} == before
    assert read_all(prefix) == expected(sample_tensors(1))
    assert read_all(tmp_path) == expected(sample_tensors(1))
    # The leftovers do not get in the way of the next save.
    ckptio.save(prefix, sample_tensors(2), overwrite=True)
    assert read_all(prefix) == expected(sample_tensors(2))


# ============================================================================ paths
# (file name, a different name the first one matches as a glob pattern, or None)
PATH_NAMES = [
    ("ck[12]", "ck1"),
    ("star*", "starX"),
    ("what?", "whatX"),
    ("[!a]x", "bx"),
    ("{a,b}", None),
    ("with space", None),
    ("café", None),
    ("中文", None),
    ("all [*?] {é} 中文", "all * {é} 中文"),
]


@pytest.mark.parametrize("name, decoy", PATH_NAMES)
def test_unusual_paths(tmp_path, name, decoy):
    directory = tmp_path / f"dir {name}"
    directory.mkdir()
    prefix = str(directory / name)
    if decoy is not None:  # a checkpoint the name would match as a glob: never picked
        ckptio.save(directory / decoy, sample_tensors(9))
    assert ckptio.save(prefix, sample_tensors(1), update_state=True) == prefix
    want = expected(sample_tensors(1))
    files = {p.name for p in directory.iterdir()}
    assert {f"{name}.index", f"{name}.data-00000-of-00001"} <= files
    for form in [
        prefix,
        Path(prefix),
        prefix + ".index",
        prefix + ".data-00000-of-00001",
        directory,
        str(directory),
    ]:
        assert read_all(form) == want, form
    assert ckptio.latest_checkpoint(directory) == prefix
    assert ckptio.latest_checkpoint(str(directory)) == prefix
    copy = str(directory / f"{name} copy")
    plan = ckptio.rewrite(prefix, copy, rename={"step": "global_step"}, update_state=True)
    assert plan["step"] == "global_step"
    renamed = dict(want)
    renamed["global_step"] = renamed.pop("step")
    assert read_all(copy) == renamed
    assert ckptio.latest_checkpoint(directory) == copy
    assert read_all(directory) == renamed
    with pytest.raises(NotFoundError) as err:
        ckptio.open(directory / f"{name} missing")
    assert err.value.file == str(directory / f"{name} missing")


@pytest.mark.parametrize("name", [n for n, _ in PATH_NAMES if not set(n) & set("[*?")])
def test_tensorflow_reads_unusual_paths(tmp_path, name):
    tf = import_tensorflow()
    directory = tmp_path / f"dir {name}"
    directory.mkdir()
    prefix = ckptio.save(directory / name, sample_tensors(1), update_state=True)
    assert tf.train.latest_checkpoint(str(directory)) == prefix
    reader = tf.train.load_checkpoint(str(directory))
    assert reader.get_tensor("step") == 1001
    assert reader.get_tensor("key with [*?] {é} 中文").tolist() == [1, 2, 3]


def test_v1_file_with_glob_characters(tf_checkpoints, tmp_path):
    source = tf_checkpoints("v1_saver")
    want = read_all(source)
    for name in ["model[1].ckpt", "model*.ckpt", "modèle ?.ckpt"]:
        shutil.copy(source, tmp_path / name)
    (tmp_path / "model1.ckpt").write_bytes(b"not a checkpoint")  # what model[1].ckpt matches
    for name in ["model[1].ckpt", "model*.ckpt", "modèle ?.ckpt"]:
        assert read_all(tmp_path / name) == want, name


def test_symlinked_directories_and_prefixes(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    prefix = ckptio.save(real / "m", sample_tensors(1), update_state=True)
    want = expected(sample_tensors(1))
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    assert read_all(link / "m") == want
    assert read_all(link) == want
    assert ckptio.latest_checkpoint(link) == str(link / "m")
    # Writing through the link lands in the real directory.
    ckptio.rewrite(link / "m", link / "m2", update_state=True)
    assert read_all(real / "m2") == want
    assert ckptio.latest_checkpoint(real) == str(real / "m2")
    # A prefix whose files are symlinks to another checkpoint's.
    alias = tmp_path / "alias"
    for suffix in [".index", ".data-00000-of-00001"]:
        Path(str(alias) + suffix).symlink_to(prefix + suffix)
    assert read_all(alias) == want
    assert read_all(str(alias) + ".index") == want
    # Overwriting the alias replaces the links, never the files they point to.
    before = file_hashes(real)
    ckptio.save(alias, sample_tensors(2), overwrite=True)
    assert not Path(str(alias) + ".index").is_symlink()
    assert read_all(alias) == expected(sample_tensors(2))
    assert file_hashes(real) == before
    assert read_all(prefix) == want


def test_broken_and_looping_symlinks_name_the_path(tmp_path):
    dangling = tmp_path / "dangling"
    Path(str(dangling) + ".index").symlink_to(tmp_path / "nowhere.index")
    with pytest.raises(NotFoundError) as err:
        ckptio.open(dangling)
    assert err.value.file == str(dangling) + ".index"
    loop = tmp_path / "loop"
    Path(str(loop) + ".index").symlink_to(str(loop) + ".index")
    with pytest.raises(CheckpointError) as err:
        ckptio.open(loop)
    assert err.value.file == str(loop) + ".index"
    assert "symbolic links" in str(err.value)


@contextlib.contextmanager
def read_only(directory: Path):
    """Make `directory` refuse new entries. Root ignores permission bits, so as root the
    directory is made immutable (`chattr +i`, which binds root too)."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        try:
            yield
        finally:
            directory.chmod(0o755)
        return
    chattr = shutil.which("chattr")
    if (
        chattr is None
        or subprocess.run([chattr, "+i", str(directory)], capture_output=True).returncode != 0
    ):
        pytest.skip(
            "running as root on a file system without `chattr +i`: no way to make a "
            "directory read-only"
        )
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(directory)], check=True)


def test_read_only_directory(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    prefix = ckptio.save(ro / "m", sample_tensors(1), update_state=True)
    want = expected(sample_tensors(1))
    outside = ckptio.save(tmp_path / "outside", sample_tensors(2))
    before = file_hashes(ro)
    with read_only(ro):
        with pytest.raises(OSError):
            (ro / "probe").write_bytes(b"")
        # Reading works.
        assert read_all(prefix) == want
        assert read_all(ro) == want
        assert ckptio.latest_checkpoint(ro) == prefix
        with ckptio.open(prefix, verify=True) as ckpt:
            assert fingerprint(ckpt["dense/kernel"]) == want["dense/kernel"]
        # Writing fails clearly, naming the path, and leaves everything as it was.
        attempts = [
            lambda: ckptio.save(ro / "new", sample_tensors(3)),
            lambda: ckptio.save(prefix, sample_tensors(3), overwrite=True),
            lambda: ckptio.rewrite(outside, ro / "copy"),
            lambda: ckptio.rewrite(prefix, ro / "copy", rename={"step": "s"}),
        ]
        for attempt in attempts:
            with pytest.raises(CheckpointError) as err:
                attempt()
            assert err.value.file is not None and err.value.file.startswith(str(ro)), err.value
            assert "Operation not permitted" in str(err.value) or "Permission denied" in str(
                err.value
            ), err.value
        assert file_hashes(ro) == before
        assert read_all(prefix) == want


def test_output_directory_that_does_not_exist(tmp_path):
    # Missing directories are created (as tf.train.Checkpoint.write does; see
    # test_output_files.py); a file in the way is an error naming it.
    src = ckptio.save(tmp_path / "m", sample_tensors(1))
    (tmp_path / "a file").write_bytes(b"")
    target = tmp_path / "a file" / "m"
    for attempt in [
        lambda t=target: ckptio.save(t, sample_tensors(1)),
        lambda t=target: ckptio.rewrite(src, t),
        lambda t=target: ckptio.BundleWriter(t),
    ]:
        with pytest.raises(CheckpointError, match="not a directory") as err:
            attempt()
        assert err.value.file == str(target.parent)
        assert str(target.parent) in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["a file", "m.index", "m.data-00000-of-00001"]
    )
    ckptio.save(tmp_path / "missing" / "deeper" / "m", sample_tensors(1))
    assert ckptio.open(tmp_path / "missing" / "deeper").keys()


# ============================================================================ threads
def run_threads(target, n: int, *args) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        try:
            barrier.wait()
            target(i, *args)
        except BaseException as e:  # reported by the caller
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hangs"
    return errors


def reference(ckpt: ckptio.Checkpoint) -> dict:
    """Everything a thread reads, single-threaded: views, verified copies, one region each."""
    out = {}
    for name in ckpt:
        out[name] = fingerprint(ckpt[name])
        out[name, "copy"] = fingerprint(ckpt.get_tensor(name, copy=True, verify=True))
        if ckpt.info(name).shape:
            out[name, "region"] = fingerprint(ckpt.get_slice(name)[1:, ...])
    return out


@pytest.mark.parametrize("name", ["all_dtypes", "strings", "partitioned", "sharded", "v1_saver"])
def test_eight_threads_read_and_verify_identically(tf_checkpoints, name):
    prefix = tf_checkpoints(name)
    with ckptio.open(prefix) as ckpt:
        want = reference(ckpt)
    shared = ckptio.open(prefix)
    results: dict[int, list] = {}

    def work(i: int) -> None:
        ckpt = shared if i % 2 else ckptio.open(prefix)  # one shared reader, some own ones
        results[i] = []
        for _ in range(3):
            names = list(ckpt)
            random.Random(i).shuffle(names)
            ckpt.verify()
            got = {}
            for n in names:
                got[n] = fingerprint(ckpt[n])
                got[n, "copy"] = fingerprint(ckpt.get_tensor(n, copy=True, verify=True))
                if ckpt.info(n).shape:
                    got[n, "region"] = fingerprint(ckpt.get_slice(n)[1:, ...])
            results[i].append(got)
        if ckpt is not shared:
            ckpt.close()

    errors = run_threads(work, 8)
    shared.close()
    assert not errors, errors
    assert len(results) == 8
    for i, rounds in results.items():
        for got in rounds:
            assert got == want, f"thread {i} read something else"


def test_readers_opened_and_closed_while_their_views_are_used(tf_checkpoints):
    prefixes = [tf_checkpoints(n) for n in ["all_dtypes", "partitioned", "v1_saver"]]
    want = {p: read_all(p) for p in prefixes}
    views: list[tuple[str, str, np.ndarray]] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        rng = random.Random(i)
        for round_ in range(12):
            prefix = rng.choice(prefixes)
            ckpt = ckptio.open(prefix)
            mine = [(prefix, n, ckpt[n]) for n in ckpt]
            if round_ % 2:
                ckpt.close()
            del ckpt
            if round_ % 4 == 0:
                gc.collect()
            with lock:
                views.extend(mine)
                others = rng.sample(views, min(len(views), 30))
            for p, n, v in others:  # views of readers other threads closed or dropped
                assert fingerprint(v) == want[p][n], (p, n)

    errors = run_threads(work, 8)
    assert not errors, errors
    gc.collect()
    assert views
    for p, n, v in views:
        assert fingerprint(v) == want[p][n], (p, n)


def verify_and_copy_steps(ckpt, names: list[str], rounds: int, seen: list) -> list:
    """The verifying thread's work as steps: per round, `verify()` then a verified copy of
    each tensor (its fingerprint appended to `seen`)."""

    def copy(name: str) -> None:
        seen.append((name, fingerprint(ckpt.get_tensor(name, copy=True, verify=True))))

    one_round = [ckpt.verify] + [lambda n=n: copy(n) for n in names]
    return one_round * rounds


@pytest.mark.parametrize("which", ["v2", "v1"])
def test_close_during_verify_and_copy(tmp_path, tf_checkpoints, which):
    """close() while another thread verifies and copies: that thread either finishes or gets a
    CheckpointError saying "closed", and every value it (or an earlier view) got is right.

    Deterministic: the verifying thread signals when it reaches a given step (early: before
    any; within the first verify round; mid; before the last; after all), and the main thread
    closes then. With ``wait``, the verifying thread stops at that step until close() has
    returned, so each outcome is known; without, close() races the steps that follow."""
    if which == "v2":
        rng = np.random.default_rng(0)
        tensors = {f"t{i}": rng.normal(size=(512, 1024)).astype(np.float32) for i in range(8)}
        path = ckptio.save(tmp_path / "big", tensors)  # 16 MiB: each step takes a while
        want = expected(tensors)
    else:
        path = tf_checkpoints("v1_saver")
        want = read_all(path)
    rounds = 3
    with ckptio.open(path) as probe:
        num_steps = rounds * (1 + len(probe))
    points = [0, 1, 2, num_steps // 2, num_steps - 1, num_steps]
    outcomes = {"finished": 0, "closed": 0}
    for point in points:
        for wait in (True, False):
            ckpt = ckptio.open(path)
            names = list(ckpt)
            views = {n: ckpt[n] for n in names}
            reached, closed = threading.Event(), threading.Event()
            seen: list = []
            steps = verify_and_copy_steps(ckpt, names, rounds, seen)

            def at_point(reached=reached, closed=closed, wait=wait) -> None:
                reached.set()
                if wait:
                    closed.wait(timeout=60)

            def verify_until_closed(
                steps=steps, point=point, at_point=at_point, seen=seen, reached=reached
            ) -> None:
                try:
                    for i, step in enumerate(steps):
                        if i == point:
                            at_point()
                        step()
                    if point == len(steps):
                        at_point()
                    seen.append("finished")
                except CheckpointError as e:
                    seen.append(e)
                finally:
                    reached.set()  # never leave the main thread waiting

            thread = threading.Thread(target=verify_until_closed)
            thread.start()
            assert reached.wait(timeout=60)
            ckpt.close()
            closed.set()
            thread.join(timeout=60)
            assert not thread.is_alive()
            end = seen[-1]
            if end == "finished":
                outcomes["finished"] += 1
            else:
                assert isinstance(end, CheckpointError) and "closed" in str(end), repr(end)
                outcomes["closed"] += 1
            if wait:  # closed exactly at `point`: a step after it must have raised
                assert (end == "finished") == (point == num_steps), (point, end)
            for n, fp in seen[:-1]:
                assert fp == want[n], n
            assert {n: fingerprint(v) for n, v in views.items()} == want
    assert outcomes["closed"] >= len(points) - 1, outcomes


DAEMONS_AT_EXIT = r"""
import os, sys, threading, time
import fsspec, numpy as np, ckptio

prefix = ckptio.save(sys.argv[1], {f"t{i}": np.full(300_000, i, np.float32) for i in range(16)})
fs = fsspec.filesystem("memory")
for name in os.listdir(os.path.dirname(prefix)):
    with open(os.path.join(os.path.dirname(prefix), name), "rb") as f:
        fs.pipe_file(f"/exit/{name}", f.read())
local, remote = ckptio.open(prefix), ckptio.open("memory://exit/" + os.path.basename(prefix))
names = sorted(local)
work = [
    lambda: [local.get_tensor(n, copy=True, verify=True) for n in names],
    lambda: local.verify(),
    lambda: local.prefetch(names),
    lambda: [remote.get_tensor(n, copy=True, verify=True) for n in names],
]
for job in work:
    threading.Thread(target=lambda job=job: [job() for _ in iter(int, 1)], daemon=True).start()
time.sleep(0.3)
print("exiting", flush=True)
"""


def test_daemon_threads_inside_ckptio_when_the_program_ends(tmp_path):
    """A program may end while daemon threads are inside ckptio with the GIL released (or a
    remote source's read taking it). CPython ends such threads by unwinding their stacks, which
    out of a destructor is std::terminate: the process aborted at exit. It must exit cleanly."""
    for attempt in range(3):
        proc = subprocess.run(
            [sys.executable, "-c", DAEMONS_AT_EXIT, str(tmp_path / f"ckpt{attempt}")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.stdout.strip() == "exiting", proc.stderr
        assert proc.returncode == 0, f"exit status {proc.returncode}: {proc.stderr[-2000:]}"
        assert "terminate" not in proc.stderr, proc.stderr
