"""Scale-out conversion (`ckptio.distributed`): threads in-process, and a real multi-process
Dask cluster on this machine reading from the loopback S3 server (conftest's `s3_server`)."""

from __future__ import annotations

import json
import os
import warnings

import ckptio
import ckptio.distributed as dist
import numpy as np
import pytest
from conftest import assert_bitwise_equal
from s3server import BUCKET

pytestmark = pytest.mark.filterwarnings(
    "ignore::DeprecationWarning",
    "ignore::ResourceWarning",
    "ignore::pytest.PytestUnraisableExceptionWarning",
)


def make_tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    tensors = {
        f"layer_{i:02d}/kernel": rng.standard_normal((128, 96), dtype=np.float32) for i in range(12)
    }
    tensors.update(
        {f"layer_{i:02d}/bias": rng.standard_normal(96, dtype=np.float32) for i in range(12)}
    )
    tensors["embedding"] = rng.standard_normal((700, 64)).astype(np.float64)
    tensors["step"] = np.array(42, np.int64)
    tensors["vocab"] = np.array([b"a", b"bc"], dtype=object)
    return tensors


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> tuple[str, dict[str, np.ndarray]]:
    tensors = make_tensors()
    prefix = str(tmp_path_factory.mktemp("dist_src") / "model.ckpt-7")
    ckptio.save(prefix, tensors, max_shard_bytes=150_000)
    return prefix, tensors


@pytest.fixture(scope="module")
def source_url(s3_server, source) -> str:
    return s3_server.upload(source[0], "dist/model.ckpt-7")


@pytest.fixture(scope="module")
def client(s3_server):  # the server sets the environment the workers inherit
    distributed = pytest.importorskip(
        "dask.distributed", reason="dask[distributed] runs the cluster tests"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
            worker_dashboard_address=None,
        )
        client = distributed.Client(cluster)
        # Both workers registered before any task is submitted: the tests assert that tasks
        # spread over both processes, which a late second worker would make a race.
        client.wait_for_workers(2, timeout=120)
    yield client
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client.close()
        cluster.close()


def load_safetensors(report) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    index = json.load(open(report.path))
    out = {}
    for file in report.files:
        tensors = load_file(file)
        for name in tensors:
            assert index["weight_map"][name] == os.path.basename(file)
        out.update(tensors)
    assert index["metadata"]["total_size"] == report.nbytes
    return out


# --------------------------------------------------------------------------- in-process


def test_safetensors_threads_local_source(source, tmp_path):
    prefix, tensors = source
    pytest.importorskip("safetensors")
    report = dist.to_safetensors(
        prefix,
        tmp_path,
        max_shard_bytes=100_000,
        unsupported="skip",
        cast={"embedding": "float32"},
        rename={"layer_00/": "first/"},
        metadata={"format": "pt"},
        verify=True,
    )
    assert report.skipped == {"vocab": "string tensors cannot be stored in safetensors"}
    assert len(report.files) == len(os.listdir(tmp_path)) - 1 >= 4
    assert (
        os.path.basename(report.files[0]) == f"model-00001-of-{len(report.files):05d}.safetensors"
    )
    got = load_safetensors(report)
    assert set(got) == {report.written[n] for n in tensors if n != "vocab"}
    for name, target in report.written.items():
        want = tensors[name].astype(np.float32) if name == "embedding" else tensors[name]
        assert_bitwise_equal(got[target], want, name)
    assert report.verified and len(report.tasks) == len(report.files)
    # Shards hold at most max_shard_bytes of tensor data (a bigger tensor is alone).
    sizes = [t["nbytes"] for t in report.tasks]
    assert max(sizes) <= max(100_000, 700 * 64 * 4)


def test_existing_outputs_need_overwrite(source, tmp_path):
    prefix, _ = source
    dist.to_safetensors(prefix, tmp_path, unsupported="skip")
    with pytest.raises(ckptio.CheckpointError, match="overwrite"):
        dist.to_safetensors(prefix, tmp_path, unsupported="skip")
    dist.to_safetensors(prefix, tmp_path, unsupported="skip", overwrite=True)
    with pytest.raises(ckptio.UnsupportedError):
        dist.to_safetensors(prefix, tmp_path / "x", overwrite=True)  # strings, no skip


def test_rewrite_threads_matches_tensorflow(source, tmp_path, tf):
    prefix, tensors = source
    dst = str(tmp_path / "out" / "model.ckpt-8")
    os.makedirs(os.path.dirname(dst))
    report = dist.rewrite(
        prefix, dst, max_shard_bytes=120_000, cast={"embedding": "float32"}, update_state=True
    )
    n = len(report.files)
    assert n >= 3 and report.files[-1] == f"{dst}.data-{n - 1:05d}-of-{n:05d}"
    assert sorted(os.listdir(os.path.dirname(dst))) == sorted(
        ["checkpoint", "model.ckpt-8.index"] + [os.path.basename(f) for f in report.files]
    )
    assert ckptio.latest_checkpoint(os.path.dirname(dst)) == dst
    reader = tf.train.load_checkpoint(dst)
    assert sorted(reader.get_variable_to_shape_map()) == sorted(tensors)
    with ckptio.open(dst) as ckpt:
        ckpt.verify()
        for name, want in tensors.items():
            if name == "embedding":
                want = want.astype(np.float32)
            assert_bitwise_equal(ckpt[name], want, name)
            tf_value = reader.get_tensor(name)
            if want.dtype == object:
                assert list(tf_value.reshape(-1)) == list(want.reshape(-1))
            else:
                assert np.array_equal(tf_value, want), name


def test_index_writer_is_the_core_writer(tmp_path):
    """The index of a distributed write is byte for byte the one `ckptio.save` writes for the
    same entries (the core's writer, which writes TF's bytes), and reads back as a table."""
    from tablegen import read_table

    tensors = {f"k{i:04d}": np.full((i % 7, 3), i, np.float32) for i in range(600)}
    tensors["names"] = np.array([b"a", b"bc"], dtype=object)
    prefix = str(tmp_path / "one")
    ckptio.save(prefix, tensors)
    written = open(prefix + ".index", "rb").read()
    core = ckptio._core.BundleReader(prefix)
    part = []
    for name in core.names():
        d = core.info(name)
        part.append(
            (name, d["dtype_enum"], list(d["shape"]), d["offset"], d["size"], d["masked_crc32c"])
        )
    core.close()
    assert dist._bundle_index([part]) == written
    assert len(read_table(written)) == len(tensors) + 1
    with pytest.raises(ckptio.CheckpointError, match="one name"):
        dist._bundle_index([part[:1], part[:1]])


# --------------------------------------------------------------------------- on a Dask cluster


def test_dask_safetensors_from_s3(client, s3_server, source, source_url, tmp_path):
    prefix, tensors = source
    pytest.importorskip("safetensors")
    with ckptio.open(source_url, storage_options=s3_server.storage_options) as ckpt:
        report = dist.to_safetensors(
            ckpt,
            tmp_path,
            client=client,
            max_shard_bytes=100_000,
            unsupported="skip",
            verify=True,
            measure_memory=True,
        )
        sizes = {n: ckpt.info(n).nbytes for n in ckpt}
    assert len(report.workers) == 2  # both worker processes took tasks
    assert all(str(os.getpid()) not in w for w in report.workers)
    got = load_safetensors(report)
    for name, target in report.written.items():
        assert_bitwise_equal(got[target], tensors[name], name)
    for task, file in zip(report.tasks, report.files):
        names = [
            n
            for n, t in report.written.items()
            if json.load(open(report.path))["weight_map"][t] == os.path.basename(file)
        ]
        # Each worker fetched its own tensors' bytes (the first task of a worker also fetches
        # the index), nothing else.
        assert task["fetched"] >= sum(sizes[n] for n in names)
        assert task["fetched"] - sum(sizes[n] for n in names) <= os.path.getsize(prefix + ".index")
        assert task["peak_memory"] is not None


def test_dask_rewrite_from_s3_to_s3(client, s3_server, source, source_url, tf):
    _, tensors = source
    with ckptio.open(source_url, storage_options=s3_server.storage_options) as ckpt:
        dst = f"s3://{BUCKET}/rewritten/model.ckpt-9"
        report = dist.rewrite(
            ckpt,
            dst,
            client=client,
            max_shard_bytes=120_000,
            cast="bfloat16",
            output_storage_options=s3_server.storage_options,
            verify=True,
        )
    assert len(report.workers) == 2
    with ckptio.open(dst, storage_options=s3_server.storage_options) as out:
        assert set(out) == set(tensors)
        out.verify()
        for name, want in tensors.items():
            if want.dtype in (np.float32, np.float64):
                want = want.astype(out.dtypes()[name])
            assert_bitwise_equal(out[name], want, name)


def test_failed_task_leaves_no_output(client, s3_server, source, tmp_path):
    prefix, _ = source
    # The index without one of its data shards: the tasks reading that shard fail.
    with ckptio.open(prefix) as ref:
        shard = ref.info("embedding").shard
        gone = next(f for f in os.listdir(os.path.dirname(prefix)) if f".data-{shard:05d}-" in f)
    url = s3_server.upload(prefix, "broken/model.ckpt-7", skip=(gone[len("model.ckpt-7") :],))
    with pytest.raises(ckptio.NotFoundError):
        dist.to_safetensors(
            url,
            tmp_path,
            client=client,
            max_shard_bytes=100_000,
            unsupported="skip",
            storage_options=s3_server.storage_options,
        )
    assert os.listdir(tmp_path) == []
