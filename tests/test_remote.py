"""Remote checkpoints (`ckptio.remote`) against a real S3-compatible server on loopback.

The server is moto's, in a thread on 127.0.0.1 (port chosen by the OS), wrapped in a WSGI layer
that records every request (method, key, Range header, bytes sent) and can inject faults (5xx,
403, short bodies): tests/s3server.py, started by the `s3_server` and `s3` fixtures of
conftest.py. Request and byte counts are therefore those on the wire, not what ckptio believes
it asked for.
"""

from __future__ import annotations

import importlib
import os

import ckptio
import numpy as np
import pytest
from ckptio.remote import RemoteOptions, open_url

# BUCKET for the tests; CREDENTIALS and S3Server for benchmarks/bench_distributed.py.
from s3server import BUCKET, CREDENTIALS, S3Server  # noqa: F401

pytest.importorskip("s3fs", reason="s3fs is needed to test s3:// reads (pip install '.[test]')")
pytest.importorskip("moto.server", reason="moto[server] provides the S3 server of these tests")
pytestmark = pytest.mark.filterwarnings(
    # Third-party server and client stacks warn about their own internals.
    "ignore::DeprecationWarning",
    "ignore::ResourceWarning",
)


# --------------------------------------------------------------------------- checkpoints


def make_tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    import ml_dtypes

    return {
        "embedding": rng.standard_normal((1000, 64), dtype=np.float32),
        "dense/kernel": rng.standard_normal((64, 32), dtype=np.float32),
        "dense/bias": rng.standard_normal(32, dtype=np.float32),
        "norm/gamma": np.ones(64, np.float32),
        "norm/beta": np.zeros(64, np.float32),
        "half": rng.standard_normal((40, 3)).astype(ml_dtypes.bfloat16),
        "cube": np.arange(6 * 7 * 8, dtype=np.int64).reshape(6, 7, 8),
        "names": np.array([b"alpha", b"", b"gamma" * 10], dtype=object),
        "empty": np.zeros((0, 5), np.float32),
        "step": np.array(1234, np.int64),
    }


@pytest.fixture(scope="module")
def local(tmp_path_factory) -> tuple[str, dict[str, np.ndarray]]:
    """A 3-shard checkpoint on disk and the arrays it holds."""
    tensors = make_tensors()
    prefix = str(tmp_path_factory.mktemp("remote") / "model.ckpt-100")
    ckptio.save(prefix, tensors, max_shard_bytes=200_000)
    return prefix, tensors


@pytest.fixture(scope="module")
def url(s3_server, local) -> str:
    return s3_server.upload(local[0], "run/model.ckpt-100")


def num_shards(prefix: str) -> int:
    directory, base = os.path.split(prefix)
    return sum(1 for n in os.listdir(directory) if n.startswith(base + ".data-"))


def shard_name(prefix: str, k: int, base: str | None = None) -> str:
    """Data shard k of the local checkpoint `prefix`, under `base` (a URL) if given."""
    return f"{base or prefix}.data-{k:05d}-of-{num_shards(prefix):05d}"


def index_size(prefix: str) -> int:
    return os.path.getsize(prefix + ".index")


def assert_same(a: np.ndarray, b: np.ndarray, what: str = "") -> None:
    assert a.dtype == b.dtype and a.shape == b.shape, what
    if a.dtype == object:
        assert a.tolist() == b.tolist(), what
    else:
        assert a.tobytes() == b.tobytes(), what


# --------------------------------------------------------------------------- listing and reads


def test_listing_fetches_only_the_index(s3, local, url):
    prefix, tensors = local
    with ckptio.open(url, storage_options=s3.storage_options) as ckpt:
        shapes, dtypes = ckpt.shapes(), ckpt.dtype_names()
        infos = {name: ckpt.info(name) for name in ckpt}
        stats = ckpt.stats
    got = s3.recorder.objects()
    assert [(r.method, r.path) for r in got] == [("GET", f"/{BUCKET}/run/model.ckpt-100.index")]
    assert got[0].range == "bytes=0-" and got[0].sent == index_size(prefix)
    assert stats["requests"] == 1 and stats["bytes"] == index_size(prefix)
    with ckptio.open(prefix) as ref:
        assert shapes == ref.shapes() and dtypes == ref.dtype_names()
        assert infos == {name: ref.info(name) for name in ref}
    assert set(shapes) == set(tensors)


def test_tensor_reads_fetch_exactly_their_ranges(s3, local, url):
    prefix, tensors = local
    with ckptio.open(url, storage_options=s3.storage_options) as ckpt, ckptio.open(prefix) as ref:
        for name in sorted(tensors):
            s3.recorder.requests.clear()
            value = ckpt[name]
            assert_same(value, ref[name], name)
            info = ckpt.info(name)
            got = s3.recorder.objects()
            gets = [r for r in got if r.method == "GET"]
            assert len(gets) == len(got)  # no HEAD: shard sizes come from the index
            if info.nbytes:
                (get,) = gets
                assert get.range == f"bytes={info.offset}-{info.offset + info.nbytes - 1}"
                assert get.sent == info.nbytes
            else:
                assert not gets


def test_verify_checks_checksums_remotely(s3, local, url):
    prefix, tensors = local
    with ckptio.open(url, storage_options=s3.storage_options) as ckpt:
        for name in tensors:
            assert_same(ckpt.get_tensor(name, verify=True), tensors[name], name)
        ckpt.verify()
    with ckptio.open(url, verify=True, storage_options=s3.storage_options) as ckpt:
        assert len(ckpt) == len(tensors)

    # The same checkpoint with one flipped byte inside "dense/kernel".
    with ckptio.open(prefix) as ref:
        info = ref.info("dense/kernel")
    shard = shard_name(prefix, info.shard)
    data = bytearray(open(shard, "rb").read())
    data[info.offset + 5] ^= 0x10
    fs = s3.fs()
    damaged = f"{BUCKET}/damaged/model.ckpt-100"
    fs.pipe_file(damaged + ".index", open(prefix + ".index", "rb").read())
    for k in range(num_shards(prefix)):
        src = shard_name(prefix, k)
        blob = bytes(data) if src == shard else open(src, "rb").read()
        fs.pipe_file(shard_name(prefix, k, damaged), blob)
    with ckptio.open("s3://" + damaged, storage_options=s3.storage_options) as ckpt:
        ckpt["dense/kernel"]  # no check asked: the bytes come back as they are
        with pytest.raises(ckptio.CorruptionError) as exc:
            ckpt.get_tensor("dense/kernel", verify=True)
        assert exc.value.key == "dense/kernel"
        assert shard_name(prefix, info.shard, "s3://" + damaged) in str(exc.value)


ROW = 64 * 4  # bytes of one row of "embedding" (float32, 64 columns)


@pytest.mark.parametrize(
    ("index", "span"),
    [
        (np.s_[100:110], (100 * ROW, 110 * ROW)),
        (np.s_[999], (999 * ROW, 1000 * ROW)),
        (np.s_[-3:], (997 * ROW, 1000 * ROW)),
        (np.s_[5:50:7], (5 * ROW, 48 * ROW)),  # rows 5, 12, ..., 47
        (np.s_[10:12, 3:9], (10 * ROW + 3 * 4, 11 * ROW + 9 * 4)),
        (np.s_[..., 2], (2 * 4, 999 * ROW + 3 * 4)),  # a column spans (nearly) everything
        (np.s_[0:0], None),
    ],
)
def test_get_slice_fetches_only_the_span(s3, local, url, index, span):
    _, tensors = local
    want = tensors["embedding"][index]
    with ckptio.open(url, storage_options=s3.storage_options) as ckpt:
        info = ckpt.info("embedding")
        s3.recorder.requests.clear()
        got = ckpt.get_slice("embedding")[index]
    assert_same(got, want)
    gets = [r for r in s3.recorder.objects() if r.method == "GET"]
    if span is None:
        assert gets == []
        return
    (get,) = gets
    first, stop = info.offset + span[0], info.offset + span[1]
    assert get.range == f"bytes={first}-{stop - 1}"
    assert get.sent == stop - first


def test_get_slice_other_tensors(s3, local, url):
    _, tensors = local
    with ckptio.open(url, storage_options=s3.storage_options) as ckpt:
        assert_same(ckpt.get_slice("cube")[2, 3:5, ::3], tensors["cube"][2, 3:5, ::3])
        assert_same(ckpt.get_slice("cube")[[0, 2]], tensors["cube"][[0, 2]])  # fancy: whole
        assert_same(ckpt.get_slice("half")[1:3], tensors["half"][1:3])
        assert_same(ckpt.get_slice("names")[1:], tensors["names"][1:])
        assert_same(ckpt.get_slice("step")[()], tensors["step"][()])
        with pytest.raises(IndexError):
            ckpt.get_slice("cube")[6]


def test_prefetch_coalesces_and_reads_hit_the_cache(s3, local, url):
    prefix, _ = local
    small = ["dense/bias", "dense/kernel", "norm/beta", "norm/gamma", "step", "cube"]
    with ckptio.open(url, storage_options=s3.storage_options) as ckpt, ckptio.open(prefix) as ref:
        by_shard: dict[int, list[str]] = {}
        for name in small:
            by_shard.setdefault(ckpt.info(name).shard, []).append(name)
        s3.recorder.requests.clear()
        requested = ckpt.prefetch(small, wait=True)
        gets = [r for r in s3.recorder.objects() if r.method == "GET"]
        # Neighbours in one request: one GET per shard they live in.
        assert len(gets) == len(by_shard)
        assert requested == sum(ckpt.info(n).nbytes for n in small)
        s3.recorder.requests.clear()
        for name in small:
            assert_same(ckpt[name], ref[name], name)
        assert s3.recorder.objects() == []
        assert ckpt.stats["cache_hits"] == len(small)
        # Consumed blocks are dropped: reading again fetches again.
        ckpt["dense/bias"]
        assert len([r for r in s3.recorder.objects() if r.method == "GET"]) == 1


def test_read_many_in_order_with_bounded_window(s3, local, url):
    _, tensors = local
    options = RemoteOptions(window_bytes=64 * 1024, max_concurrency=3)
    with open_url(url, storage_options=s3.storage_options, options=options) as ckpt:
        names = sorted(tensors)
        got = dict(ckpt.read_many(names, verify=True))
        assert list(got) == names
        for name in names:
            assert_same(got[name], tensors[name], name)
        assert ckpt._store.cache.nbytes == 0  # every prefetched block was taken and dropped


def test_large_reads_go_in_parallel_parts(s3, local, url):
    _, tensors = local
    options = RemoteOptions(part_bytes=50_000)
    with open_url(url, storage_options=s3.storage_options, options=options) as ckpt:
        s3.recorder.requests.clear()
        assert_same(ckpt.get_tensor("embedding", verify=True), tensors["embedding"])
        gets = [r for r in s3.recorder.objects() if r.method == "GET"]
        assert len(gets) == -(-ckpt.info("embedding").nbytes // 50_000)
        assert sum(r.sent for r in gets) == ckpt.info("embedding").nbytes


# --------------------------------------------------------------------------- locating


def test_directory_state_file_and_latest_checkpoint(s3, local, tmp_path, monkeypatch):
    prefix, tensors = local
    fs = s3.fs()
    s3.upload(prefix, "train/model.ckpt-100")
    fs.pipe_file(
        f"{BUCKET}/train/checkpoint",
        b'model_checkpoint_path: "model.ckpt-100"\n'
        b'all_model_checkpoint_paths: "model.ckpt-50"\n'
        b'all_model_checkpoint_paths: "model.ckpt-100"\n',
    )
    directory = f"s3://{BUCKET}/train"
    assert ckptio.latest_checkpoint(directory) == f"{directory}/model.ckpt-100"
    assert ckptio.latest_checkpoint(f"s3://{BUCKET}/nothing-here") is None
    # storage_options reach fsspec, as for ckptio.open
    latest = ckptio.latest_checkpoint(directory, storage_options=s3.storage_options)
    assert latest == f"{directory}/model.ckpt-100"
    seen = []
    store_module = importlib.import_module("ckptio.remote.store")  # where stores are made
    real = store_module.filesystem_for
    monkeypatch.setattr(
        store_module,
        "filesystem_for",
        lambda url, opts: seen.append(opts) or real(url, opts),
    )
    ckptio.latest_checkpoint(directory, storage_options=s3.storage_options)
    monkeypatch.undo()
    # ckptio adds only its own retry setting (config_kwargs) to what the caller gave.
    assert len(seen) == 1 and seen[0].items() >= s3.storage_options.items(), seen
    s3.recorder.requests.clear()
    with ckptio.open(directory + "/", storage_options=s3.storage_options) as ckpt:
        assert ckpt.path == f"{directory}/model.ckpt-100"
        assert len(ckpt) == len(tensors)
    # The `.index` tried first (absent), the state file, then the newest checkpoint's index.
    got = [(r.method, r.path.rsplit("/", 1)[-1], r.status) for r in s3.recorder.objects()]
    assert got == [
        ("GET", "train.index", 404),
        ("GET", "checkpoint", 206),
        ("GET", "model.ckpt-100.index", 206),
    ]
    # The .index or a data shard name the same checkpoint; the state file's absolute local
    # paths (TF1 savers) are looked up by name in the URL's directory.
    shard = shard_name(prefix, 1, f"{directory}/model.ckpt-100")
    for alias in (f"{directory}/model.ckpt-100.index", shard):
        with ckptio.open(alias, storage_options=s3.storage_options) as ckpt:
            assert ckpt.path == f"{directory}/model.ckpt-100"
    fs.pipe_file(
        f"{BUCKET}/train/checkpoint",
        b'model_checkpoint_path: "/old/machine/train/model.ckpt-100"\n',
    )
    with ckptio.open(directory, storage_options=s3.storage_options) as ckpt:
        assert ckpt.path == f"{directory}/model.ckpt-100"
    assert ckptio.paths.resolve(directory).prefix == f"{directory}/model.ckpt-100"


def test_directory_without_state_file(s3, local):
    prefix, _ = local
    s3.upload(prefix, "single/model.ckpt-100")
    with ckptio.open(f"s3://{BUCKET}/single", storage_options=s3.storage_options) as ckpt:
        assert ckpt.path == f"s3://{BUCKET}/single/model.ckpt-100"
    s3.upload(prefix, "single/model.ckpt-200")
    with pytest.raises(ckptio.NotFoundError, match="several checkpoints"):
        ckptio.open(f"s3://{BUCKET}/single", storage_options=s3.storage_options)


# --------------------------------------------------------------------------- errors


def test_missing_objects(s3, local):
    prefix, _ = local
    with pytest.raises(ckptio.NotFoundError) as exc:
        ckptio.open(f"s3://{BUCKET}/no/such/model.ckpt-1", storage_options=s3.storage_options)
    assert exc.value.file == f"s3://{BUCKET}/no/such/model.ckpt-1"
    with pytest.raises(ckptio.NotFoundError):
        ckptio.open(f"s3://{BUCKET}/no/such/model.ckpt-1.index", storage_options=s3.storage_options)
    with pytest.raises(ckptio.NotFoundError):
        ckptio.open("s3://no-such-bucket-here/model.ckpt-1", storage_options=s3.storage_options)
    # The index is there, a data shard is not: listing works, reading names the shard.
    gone = shard_name(prefix, 1)[len(prefix) :]
    url = s3.upload(prefix, "partial/model.ckpt-100", skip=(gone,))
    with ckptio.open(url, storage_options=s3.storage_options) as ckpt:
        assert len(ckpt) == 10
        missing = next(n for n in ckpt if ckpt.info(n).shard == 1 and ckpt.info(n).nbytes)
        with pytest.raises(ckptio.NotFoundError) as exc:
            ckpt[missing]
        assert url + gone in str(exc.value)
        assert exc.value.key == missing


def test_access_denied_is_reported_as_such(s3, url):
    s3.recorder.faults.append(
        lambda r: (
            (403, b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>")
            if r.path.endswith(".index")
            else None
        )
    )
    with pytest.raises(ckptio.CheckpointError, match="access denied") as exc:
        ckptio.open(url, storage_options=s3.storage_options)
    assert not isinstance(exc.value, ckptio.NotFoundError)
    assert exc.value.file == url + ".index"
    assert len([r for r in s3.recorder.objects() if r.status == 403]) == 1  # not retried


def test_transient_errors_are_retried(s3, local, url):
    _, tensors = local
    failures = {"n": 0}

    def flaky(request):
        # The first three GETs of "embedding"'s shard fail with 503 SlowDown.
        if request.method == "GET" and ".data-" in request.path and failures["n"] < 3:
            failures["n"] += 1
            return 503, b"<Error><Code>SlowDown</Code><Message>Slow Down</Message></Error>"
        return None

    options = RemoteOptions(attempts=5, backoff=0.01)
    storage = {**s3.storage_options, "config_kwargs": {"retries": {"max_attempts": 1}}}
    with open_url(url, storage_options=storage, options=options) as ckpt:
        s3.recorder.faults.append(flaky)
        assert_same(ckpt["embedding"], tensors["embedding"])
    assert failures["n"] == 3


def test_truncated_responses_are_retried_then_reported(s3, local, url):
    prefix, tensors = local
    options = RemoteOptions(attempts=3, backoff=0.01)
    with open_url(url, storage_options=s3.storage_options, options=options) as ckpt:
        info = ckpt.info("embedding")
        shard_url = shard_name(prefix, info.shard, url)
        # Once short, then whole: the retry hides it.
        once = {"n": 0}

        def short_once(request):
            if request.method == "GET" and request.range and once["n"] == 0:
                once["n"] += 1
                return ("truncate", 1000)
            return None

        s3.recorder.faults.append(short_once)
        assert_same(ckpt["embedding"], tensors["embedding"])
        assert ckpt.stats["retries"] == 1
        # Always short: a CorruptionError naming the object, for tensors and for slices.
        s3.recorder.faults[:] = [
            lambda r: ("truncate", 1000) if r.method == "GET" and r.range else None
        ]
        with pytest.raises(ckptio.CorruptionError) as exc:
            ckpt["embedding"]
        assert shard_url in str(exc.value) and exc.value.key == "embedding"
        with pytest.raises(ckptio.CorruptionError, match=r"truncated|integrity") as exc:
            ckpt.get_slice("embedding")[0:100]
        assert exc.value.file == shard_url
        s3.recorder.faults.clear()


def test_retry_policy_units():
    """The classification and backoff on a filesystem that fails on command."""
    import errno

    from ckptio.remote.retry import failure_kind
    from ckptio.remote.store import Store

    assert failure_kind(FileNotFoundError()) == "missing"
    assert failure_kind(PermissionError()) == "auth"
    assert failure_kind(ConnectionResetError()) == "transient"
    assert failure_kind(TimeoutError()) == "transient"
    assert failure_kind(OSError(errno.EBUSY, "SlowDown")) == "transient"
    assert failure_kind(ValueError("bad")) == "fatal"

    class Status(Exception):
        def __init__(self, status):
            self.status = status

    assert failure_kind(Status(503)) == "transient" and failure_kind(Status(429)) == "transient"
    assert failure_kind(Status(401)) == "auth" and failure_kind(Status(404)) == "missing"
    assert failure_kind(Status(400)) == "fatal"

    calls = []
    store = Store(None, RemoteOptions(attempts=4, backoff=0.001))

    def failing():
        calls.append(1)
        raise ConnectionResetError("reset by peer")

    with pytest.raises(ckptio.CheckpointError, match="after 4 attempts") as exc:
        store.retry("fetch", "s3://b/k", failing)
    assert len(calls) == 4 and exc.value.file == "s3://b/k"
    assert store.stats.retries == 3

    answers = iter([b"ab", b"abcd"])
    assert store.retry("fetch", "s3://b/k", lambda: next(answers), wanted=4) == b"abcd"
    with pytest.raises(ckptio.CorruptionError, match="not the 4 asked"):
        store.retry("fetch", "s3://b/k", lambda: b"abcdef", wanted=4)


# --------------------------------------------------------------------------- other protocols


def test_http_urls(s3, local, url):
    """The same objects over plain http(s):// (moto serves them without signatures)."""
    pytest.importorskip("aiohttp")
    _, tensors = local
    fs = s3.fs()
    for key in fs.ls(f"{BUCKET}/run"):
        fs.chmod(key, acl="public-read")  # anonymous reads: no signatures over plain HTTP
    http = f"{s3.endpoint}/{BUCKET}/run/model.ckpt-100"
    with ckptio.open(http) as ckpt:
        assert ckpt.shapes() == {k: v.shape for k, v in sorted(tensors.items())}
        assert_same(ckpt["dense/kernel"], tensors["dense/kernel"])
        assert_same(ckpt.get_slice("embedding")[3:4], tensors["embedding"][3:4])
        ckpt.verify()


def test_memory_filesystem_and_v1(tf_checkpoints):
    """Any fsspec protocol; V1 files read in place (TF-written fixtures)."""
    import fsspec

    fs = fsspec.filesystem("memory")
    for fixture in ("v1_saver", "partitioned"):
        prefix = tf_checkpoints(fixture)
        directory = os.path.dirname(prefix)
        for name in os.listdir(directory):
            fs.pipe_file(f"/tf/{fixture}/{name}", open(os.path.join(directory, name), "rb").read())
        url = f"memory://tf/{fixture}/{os.path.basename(prefix)}"
        with ckptio.open(prefix) as ref, ckptio.open(url) as ckpt:
            assert ckpt.format == ref.format
            assert ckpt.shapes() == ref.shapes()
            for name in ref:
                assert_same(ckpt[name], ref[name], name)
                if ref.info(name).sliced and len(ref.info(name).shape) >= 1:
                    assert_same(ckpt.get_slice(name)[1:], ref.get_slice(name)[1:], name)


def test_v1_listing_reads_footer_index_and_meta_only(s3, tf_checkpoints):
    """A V1 file is read in place: listing fetches its tail (footer and index block) and the
    block holding the meta record, not the whole file; a tensor read fetches its block."""
    prefix = tf_checkpoints("v1_saver")
    url = s3.upload(prefix, "v1/model.ckpt")
    size = os.path.getsize(prefix)
    # A tail smaller than the file (the fixture is small): footer and index block only.
    options = RemoteOptions(table_tail_bytes=256)
    with (
        ckptio.open(prefix) as ref,
        open_url(url, storage_options=s3.storage_options, options=options) as ckpt,
    ):
        s3.recorder.clear()
        opened = ckpt.stats["requests"]
        assert ckpt.format == "V1" and ckpt.shapes() == ref.shapes()
        assert ckpt.stats["requests"] == opened  # everything came with the open
        assert_same(ckpt["w"], ref["w"])
        read = [r for r in s3.recorder.objects() if r.method == "GET"]
        assert len(read) == 1 and 0 < read[0].sent < size
    s3.recorder.clear()
    with open_url(url, storage_options=s3.storage_options, options=options) as ckpt:
        ckpt.shapes()
        stats = ckpt.stats
    got = [r for r in s3.recorder.objects() if r.path == f"/{BUCKET}/v1/model.ckpt"]
    # One HEAD (the size, telling a file from a prefix), the tail, the meta record's block;
    # (the two 404s before are the resolver's: no `.index`, no `checkpoint` state file).
    assert [r.method for r in got] == ["HEAD", "GET", "GET"]
    assert got[1].range == f"bytes={size - 256}-{size - 1}"
    # The fixture is one data block: fetched on its own (block and trailer, not the file).
    assert got[2].range.startswith("bytes=0-") and got[2].sent < size - 48
    assert stats["heads"] == 1 and stats["gets"] == 4


def test_import_ckptio_does_not_import_fsspec():
    import subprocess
    import sys

    code = "import ckptio, sys; ckptio.open; print('fsspec' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- the command


def test_cli_ls_reads_only_the_index(s3, local, url, capsys, tmp_path):
    from ckptio.cli import main

    prefix, tensors = local
    assert main(["ls", url, "--json"]) == 0
    listing = __import__("json").loads(capsys.readouterr().out)
    assert {t["name"] for t in listing["tensors"]} == set(tensors)
    assert listing["path"] == url
    objects = s3.recorder.objects()
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in objects] == [
        ("GET", "model.ckpt-100.index")
    ]
    s3.recorder.requests.clear()
    assert main(["show", url, "embedding", "--slice", "2:4, 0:3", "--json"]) == 0
    shown = __import__("json").loads(capsys.readouterr().out)
    assert np.allclose(np.array(shown["values"]), tensors["embedding"][2:4, 0:3])
    assert sum(r.sent for r in s3.recorder.objects() if r.method == "GET") < 5000
    assert main(["verify", url]) == 0
    assert "OK: 10 of 10" in capsys.readouterr().out
    assert main(["diff", url, prefix, "--exit-code"]) == 0
    capsys.readouterr()
    # Outputs from a URL: a rewrite (ranges fetched, re-encoded) and a conversion.
    (tmp_path / "rw").mkdir()
    assert main(["rewrite", url, str(tmp_path / "rw" / "model.ckpt-1")]) == 0, capsys.readouterr()
    assert main(["convert", url, str(tmp_path / "m.npz"), "--skip-unsupported"]) == 0
    capsys.readouterr()
    with ckptio.open(str(tmp_path / "rw" / "model.ckpt-1")) as ckpt:
        for name, want in tensors.items():
            assert_same(ckpt[name], want, name)
    with np.load(tmp_path / "m.npz") as npz:
        assert_same(npz["embedding"], tensors["embedding"])


def test_rewrite_from_a_url_decodes_instead_of_copying_files(s3, local, url, tmp_path):
    _, tensors = local
    plan = ckptio.rewrite(url, tmp_path / "copy", rename={"dense/": "head/"})
    with ckptio.open(tmp_path / "copy", verify=True) as out:
        assert sorted(out) == sorted(plan.values())
        for old, new in plan.items():
            assert_same(np.asarray(out[new]), tensors[old], new)
