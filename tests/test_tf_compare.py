"""ckptio against TensorFlow's own reader, on checkpoints written by real TensorFlow.

Every test runs once per generated checkpoint (``tests/tfgen.py``; the test id names it) and
checks every key, reporting each failing key by name. Expected values always come from TF
(``tf.train.load_checkpoint`` and friends), never from constants.
"""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path

import ckptio
import numpy as np
import pytest
from ckptio import compat


def _bytewise(names):
    return sorted(names, key=lambda name: name.encode("utf-8"))


def _set_diff(got, want) -> str:
    missing = _bytewise(set(want) - set(got))
    unexpected = _bytewise(set(got) - set(want))
    return f"missing {missing[:10]!r} ({len(missing)}), unexpected {unexpected[:10]!r}"


def _numeric(value) -> bool:
    return value is not None and value.dtype != object


def _data_files(prefix: str) -> list[str]:
    return sorted(glob.glob(glob.escape(prefix) + ".data-?????-of-?????"))


# --------------------------------------------------------------------------- keys, metadata


def test_keys_match_tf(tf_checkpoint, tf_ref):
    name, prefix = tf_checkpoint
    ref = tf_ref(prefix)
    with ckptio.open(prefix) as ckpt:
        keys = list(ckpt.keys())
        assert set(keys) == set(ref), f"{name}: {_set_diff(keys, ref)}"
        assert len(keys) == len(set(keys)), f"{name}: duplicate keys"
        assert keys == _bytewise(ref), f"{name}: keys() is not in bytewise order"
        assert list(ckpt) == keys, f"{name}: iteration order differs from keys()"
        assert len(ckpt) == len(ref)
        for key in ref:
            assert key in ckpt, f"{name}: {key!r} not in ckpt"
        # The header entry and the slice keys of partitioned tensors are not tensors.
        assert "" not in ckpt
        for raw in ref.slice_keys:
            assert raw.decode("utf-8", "surrogateescape") not in ckpt
            assert raw.decode("latin-1") not in ckpt
        assert not [key for key in keys if key.startswith("\x00")]
        assert "no/such/tensor" not in ckpt
        with pytest.raises(KeyError):
            ckpt["no/such/tensor"]
        with pytest.raises(KeyError):
            ckpt.get_tensor("no/such/tensor")


def test_shapes_and_dtypes_match_tf(tf_checkpoint, tf_ref, failures):
    name, prefix = tf_checkpoint
    ref = tf_ref(prefix)
    with ckptio.open(prefix) as ckpt:
        shapes, dtypes = ckpt.shapes(), ckpt.dtypes()
        assert set(shapes) == set(ref), f"{name}: shapes(): {_set_diff(shapes, ref)}"
        assert set(dtypes) == set(ref), f"{name}: dtypes(): {_set_diff(dtypes, ref)}"

        def check(key, tf_dtype, tf_shape, value):
            info = ckpt.info(key)
            assert info.name == key, f"info.name {info.name!r}"
            assert info.dtype_name == tf_dtype, f"dtype_name {info.dtype_name!r} != {tf_dtype!r}"
            assert tuple(info.shape) == tf_shape, f"info.shape {info.shape} != {tf_shape}"
            assert tuple(shapes[key]) == tf_shape, f"shapes() {shapes[key]} != {tf_shape}"
            assert isinstance(shapes[key], tuple), f"shapes() gives {type(shapes[key])}"
            assert dtypes[key] == info.dtype, f"dtypes() {dtypes[key]} != info {info.dtype}"
            if value.dtype == object:
                assert info.dtype == "string", f"info.dtype {info.dtype!r} for a string"
            else:
                assert info.dtype == value.dtype, f"info.dtype {info.dtype} != TF {value.dtype}"
            assert info.sliced == (key in ref.sliced), f"info.sliced {info.sliced}"

        with failures(name) as f:
            for key, (tf_dtype, tf_shape, value) in ref.items():
                f.check(key, check, key, tf_dtype, tf_shape, value)


def test_info_locates_the_bytes(tf_checkpoint, tf_ref, failures):
    """For plain numeric entries, (shard, offset, nbytes) point at exactly TF's bytes."""
    name, prefix = tf_checkpoint
    ref = tf_ref(prefix)
    files = _data_files(prefix)
    assert files, f"{name}: no data files next to {prefix}"
    contents = [Path(path).read_bytes() for path in files]

    def check(key, value):
        info = ckpt.info(key)
        assert info.nbytes == value.nbytes, f"nbytes {info.nbytes} != {value.nbytes}"
        if info.sliced:
            return
        assert isinstance(info.shard, int), f"shard {info.shard!r}"
        assert isinstance(info.offset, int), f"offset {info.offset!r}"
        assert 0 <= info.shard < len(files), f"shard {info.shard} of {len(files)} files"
        data = contents[info.shard][info.offset : info.offset + info.nbytes]
        assert data == np.ascontiguousarray(value).tobytes(), (
            f"bytes at shard {info.shard} offset {info.offset} are not TF's value"
        )

    with ckptio.open(prefix) as ckpt, failures(name) as f:
        for key, (_, _, value) in ref.items():
            if _numeric(value):
                f.check(key, check, key, value)


# --------------------------------------------------------------------------- values


def test_values_bitwise_equal_tf(tf_checkpoint, tf_ref, bitwise_equal, failures):
    name, prefix = tf_checkpoint
    ref = tf_ref(prefix)

    def check(key, value):
        bitwise_equal(ckpt[key], value, "ckpt[key]")
        bitwise_equal(ckpt.get_tensor(key), value, "get_tensor(key)")

    with ckptio.open(prefix, verify=False) as ckpt, failures(name) as f:
        for key, (_, _, value) in ref.items():
            f.check(key, check, key, value)


def test_values_by_iteration(tf_checkpoint, tf_ref, bitwise_equal, failures):
    """The Mapping protocol (items()) gives the same arrays."""
    name, prefix = tf_checkpoint
    ref = tf_ref(prefix)
    with ckptio.open(prefix) as ckpt, failures(name) as f:
        seen = 0
        for key, array in ckpt.items():
            seen += 1
            f.check(key, bitwise_equal, array, ref[key][2], "items()")
        assert seen == len(ref)


def test_views_are_read_only(tf_checkpoint, tf_ref, failures):
    name, prefix = tf_checkpoint
    ref = tf_ref(prefix)

    def check(key, numeric):
        array = ckpt[key]
        assert array.flags.writeable is False, "array is writeable"
        with pytest.raises(ValueError):
            array[...] = array.copy()
        if numeric and array.size and not ckpt.info(key).sliced:
            # A view of a read-only mapping must not be made writeable (writes would crash).
            try:
                array.flags.writeable = True
            except ValueError:
                pass
            else:
                array.flags.writeable = False
                raise AssertionError("the WRITEABLE flag of a mapped view could be set")

    with ckptio.open(prefix) as ckpt, failures(name) as f:
        for key, (_, _, value) in ref.items():
            f.check(key, check, key, _numeric(value))


def test_plain_tensors_are_zero_copy(tf_checkpoint, tf_ref, failures):
    """Non-empty, non-partitioned numeric tensors are views of the mapped data file."""
    name, prefix = tf_checkpoint
    ref = tf_ref(prefix)

    def check(key):
        first, second = ckpt[key], ckpt[key]
        assert not first.flags.owndata, "the array owns its data (a copy)"
        assert np.shares_memory(first, second), "two reads do not share memory"

    with ckptio.open(prefix) as ckpt, failures(name) as f:
        for key, (_, _, value) in ref.items():
            if _numeric(value) and value.size and key not in ref.sliced:
                f.check(key, check, key)


def _regions(shape: tuple[int, ...], seed: int) -> list:
    """Index expressions to try on a tensor of ``shape``."""
    if not shape:
        return [(), Ellipsis]
    n0 = shape[0]
    regions = [
        slice(None),
        Ellipsis,
        slice(0, max(1, n0 // 2)),
        slice(n0 // 2, None),
        slice(1, -1),
        slice(2, 2),
        slice(None, None, 2),
        slice(1, None, 3),
        slice(None, None, -1),
    ]
    regions.append((None, slice(1, None)))  # np.newaxis
    if n0:
        regions += [0, -1, n0 // 2, np.int64(n0 - 1), [n0 - 1, 0, n0 - 1]]
    if len(shape) >= 3 and shape[0] and shape[-1]:
        regions.append((-1, Ellipsis, 0))
    if len(shape) >= 2:
        n1 = shape[1]
        regions += [
            (Ellipsis, slice(1, None)),
            (slice(1, 3), slice(0, 1)),
            (slice(None), slice(None, None, 2)),
        ]
        if n1:
            regions += [(slice(None), 0), (slice(1, None), n1 - 1)]
        if shape[-1]:
            regions.append((Ellipsis, -1))
        if shape[-2]:
            regions.append((Ellipsis, 0, slice(None)))
    rng = np.random.default_rng(seed)
    for _ in range(4):  # random boxes, which cross partition boundaries somewhere
        box = []
        for n in shape:
            start = int(rng.integers(0, n + 1))
            stop = int(rng.integers(start, n + 1))
            box.append(slice(start, stop, int(rng.integers(1, 3))))
        regions.append(tuple(box))
    return regions


def test_get_slice_matches_tf(tf_checkpoint, tf_ref, bitwise_equal, failures):
    name, prefix = tf_checkpoint
    ref = tf_ref(prefix)

    def check(key, index, value):
        bitwise_equal(ckpt.get_slice(key)[index], value[index], f"[{index!r}]", scalars=True)

    def out_of_bounds(key, shape):
        for index in (shape[0], -shape[0] - 1, (0,) * (len(shape) + 1)):
            with pytest.raises(IndexError):
                ckpt.get_slice(key)[index]

    with ckptio.open(prefix) as ckpt, failures(name) as f:
        for i, (key, (_, shape, value)) in enumerate(ref.items()):
            if name == "many_keys" and i % 50:
                continue  # 9000 scalars; a sample is enough
            for index in _regions(shape, seed=i):
                f.check(f"{key}[{index!r}]", check, key, index, value)
            if shape:
                f.check(f"{key} out of bounds", out_of_bounds, key, shape)


@pytest.mark.parametrize("name", ["partitioned", "raw_slices", "sharded", "sharded_slices"])
def test_get_slice_on_partitioned_tensors(name, tf_checkpoints, tf_ref, failures):
    """Integer indexing of a partitioned tensor gives just that row (from one slice)."""
    prefix = tf_checkpoints(name)
    ref = tf_ref(prefix)
    assert ref.sliced, f"{name} has no partitioned tensors"

    def check(key, value):
        first = ckpt.get_slice(key)[0]
        assert first.shape == value[0].shape, f"shape {first.shape} != {value[0].shape}"
        assert first.tobytes() == np.ascontiguousarray(value[0]).tobytes()

    with ckptio.open(prefix) as ckpt, failures(name) as f:
        for key in sorted(ref.sliced):
            value = ref[key][2]
            if value.dtype != object and value.size:
                f.check(key, check, key, value)


# --------------------------------------------------------------------------- checksums, paths


def test_verify_passes(tf_checkpoint):
    _, prefix = tf_checkpoint
    with ckptio.open(prefix) as ckpt:
        ckpt.verify()
    ckptio.open(prefix, verify=True).close()


def test_verify_each_tensor(tf_checkpoint, tf_ref, failures):
    name, prefix = tf_checkpoint
    ref = tf_ref(prefix)
    with ckptio.open(prefix) as ckpt, failures(name) as f:
        for i, key in enumerate(ref):
            if name != "many_keys" or i % 50 == 0:
                f.check(key, ckpt.verify, key)


def _open_forms(prefix: str, tf) -> dict:
    forms = {"prefix": prefix, ".index": prefix + ".index", "Path(prefix)": Path(prefix)}
    for path in _data_files(prefix):
        forms[path[len(prefix) :]] = path
    directory = os.path.dirname(prefix)
    if tf.train.latest_checkpoint(directory) == prefix:
        forms["directory"] = directory
    return forms


def test_open_forms(tf_checkpoint, tf_ref, tf, bitwise_equal):
    """A prefix, its .index file, any data file and (with a state file naming it) its directory
    all open the same checkpoint."""
    name, prefix = tf_checkpoint
    ref = tf_ref(prefix)
    keys = _bytewise(ref)
    probe = [keys[0], keys[len(keys) // 2], keys[-1]]
    for form, path in _open_forms(prefix, tf).items():
        with ckptio.open(path) as ckpt:
            assert list(ckpt.keys()) == keys, f"{name}: open({form}) lists other keys"
            for key in probe:
                bitwise_equal(ckpt[key], ref[key][2], f"{name}: open({form})[{key!r}]")


def test_latest_checkpoint_matches_tf(tf_checkpoint, tf):
    name, prefix = tf_checkpoint
    directory = os.path.dirname(prefix)
    assert ckptio.latest_checkpoint(directory) == tf.train.latest_checkpoint(directory), name


def test_latest_checkpoint_relative_directory(tf_checkpoint, tf, monkeypatch):
    name, prefix = tf_checkpoint
    directory = os.path.dirname(prefix)
    monkeypatch.chdir(os.path.dirname(directory))
    relative = os.path.basename(directory)
    assert ckptio.latest_checkpoint(relative) == tf.train.latest_checkpoint(relative), name


def test_latest_checkpoint_without_state_file(tmp_path, tf):
    assert tf.train.latest_checkpoint(str(tmp_path)) is None
    assert ckptio.latest_checkpoint(str(tmp_path)) is None


STATE_NAMES = {
    "plain": "ckpt-1",
    "space": "with space-1",
    "utf8": "unicodé-1",
    "quote": 'quo"te-1',
    "tab": "tab\tname-1",
    "newline": "new\nline-1",
    "star": "star*-1",
}


@pytest.mark.parametrize("relative", [True, False], ids=["relative", "absolute"])
@pytest.mark.parametrize("state_name", list(STATE_NAMES))
def test_state_file_written_by_tf(state_name, relative, tf_checkpoints, tf, tmp_path):
    """TF writes the ``checkpoint`` state file (text proto, C-escaped strings); ckptio resolves
    it to the same prefix and opens it."""
    source = tf_checkpoints("tf1_saver")
    name = STATE_NAMES[state_name]
    for path in glob.glob(glob.escape(source) + ".*"):
        shutil.copy(path, tmp_path / (name + path[len(source) :]))
    recorded = name if relative else str(tmp_path / name)
    tf.compat.v1.train.update_checkpoint_state(str(tmp_path), recorded)
    expected = tf.train.latest_checkpoint(str(tmp_path))
    assert expected == str(tmp_path / name)
    assert ckptio.latest_checkpoint(str(tmp_path)) == expected
    assert ckptio.latest_checkpoint(tmp_path) == expected  # os.PathLike
    with ckptio.open(str(tmp_path)) as ckpt:
        assert ckpt.shapes() == {
            key: tuple(shape)
            for key, shape in tf.train.load_checkpoint(str(tmp_path))
            .get_variable_to_shape_map()
            .items()
        }


def test_state_file_pointing_nowhere(tf, tmp_path):
    tf.compat.v1.train.update_checkpoint_state(str(tmp_path), str(tmp_path / "gone" / "ckpt-9"))
    assert tf.train.latest_checkpoint(str(tmp_path)) is None
    assert ckptio.latest_checkpoint(str(tmp_path)) is None


def test_older_checkpoints_in_state_file(tf_checkpoints, tf, tf_ref, bitwise_equal):
    """Every checkpoint listed in a state file opens and matches TF."""
    for name in ("tf1_saver", "tf2_checkpoint"):
        directory = os.path.dirname(tf_checkpoints(name))
        state = tf.train.get_checkpoint_state(directory)
        assert len(state.all_model_checkpoint_paths) == 2, name
        for prefix in state.all_model_checkpoint_paths:
            ref = tf_ref(prefix)
            with ckptio.open(prefix) as ckpt:
                assert list(ckpt) == _bytewise(ref), prefix
                for key, (_, _, value) in ref.items():
                    bitwise_equal(ckpt[key], value, f"{prefix}[{key!r}]")


# --------------------------------------------------------------------------- compat


def test_compat_list_variables(tf_checkpoint, tf):
    name, prefix = tf_checkpoint
    assert compat.list_variables(prefix) == tf.train.list_variables(prefix), name
    directory = os.path.dirname(prefix)
    if tf.train.latest_checkpoint(directory) is not None:
        assert compat.list_variables(directory) == tf.train.list_variables(directory), name


def test_compat_reader_maps(tf_checkpoint, tf):
    name, prefix = tf_checkpoint
    ours, theirs = compat.load_checkpoint(prefix), tf.train.load_checkpoint(prefix)
    assert ours.get_variable_to_shape_map() == theirs.get_variable_to_shape_map(), name
    our_dtypes = {k: v.name for k, v in ours.get_variable_to_dtype_map().items()}
    their_dtypes = {k: v.name for k, v in theirs.get_variable_to_dtype_map().items()}
    assert our_dtypes == their_dtypes, name


def test_compat_debug_string(tf_checkpoint, tf):
    name, prefix = tf_checkpoint
    ours = compat.load_checkpoint(prefix).debug_string()
    theirs = tf.train.load_checkpoint(prefix).debug_string()
    assert isinstance(ours, bytes)
    if ours != theirs:
        got, want = ours.split(b"\n"), theirs.split(b"\n")
        diff = [(g, w) for g, w in zip(got, want) if g != w][:5]
        pytest.fail(f"{name}: debug_string differs ({len(got)} vs {len(want)} lines): {diff}")


def test_compat_reader_tensors(tf_checkpoint, tf, bitwise_equal, failures):
    name, prefix = tf_checkpoint
    ours, theirs = compat.load_checkpoint(prefix), tf.train.load_checkpoint(prefix)
    assert not ours.has_tensor("no/such/tensor")

    def check(key):
        assert ours.has_tensor(key), "has_tensor is False"
        bitwise_equal(ours.get_tensor(key), theirs.get_tensor(key), scalars=True)

    with failures(name) as f:
        for key in theirs.get_variable_to_shape_map():
            f.check(key, check, key)


def test_compat_load_variable(tf_checkpoint, tf, tf_ref, bitwise_equal, failures):
    name, prefix = tf_checkpoint
    ref = tf_ref(prefix)

    def check(key):
        for spelled in (key, key + ":0"):
            got = compat.load_variable(prefix, spelled)
            bitwise_equal(got, tf.train.load_variable(prefix, spelled), spelled, scalars=True)

    with failures(name) as f:
        for i, key in enumerate(ref):
            if name != "many_keys" or i % 1000 == 0:
                f.check(key, check, key)


# --------------------------------------------------------------------------- specific layouts


def test_generated_layouts(tf_checkpoints, tf_ref):
    """The generators produce what the tests above are meant to exercise."""
    sharded = tf_checkpoints("sharded")
    assert len(_data_files(sharded)) == 2
    assert "across/w" in tf_ref(sharded).sliced
    sliced = tf_checkpoints("sharded_slices")
    assert len(_data_files(sliced)) > 2
    assert "big/.ATTRIBUTES/VARIABLE_VALUE" in tf_ref(sliced).sliced
    part = tf_ref(tf_checkpoints("partitioned"))
    assert {"part/fixed", "part/minmax", "part/int64", "part/fixed/Momentum"} <= part.sliced
    raw = tf_ref(tf_checkpoints("raw_slices"))
    assert raw.sliced == {"w", "c", "e"}
    tf2 = tf_ref(tf_checkpoints("tf2_checkpoint"))
    assert "_CHECKPOINTABLE_OBJECT_GRAPH" in tf2
    assert "save_counter/.ATTRIBUTES/VARIABLE_VALUE" in tf2
    assert "model/hidden/bias/.ATTRIBUTES/VARIABLE_VALUE" in tf2
    tf1 = tf_ref(tf_checkpoints("tf1_saver"))
    assert {"global_step", "model/dense/kernel/Adam", "model/out/kernel/Momentum"} <= set(tf1)


def test_sliced_entries_span_data_files(tf_checkpoints, tf_ref):
    """ckptio reassembles tensors whose slices are spread over several data files."""
    prefix = tf_checkpoints("sharded_slices")
    with ckptio.open(prefix) as ckpt:
        for key in tf_ref(prefix).sliced:
            info = ckpt.info(key)
            assert info.sliced
            assert ckpt[key].shape == tuple(info.shape)


def test_variant_is_listed_like_tf(tf_checkpoints, tf_ref, bitwise_equal):
    """A DT_VARIANT entry is listed with TF's dtype name; reading it raises a ckptio error
    (TF cannot read it into numpy either); the other tensors read normally."""
    prefix = tf_checkpoints("variant")
    ref = tf_ref(prefix)
    tf_names = {key: (dtype, shape) for key, (dtype, shape, _) in ref.items()}
    with ckptio.open(prefix) as ckpt:
        assert list(ckpt) == _bytewise(ref)
        assert {k: (ckpt.info(k).dtype_name, tuple(ckpt.info(k).shape)) for k in ckpt} == tf_names
        assert ckpt.info("list").dtype_name == "variant"
        with pytest.raises(ckptio.CheckpointError):
            ckpt["list"]
        for key, (_, _, value) in ref.items():
            if value is not None:
                bitwise_equal(ckpt[key], value, key)
        ckpt.verify()
    reader = compat.load_checkpoint(prefix)
    assert {k: v.name for k, v in reader.get_variable_to_dtype_map().items()} == {
        k: dtype for k, (dtype, _) in tf_names.items()
    }
    assert reader.debug_string() == ref.debug_string


V1_CHECKPOINTS = ["v1_saver", "v1_sharded"]


@pytest.mark.parametrize("name", V1_CHECKPOINTS)
def test_v1_latest_checkpoint_matches_tf(name, tf_checkpoints, tf):
    directory = os.path.dirname(tf_checkpoints(name))
    assert ckptio.latest_checkpoint(directory) == tf.train.latest_checkpoint(directory)


@pytest.mark.parametrize("name", V1_CHECKPOINTS)
def test_v1_checkpoint_matches_tf(name, tf_checkpoints, tf_ref, tf, bitwise_equal):
    prefix = tf_checkpoints(name)
    ref = tf_ref(prefix)
    for path in (prefix, os.path.dirname(prefix)):
        with ckptio.open(path) as ckpt:
            assert ckpt.shapes() == {key: shape for key, (_, shape, _) in ref.items()}, path
    with ckptio.open(prefix) as ckpt:
        assert list(ckpt) == _bytewise(ref)
        for key, (dtype, shape, value) in ref.items():
            info = ckpt.info(key)
            assert (info.dtype_name, tuple(info.shape)) == (dtype, shape), key
            bitwise_equal(ckpt[key], value, key)
            bitwise_equal(ckpt.get_slice(key)[...], value, key)
        ckpt.verify()
    assert compat.list_variables(prefix) == tf.train.list_variables(prefix)
    reader = compat.load_checkpoint(prefix)
    for key in ref:
        bitwise_equal(reader.get_tensor(key), tf.train.load_variable(prefix, key), scalars=True)
    assert (
        reader.get_variable_to_shape_map()
        == tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
    )
    # TF lists V1 entries in unordered_map order: compare the lines as sets.
    ours, theirs = reader.debug_string(), tf.train.load_checkpoint(prefix).debug_string()
    assert sorted(ours.splitlines()) == sorted(theirs.splitlines())
