"""Scale-out conversion: many-shard checkpoints converted by many workers at once.

    import ckptio.distributed as dist
    report = dist.to_safetensors("gs://bucket/run/model.ckpt-100000", "out/",
                                 max_shard_bytes=2 << 30)           # threads, in this process
    from dask.distributed import Client
    with Client("scheduler:8786") as client:                        # or a Dask cluster
        dist.to_safetensors("s3://bucket/run/", "s3://bucket/hf/", client=client)
        dist.rewrite("s3://bucket/run/", "/shared/out/model.ckpt-0", cast="bfloat16",
                     client=client)

One code path, two engines. The driver reads only the index, plans the output files (tensors
ordered by where they are stored, then cut into output shards of at most `max_shard_bytes`)
and submits one task per output shard. A task opens the source itself (once per worker
process: the index is fetched once, and the data shards' sizes are handed over so that workers
ask for none), reads exactly its tensors' byte ranges, streams them into its output file one
tensor at a time, and returns what it wrote. The driver then assembles the index: the Hugging
Face ``model.safetensors.index.json`` (``{"metadata": {"total_size": N}, "weight_map":
{tensor: file}}``), or a TensorBundle ``.index`` naming every task's data file as one shard.

Engines: by default a thread pool in this process (`max_workers` threads); pass a
``dask.distributed.Client`` as `client` to run the same tasks on a Dask cluster, or any
``concurrent.futures.Executor`` (a ``ProcessPoolExecutor``...). Workers must see the source
(a URL, or a path on a shared filesystem) and the destination (a shared directory, or a URL:
workers upload their files and the driver writes the index last).

Memory: a worker holds at most the tensor it is writing plus its read-ahead window (remote
sources: `RemoteOptions.window_bytes`), never a whole output file: safetensors files are
written by a streaming writer here, not by the ``safetensors`` package (which wants every
tensor of a file in memory at once).

Outputs appear only when complete: files are written under temporary names and renamed into
place (index last) once every task has succeeded; a failure removes what was written.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from .. import _core
from ..casting import cast_array
from ..errors import CheckpointError
from ..paths import is_url
from ..planning import PlannedTensor, PlanOptions, RewriteOptions, plan_conversion, plan_rewrite
from ..reader import Checkpoint, TensorLocation
from ..reader import open as open_checkpoint
from .safetensors_file import SAFETENSORS_CODES, StreamingWriter

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["ShardedReport", "convert", "rewrite", "to_safetensors"]

Progress = Callable[[int, int, str], None]

INDEX_JSON = "model.safetensors.index.json"
_DEFAULT_SHARD = 5 * 10**9  # Hugging Face's default max_shard_size ("5GB")


class EngineOptions(TypedDict, total=False):
    """How the work is run, for every function here (see `to_safetensors`)."""

    client: Any
    max_workers: int | None
    max_shard_bytes: int
    verify: bool
    storage_options: Mapping[str, Any] | None
    output_storage_options: Mapping[str, Any] | None
    progress: Progress | None
    measure_memory: bool


class _SafetensorsOptions(EngineOptions, PlanOptions, total=False):
    pass


class _RewriteOptions(EngineOptions, RewriteOptions, total=False):
    pass


def _engine_options(options: Mapping[str, Any]) -> tuple[EngineOptions, dict[str, Any]]:
    """(the engine's options, the planning options) of a public function's `options`."""
    engine: Any = {k: v for k, v in options.items() if k in EngineOptions.__annotations__}
    return engine, {k: v for k, v in options.items() if k not in engine}


@dataclass
class ShardedReport:
    """What a sharded conversion did.

    Attributes:
        path: the index written: the ``.safetensors.index.json`` file, or the bundle prefix.
        format: "safetensors" or "checkpoint".
        files: the data files written, in order.
        written: {source name: name in the output}.
        skipped: {source name: why it was not converted}.
        nbytes: bytes of tensor data written.
        verified: True when every file was read back and compared.
        seconds: wall time of the whole conversion.
        tasks: one dict per task (output file): ``file``, ``worker`` (host:pid), ``tensors``,
            ``nbytes``, ``seconds``, ``fetched`` (bytes received, remote sources; tasks
            running as threads of one process share one source and its counters),
            ``requests``, and ``peak_memory`` (peak growth of the worker's anonymous resident
            memory during the task, in bytes; None where it cannot be measured or was not
            asked for).
    """

    path: str
    format: str
    files: list[str] = field(default_factory=list)
    written: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    nbytes: int = 0
    verified: bool = False
    seconds: float = 0.0
    tasks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def workers(self) -> dict[str, int]:
        """{worker: tasks it ran}."""
        counts: dict[str, int] = {}
        for task in self.tasks:
            counts[task["worker"]] = counts.get(task["worker"], 0) + 1
        return counts


# --------------------------------------------------------------------------- output locations


class _Output:
    """A destination directory: local, or a URL (fsspec)."""

    def __init__(self, directory: str, storage_options: Mapping[str, Any] | None) -> None:
        self.directory = directory
        self.remote = is_url(directory)
        self.storage_options = dict(storage_options or {})
        self._fs: Any = None

    @property
    def fs(self) -> Any:
        if self._fs is None:
            from ..remote import filesystem_for

            self._fs = filesystem_for(self.directory, self.storage_options)
        return self._fs

    def join(self, name: str) -> str:
        if self.remote:
            return posixpath.join(self.directory.rstrip("/"), name)
        return os.path.join(self.directory, name)

    def exists(self, path: str) -> bool:
        if self.remote:
            return bool(self.fs.exists(self.fs._strip_protocol(path)))
        return os.path.exists(path)

    def prepare(self, create: bool = False) -> None:
        if self.remote:
            return
        if create:
            os.makedirs(self.directory, exist_ok=True)
        if not os.path.isdir(self.directory):
            raise CheckpointError("directory does not exist", file=self.directory)

    def put_bytes(self, path: str, data: bytes) -> None:
        """Write a small file (an index) in one step: temp + rename locally, one PUT remotely."""
        if self.remote:
            self.fs.pipe_file(self.fs._strip_protocol(path), data)
            return
        temp = f"{path}.tempstate{os.getpid()}"
        try:
            with open(temp, "wb") as f:
                f.write(data)
            os.replace(temp, path)
        finally:
            if os.path.exists(temp):
                os.remove(temp)

    def remove(self, path: str) -> None:
        try:
            if self.remote:
                self.fs.rm_file(self.fs._strip_protocol(path))
            elif os.path.exists(path):
                os.remove(path)
        except (OSError, FileNotFoundError):
            pass


def _upload(local: str, url: str, storage_options: Mapping[str, Any]) -> None:
    from ..remote import filesystem_for

    fs = filesystem_for(url, storage_options)
    fs.put_file(local, fs._strip_protocol(url))


# --------------------------------------------------------------------------- planning


def _location(ckpt: Checkpoint, name: str) -> tuple[int, int]:
    """Where a tensor is stored, to read tasks' tensors in file order."""
    info = ckpt.info(name)
    if info.shard is not None:
        return (info.shard, info.offset or 0)
    records = ckpt.stored_records(name)  # partitioned: where its first slice is
    if info.sliced and records and records[0].shard is not None and records[0].offset is not None:
        return (records[0].shard, records[0].offset)
    return (1 << 62, 0)


def _cut(items: list[PlannedTensor], sizes: Mapping[str, int], most: int) -> list[list[Any]]:
    """Consecutive groups of at most `most` bytes (a larger tensor is a group alone)."""
    groups: list[list[PlannedTensor]] = []
    size = 0
    for item in items:
        if not groups or (size + sizes[item.source] > most and groups[-1]):
            groups.append([])
            size = 0
        groups[-1].append(item)
        size += sizes[item.source]
    return groups


def _out_nbytes(ckpt: Checkpoint, item: PlannedTensor) -> int:
    info = ckpt.info(item.source)
    return info.nbytes if item.cast is None else info.size * item.cast.itemsize


def _ordered(ckpt: Checkpoint, plan: list[PlannedTensor], most: int) -> list[list[Any]]:
    """The plan in storage order (tasks read their tensors in file order), cut into groups of
    at most `most` output bytes."""
    plan = sorted(plan, key=lambda item: _location(ckpt, item.source))
    return _cut(plan, {item.source: _out_nbytes(ckpt, item) for item in plan}, most)


@contextlib.contextmanager
def _source(src: Any) -> Iterator[Checkpoint]:
    """The checkpoint `src` names, closed afterwards if opened here."""
    if isinstance(src, Checkpoint):
        yield src
        return
    if isinstance(src, (str, os.PathLike)):
        with open_checkpoint(src) as ckpt:
            yield ckpt
        return
    raise TypeError(
        "distributed conversion reads a checkpoint path, URL or Checkpoint (workers reopen it "
        f"by path), not {type(src).__name__}"
    )


# --------------------------------------------------------------------------- executors


def _engine(client: Any, max_workers: int | None) -> tuple[Executor, bool]:
    """(executor, owned): a Dask client's executor, an Executor as given, or our threads."""
    if client is None:
        workers = max_workers or min(4, os.cpu_count() or 1)
        return ThreadPoolExecutor(workers, thread_name_prefix="ckptio-convert"), True
    if hasattr(client, "get_executor") and hasattr(client, "scheduler_info"):  # dask Client
        return client.get_executor(pure=False), False
    if hasattr(client, "submit"):
        return client, False
    raise TypeError(f"client must be a dask Client or an Executor, not {type(client).__name__}")


def _run(jobs: list[dict[str, Any]], engine: EngineOptions) -> list[dict[str, Any]]:
    """Submit every job, then collect the results in order (the first error is raised after
    cancelling what has not started)."""
    executor, owned = _engine(engine.get("client"), engine.get("max_workers"))
    progress = engine.get("progress")
    futures = [executor.submit(_task, job) for job in jobs]
    results = []
    try:
        for done, future in enumerate(futures, 1):
            results.append(future.result())
            if progress is not None:
                progress(done, len(jobs), results[-1]["file"])
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    finally:
        if owned:
            executor.shutdown(wait=True, cancel_futures=True)
    return results


# --------------------------------------------------------------------------- the task


class _MemoryWatch:
    """Peak growth of this process's anonymous resident memory while the block runs (Linux).

    Anonymous memory (RssAnon) is what the task allocates: pages of memory-mapped source
    shards are file-backed (the page cache's, dropped under pressure) and not counted."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and os.path.exists("/proc/self/status")
        self.peak: int | None = None
        self._stop = threading.Event()

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
        return 0

    def __enter__(self) -> _MemoryWatch:
        if self.enabled:
            self._start = self._rss()
            self.peak = 0
            self._thread = threading.Thread(target=self._watch, daemon=True)
            self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak or 0, self._rss() - self._start)

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak or 0, self._rss() - self._start)


def _open_source(job: Mapping[str, Any]) -> Checkpoint:
    ckpt = job.get("ckpt")
    if ckpt is not None and not ckpt.closed:
        return ckpt
    from ..remote import shared_checkpoint

    return shared_checkpoint(job["source"], job["storage_options"], job["known_sizes"])


def _tensors(ckpt: Checkpoint, names: list[str], verify: bool) -> Iterator[tuple[str, Any]]:
    read_many = getattr(ckpt, "read_many", None)
    if read_many is not None:
        # Remote: merged, parallel read-ahead of about one tensor, so that a worker holds
        # a few times its largest tensor at most, whatever the output file's size.
        largest = max((ckpt.info(n).nbytes for n in names), default=0)
        yield from read_many(names, verify=verify, window_bytes=max(largest, 1 << 20))
        return
    for name in names:
        yield name, ckpt.get_tensor(name, verify=verify)


def _task(job: dict[str, Any]) -> dict[str, Any]:
    """Run one part: read its tensors, write its file. Runs on a worker."""
    import socket

    started = time.perf_counter()
    ckpt = _open_source(job)
    before = dict(getattr(ckpt, "stats", {}) or {})
    with _MemoryWatch(job["measure_memory"]) as watch:
        if job["kind"] == "safetensors":
            result = _write_safetensors_part(ckpt, job)
        else:
            result = _write_bundle_part(ckpt, job)
    after = dict(getattr(ckpt, "stats", {}) or {})
    result.update(
        file=job["file"],
        worker=f"{socket.gethostname()}:{os.getpid()}",
        tensors=len(job["items"]),
        seconds=time.perf_counter() - started,
        fetched=after.get("bytes", 0) - before.get("bytes", 0),
        requests=after.get("requests", 0) - before.get("requests", 0),
        peak_memory=watch.peak,
    )
    return result


def _local_target(job: Mapping[str, Any]) -> str:
    """Where the task writes: a temporary name next to the final file, or a local temp file
    that is uploaded (remote destinations)."""
    if job["remote_out"]:
        import tempfile

        fd, path = tempfile.mkstemp(prefix="ckptio-part-", suffix=".tmp")
        os.close(fd)
        return path
    return job["temp"]


def _finish_file(job: Mapping[str, Any], local: str) -> None:
    if job["remote_out"]:
        try:
            _upload(local, job["file"], job["out_options"])
        finally:
            os.remove(local)


# ---- safetensors, streamed


def _st_supports(dtype: Any) -> bool:
    return getattr(dtype, "name", None) in SAFETENSORS_CODES


def _write_safetensors_part(ckpt: Checkpoint, job: Mapping[str, Any]) -> dict[str, Any]:
    """Header first (from the index: dtypes and shapes are known before any data is read),
    then every tensor's bytes as it arrives; one tensor in memory at a time."""
    dtypes, shapes = ckpt.dtypes(), ckpt.shapes()
    items = {item.source: item for item in job["items"]}
    entries = [
        (item.target, dtypes[item.source] if item.cast is None else item.cast, shapes[item.source])
        for item in items.values()
    ]
    local = _local_target(job)
    try:
        with open(local, "wb") as f:
            writer = StreamingWriter(f, entries, job["metadata"], keep_digests=job["verify"])
            source_of = {item.target: item.source for item in items.values()}
            in_file_order = [source_of[target] for target in writer.order]
            for source, value in _tensors(ckpt, in_file_order, job["verify"]):
                item = items[source]
                if item.cast is not None and value.dtype != item.cast:
                    value = cast_array(value, item.cast)
                try:
                    writer.write(item.target, value)
                except ValueError as exc:
                    raise CheckpointError(f"read {exc}", file=ckpt.path, key=source) from None
                del value
        if job["verify"]:
            writer.verify(local, job["file"])
        _finish_file(job, local)
    except BaseException:
        if os.path.exists(local):
            os.remove(local)
        raise
    return {"nbytes": writer.nbytes, "weights": [target for target, _, _ in entries]}


# ---- TensorBundle parts


def _write_bundle_part(ckpt: Checkpoint, job: Mapping[str, Any]) -> dict[str, Any]:
    """A one-shard bundle of this part's tensors; its entries go into the final index."""
    from ..writer import BundleWriter

    if job["remote_out"]:
        import tempfile

        directory = tempfile.mkdtemp(prefix="ckptio-part-")
        prefix = os.path.join(directory, "part")
    else:
        directory, prefix = None, job["temp"]
    data_file = prefix + ".data-00000-of-00001"
    try:
        writer = BundleWriter(prefix, overwrite=True)
        with writer:
            for item in job["items"]:
                if item.raw_copy:  # the stored bytes and checksum, undecoded
                    if job["verify"]:
                        ckpt.verify(item.source)
                    writer.add_copy(item.target, ckpt, item.source)
            rest = {item.source: item for item in job["items"] if not item.raw_copy}
            for source, value in _tensors(ckpt, list(rest), job["verify"]):
                item = rest[source]
                if item.cast is not None:
                    value = cast_array(value, item.cast)
                writer.add(item.target, value, dtype=None if item.cast is None else item.cast.name)
                del value
        part = _core.BundleReader(prefix)
        try:
            entries = []
            for target in (item.target for item in job["items"]):
                d = TensorLocation.from_core(part.info(target))
                entries.append(
                    (target, d.dtype_enum, list(d.shape), d.offset, d.size, d.masked_crc32c)
                )
            if job["verify"]:
                part.verify(None)
        finally:
            part.close()
        os.remove(prefix + ".index")
        if job["remote_out"]:
            _upload(data_file, job["file"], job["out_options"])
        else:
            os.replace(data_file, job["temp"] + ".data")
    except BaseException:
        for leftover in (prefix + ".index", data_file):
            if os.path.exists(leftover):
                os.remove(leftover)
        raise
    finally:
        if directory is not None:
            import shutil

            shutil.rmtree(directory, ignore_errors=True)
    return {"nbytes": sum(e[4] for e in entries), "entries": entries}


# --------------------------------------------------------------------------- the index writer


def _bundle_index(parts: list[list[tuple[str, int, list[int], int, int, int]]]) -> bytes:
    """The `.index` of a bundle whose data shards are the parts the workers wrote (shard k =
    part k), built by the core's index writer (the one `ckptio.save` uses, byte for byte as
    TF writes it), so the data files need not be copied."""
    entries = [
        (name, dtype, dims, shard, offset, size, crc)
        for shard, part in enumerate(parts)
        for name, dtype, dims, offset, size, crc in part
    ]
    return _core.bundle_index(len(parts), entries)


# --------------------------------------------------------------------------- public API


def _jobs_common(ckpt: Checkpoint, engine: EngineOptions, out: _Output) -> dict[str, Any]:
    in_process = engine.get("client") is None
    storage_options = engine.get("storage_options")
    # Workers need no HEAD requests for the source shards' sizes: each takes them from the
    # index it fetches (see ckptio.remote). Sizes the driver already knows are passed on.
    known_sizes = ckpt.shard_sizes()
    return {
        "source": ckpt.path,
        "storage_options": dict(
            storage_options if storage_options is not None else ckpt.storage_options
        ),
        "known_sizes": known_sizes,
        "ckpt": ckpt if in_process else None,
        "verify": engine.get("verify", False),
        "measure_memory": engine.get("measure_memory", False),
        "remote_out": out.remote,
        "out_options": out.storage_options,
    }


def _stored_keys(ckpt: Checkpoint) -> list[str]:
    """Every key holding data: unpartitioned tensors and the slices of partitioned ones."""
    keys = []
    for name in ckpt:
        loc = ckpt.location(name)
        if loc.sliced:
            keys.extend(part.key for part in loc.slices)
        else:
            keys.append(name)
    return keys


def _report(
    path: str,
    fmt: str,
    files: list[str],
    written: dict[str, str],
    results: list[dict[str, Any]],
    engine: EngineOptions,
    started: float,
    skipped: dict[str, str] | None = None,
) -> ShardedReport:
    """The report of a finished run; each task's own entry without the index data it sent."""
    return ShardedReport(
        path=path,
        format=fmt,
        files=files,
        written=written,
        skipped=skipped or {},
        seconds=time.perf_counter() - started,
        nbytes=sum(r["nbytes"] for r in results),
        verified=engine.get("verify", False),
        tasks=[{k: v for k, v in r.items() if k not in ("weights", "entries")} for r in results],
    )


def to_safetensors(
    src: str | os.PathLike[str] | Checkpoint,
    directory: str | os.PathLike[str],
    *,
    unsupported: str = "raise",
    metadata: Mapping[str, str] | None = None,
    overwrite: bool = False,
    **options: Unpack[_SafetensorsOptions],
) -> ShardedReport:
    """Convert `src` into sharded safetensors in `directory`, one task per output file.

    Writes ``model-00001-of-0000N.safetensors``... and ``model.safetensors.index.json``
    (``{"metadata": {"total_size": N}, "weight_map": {name: file}}``), the layout Hugging Face
    loaders read. `directory` may be a URL (each worker uploads its file; the index goes last).

    Args:
        src: a checkpoint path or URL, or an open Checkpoint (workers reopen it by path).
        client: None for a thread pool in this process, a ``dask.distributed.Client``, or any
            ``concurrent.futures.Executor``.
        max_workers: threads of the default pool (default: min(4, CPUs)).
        max_shard_bytes: most tensor bytes per output file (a larger tensor gets a file alone).
        select, rename, cast, unsupported, allow_lossy_cast, allow_empty, metadata: as
            `ckptio.to_safetensors`.
        verify: check source checksums while reading, and read every written file back.
        overwrite: replace existing output files.
        storage_options: fsspec options of the source URL (default: those it was opened with).
        output_storage_options: fsspec options of a destination URL.
        progress: ``fn(done, total, file)`` after each task.
        measure_memory: record each task's peak resident-memory growth (Linux).
    """
    started = time.perf_counter()
    engine, options = _engine_options(options)
    out = _Output(os.fspath(directory), engine.get("output_storage_options"))
    with _source(src) as ckpt:
        items, skipped = plan_conversion(
            ckpt, _st_supports, "safetensors", unsupported=unsupported, **options
        )
        out.prepare(create=True)  # (after planning: a refused plan leaves no directory behind)
        groups = _ordered(ckpt, items, engine.get("max_shard_bytes", _DEFAULT_SHARD))
        n = len(groups)
        names = [f"model-{k + 1:05d}-of-{n:05d}.safetensors" for k in range(n)]
        index_path = out.join(INDEX_JSON)
        if not overwrite:
            for path in [index_path, *(out.join(name) for name in names)]:
                if out.exists(path):
                    raise CheckpointError("file exists (pass overwrite=True to replace it)", path)
        token = uuid.uuid4().hex[:12]
        common = _jobs_common(ckpt, engine, out)
        jobs = []
        for name, group in zip(names, groups):
            final = out.join(name)
            jobs.append(
                {
                    **common,
                    "kind": "safetensors",
                    "file": final,
                    "temp": f"{final}.tempstate{token}",
                    "items": group,
                    "metadata": dict(metadata) if metadata else None,
                }
            )
        try:
            results = _run(jobs, engine)
            if not out.remote:
                for job in jobs:
                    os.replace(job["temp"], job["file"])
        except BaseException:
            for job in jobs:
                out.remove(job["temp"])
                if out.remote:
                    out.remove(job["file"])
            raise
        weight_map = {}
        for name, result in zip(names, results):
            for target in result["weights"]:
                weight_map[target] = name
        total = sum(r["nbytes"] for r in results)
        manifest = {"metadata": {"total_size": total}, "weight_map": weight_map}
        out.put_bytes(index_path, (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
        written = {item.source: item.target for group in groups for item in group}
        files = [out.join(name) for name in names]
        return _report(index_path, "safetensors", files, written, results, engine, started, skipped)


def rewrite(
    src: str | os.PathLike[str] | Checkpoint,
    dst: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    update_state: bool = False,
    **options: Unpack[_RewriteOptions],
) -> ShardedReport:
    """Write a new TensorBundle checkpoint at `dst` from `src`, one task per data shard.

    The options are those of `ckptio.rewrite` (select, rename, cast, allow_lossy_cast,
    allow_empty, keep_object_graph, overwrite, update_state) plus the engine's (see
    `to_safetensors`). Each task writes one data shard (``dst.data-0000k-of-0000N``) of at
    most `max_shard_bytes` (bigger tensors get a shard alone); the driver then writes
    ``dst.index`` over all of them. Tensors of a local source that are neither cast nor
    partitioned are copied byte for byte (checksums kept); the rest are re-encoded. `dst` may
    be a URL (then `update_state` is not available). Works on remote sources too, which
    `ckptio.rewrite` cannot copy from.
    """
    started = time.perf_counter()
    engine, options = _engine_options(options)
    dst = os.fspath(dst)
    out = _Output(
        posixpath.dirname(dst) if is_url(dst) else (os.path.dirname(dst) or "."),
        engine.get("output_storage_options"),
    )
    with _source(src) as ckpt:
        out.prepare()
        if out.remote and update_state:
            raise CheckpointError("update_state is for local checkpoints", file=dst)
        plan = plan_rewrite(ckpt, dst, overwrite=overwrite, **options)
        most = engine.get("max_shard_bytes", _DEFAULT_SHARD)
        groups = _ordered(ckpt, plan, most) if plan else [[]]
        n = len(groups)
        files = [f"{dst}.data-{k:05d}-of-{n:05d}" for k in range(n)]
        if not overwrite and out.exists(dst + ".index"):
            raise CheckpointError(
                "a checkpoint already exists here (pass overwrite=True to replace it)",
                file=dst + ".index",
            )
        token = uuid.uuid4().hex[:12]
        common = _jobs_common(ckpt, engine, out)
        jobs = [
            {
                **common,
                "kind": "bundle",
                "file": final,
                "temp": f"{dst}.part{k:05d}.tempstate{token}",
                "items": group,
                "metadata": None,
            }
            for k, (final, group) in enumerate(zip(files, groups))
        ]
        try:
            results = _run(jobs, engine)
            index = _bundle_index([r["entries"] for r in results])
            if not out.remote:
                for job in jobs:
                    os.replace(job["temp"] + ".data", job["file"])
                # Shards that an earlier checkpoint of more shards left under this prefix are
                # not ours to delete: TF ignores them (the index names the shard count).
            out.put_bytes(dst + ".index", index)
        except BaseException:
            for job in jobs:
                out.remove(job["temp"] + ".data")
                if out.remote:
                    out.remove(job["file"])
            raise
        if update_state:
            from ..writer import update_checkpoint_state

            update_checkpoint_state(dst)
        written = {item.source: item.target for item in plan}
        return _report(dst, "checkpoint", files, written, results, engine, started)


def convert(
    src: str | os.PathLike[str] | Checkpoint,
    dst: str | os.PathLike[str],
    to: str = "safetensors",
    **options: Any,
) -> ShardedReport:
    """`to_safetensors` (`to="safetensors"`, `dst` a directory) or `rewrite`
    (`to="checkpoint"`, `dst` a prefix), with their options."""
    if to == "safetensors":
        return to_safetensors(src, dst, **options)
    if to == "checkpoint":
        return rewrite(src, dst, **options)
    raise ValueError(f"unknown format {to!r} (known: 'safetensors', 'checkpoint')")
