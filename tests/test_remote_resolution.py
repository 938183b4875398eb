"""One resolver (ckptio.locate) for local paths and URLs: the same tree, on disk and in fsspec's
memory filesystem, resolves to the same checkpoints and fails with the same kinds of error and
the same messages. The local answers are themselves pinned by test_path_recognition and
test_paths_and_lifetime; here each URL must give the local answer."""

from __future__ import annotations

import os
import shutil
import uuid
import zipfile
from pathlib import Path

import ckptio
import numpy as np
import pytest
from ckptio.errors import CheckpointError

fsspec = pytest.importorskip("fsspec")

ROOT = Path(__file__).resolve().parent.parent
V1_FILE = ROOT / "examples" / "data" / "vgg_16" / "vgg_16.ckpt"
TENSORS = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(3, np.float32)}


def _tree(root: Path) -> list[str]:
    """A tree of the things users point at; the relative paths to resolve in it."""

    def save(rel: str) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        ckptio.save(root / rel, TENSORS)

    def write(rel: str, data: bytes) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)

    save("run/model.ckpt-1")
    save("run/model.ckpt-2")
    write("run/checkpoint", b'model_checkpoint_path: "model.ckpt-2"\n')
    write("run/model.ckpt-2.meta", b"graph")
    save("single/only")
    save("two/a")
    save("two/b")
    save("stale/model.ckpt-1")
    write("stale/checkpoint", b'model_checkpoint_path: "model.ckpt-9"\n')
    save("moved/model.ckpt-5")
    write("moved/checkpoint", b'model_checkpoint_path: "/old/machine/moved/model.ckpt-5"\n')
    save("export/variables/variables")
    write("export/saved_model.pb", b"\x08\x01")
    (root / "export/assets").mkdir()
    write("novars/saved_model.pb", b"\x08\x01")
    write("novars/variables/notes.txt", b"")  # (object stores hold no empty directories)
    write("v1dir/model.ckpt", V1_FILE.read_bytes())
    write("orphan.meta", b"graph")
    write("files/model.h5", b"\x89HDF\r\n\x1a\n" + b"\0" * 600)
    write("files/empty.ckpt", b"")
    write("files/pointer.index", b"version https://git-lfs.github.com/spec/v1\noid x\n")
    write("files/short", b"tiny")
    write("files/graph.pb", b"\x08\x01" * 40)
    with zipfile.ZipFile(root / "files/arrays.npz", "w") as z:
        z.writestr("w.npy", b"")
    (root / "empty").mkdir()
    return [
        "run",
        "run/",
        "run/model.ckpt-1",
        "run/model.ckpt-1.index",
        "run/model.ckpt-1.data-00000-of-00001",
        "run/model.ckpt-2.meta",
        "run/checkpoint",
        "single",
        "two",
        "stale",
        "moved",
        "export",
        "export/saved_model.pb",
        "novars",
        "v1dir",
        "v1dir/model.ckpt",
        "orphan.meta",
        "files/model.h5",
        "files/empty.ckpt",
        "files/short",
        "files/graph.pb",
        "files/arrays.npz",
        "empty",
        "missing/model.ckpt-1",
        "run/model.ckpt-3",
    ]


def _outcome(resolve, base: str, rel: str) -> tuple:
    """What resolving `base/rel` gives, with `base` taken out of paths and messages."""
    try:
        got = resolve(f"{base}/{rel}")
    except CheckpointError as exc:
        file = (exc.file or "").replace(base, "<root>")
        return type(exc).__name__, exc.message.replace(base, "<root>"), file
    return got.format, got.prefix.replace(base, "<root>")


def test_local_and_memory_urls_resolve_alike(tmp_path):
    local = tmp_path / "tree"
    cases = _tree(local)
    fs = fsspec.filesystem("memory")
    remote = f"memory://{uuid.uuid4().hex}"
    for dirpath, _, names in os.walk(local):
        for name in names:
            path = Path(dirpath, name)
            fs.pipe_file(f"{remote}/{path.relative_to(local).as_posix()}", path.read_bytes())
    (local / "empty").rmdir()  # an object store has no empty directories
    try:
        for rel in cases:
            want = _outcome(ckptio.paths.resolve, str(local), rel)
            got = _outcome(ckptio.paths.resolve, remote, rel)
            assert got == want, rel
    finally:
        fs.rm(remote, recursive=True)


def test_checkpoints_found_remotely_open_with_local_values(tmp_path):
    """What the resolver found on a URL (a V1 file in a directory, a SavedModel) opens and
    reads as the local copy does."""
    fs = fsspec.filesystem("memory")
    remote = f"memory://{uuid.uuid4().hex}"
    shutil.copy(V1_FILE, tmp_path / "model.ckpt")
    fs.pipe_file(f"{remote}/v1dir/model.ckpt", V1_FILE.read_bytes())
    try:
        with ckptio.open(f"{remote}/v1dir") as ckpt, ckptio.open(tmp_path / "model.ckpt") as ref:
            assert ckpt.format == "V1" and ckpt.shapes() == ref.shapes()
            name = min(ref, key=lambda n: ref.info(n).nbytes)
            np.testing.assert_array_equal(ckpt[name], ref[name])
    finally:
        fs.rm(remote, recursive=True)
