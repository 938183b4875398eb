"""compat.load_variable / list_variables keep readers open between calls, never serving stale
values: a checkpoint rewritten in place, replaced, or changed within a filesystem timestamp tick
must read as it is now."""

from __future__ import annotations

import os
import time
from pathlib import Path

import ckptio
import numpy as np
import pytest
from ckptio import compat


@pytest.fixture(autouse=True)
def _fresh_cache():
    compat.clear_cache()
    yield
    compat.clear_cache()


def age(prefix: str, seconds: float = 60) -> None:
    """Make the checkpoint's files look old enough to be cached."""
    past = time.time() - seconds
    for f in Path(prefix).parent.glob(Path(prefix).name + ".*"):
        os.utime(f, (past, past))


def count_opens(monkeypatch) -> list[str]:
    opened: list[str] = []
    real = compat._open

    def spy(path, *args, **kwargs):
        opened.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(compat, "_open", spy)
    return opened


def test_repeated_calls_reuse_one_reader(tmp_path, monkeypatch):
    prefix = ckptio.save(str(tmp_path / "ckpt"), {"a": np.arange(4.0), "b": np.ones((2, 3))})
    age(prefix)
    opened = count_opens(monkeypatch)
    assert compat.list_variables(prefix) == [("a", [4]), ("b", [2, 3])]
    for _ in range(3):
        np.testing.assert_array_equal(compat.load_variable(prefix, "a"), np.arange(4.0))
        np.testing.assert_array_equal(compat.load_variable(prefix, "b:0"), np.ones((2, 3)))
    assert len(opened) == 1


def test_values_are_fresh_writable_copies(tmp_path):
    prefix = ckptio.save(str(tmp_path / "ckpt"), {"a": np.arange(4.0)})
    age(prefix)
    first = compat.load_variable(prefix, "a")
    first[0] = 99
    np.testing.assert_array_equal(compat.load_variable(prefix, "a"), np.arange(4.0))


@pytest.mark.parametrize("how", ["in_place", "replaced", "old_mtime"])
def test_rewritten_checkpoint_is_never_served_stale(tmp_path, how):
    prefix = str(tmp_path / "ckpt")
    ckptio.save(prefix, {"a": np.zeros(8, np.float32)})
    age(prefix)
    np.testing.assert_array_equal(compat.load_variable(prefix, "a"), np.zeros(8, np.float32))
    new = {"a": np.full(8, 7, np.float32)}  # same names, shapes and file sizes
    if how == "in_place":
        ckptio.save(prefix, new, overwrite=True)
    else:
        other = ckptio.save(str(tmp_path / "other"), new)
        for suffix in (".index", ".data-00000-of-00001"):
            os.replace(other + suffix, prefix + suffix)
    if how == "old_mtime":  # a replacement carrying an old timestamp (cp -p, rsync -t)
        age(prefix, 3600)
    np.testing.assert_array_equal(compat.load_variable(prefix, "a"), new["a"])
    assert compat.list_variables(prefix) == [("a", [8])]


def test_same_size_rewrite_within_a_timestamp_tick_is_not_cached(tmp_path, monkeypatch):
    # Files modified just now are not trusted: their mtime may not change on the next rewrite.
    prefix = ckptio.save(str(tmp_path / "ckpt"), {"a": np.zeros(4)})
    opened = count_opens(monkeypatch)
    compat.load_variable(prefix, "a")
    compat.load_variable(prefix, "a")
    assert len(opened) == 2
    ckptio.save(prefix, {"a": np.full(4, 5.0)}, overwrite=True)  # same sizes, maybe same mtime
    np.testing.assert_array_equal(compat.load_variable(prefix, "a"), np.full(4, 5.0))


def test_deleted_checkpoint_is_not_found(tmp_path):
    prefix = ckptio.save(str(tmp_path / "ckpt"), {"a": np.zeros(4)})
    age(prefix)
    compat.load_variable(prefix, "a")
    for f in tmp_path.iterdir():
        f.unlink()
    with pytest.raises(ckptio.NotFoundError):
        compat.load_variable(prefix, "a")


def test_missing_key_keeps_the_error(tmp_path):
    prefix = ckptio.save(str(tmp_path / "ckpt"), {"a": np.zeros(4)})
    age(prefix)
    compat.load_variable(prefix, "a")
    with pytest.raises(KeyError):
        compat.load_variable(prefix, "nope")
