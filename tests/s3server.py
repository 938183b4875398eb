"""moto's S3 server on loopback, behind a WSGI layer that records every request.

The suite's one S3 server: `conftest.py` starts it (fixtures `s3_server`, `s3`) for
test_remote, test_distributed and test_cli_terminal; benchmarks/bench_distributed.py starts its
own `S3Server`. The layer records each request (method, key, Range header, bytes sent) and can
inject faults (5xx, 403, short bodies) or simulate distance (latency, stream rate), so request
and byte counts are those on the wire, not what ckptio believes it asked for.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

BUCKET = "ckpts"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


# --------------------------------------------------------------------------- the server


@dataclass
class Request:
    method: str
    path: str
    range: str | None
    status: int = 0
    sent: int = 0


@dataclass
class Recorder:
    """What the server saw, and the faults it is told to inject."""

    requests: list[Request] = field(default_factory=list)
    # fault(request) -> None, or (status, body) to answer instead, or ("truncate", n bytes).
    faults: list[Callable[[Request], tuple | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Simulated distance (benchmarks): seconds before each answer, and bytes/s per response.
    latency: float = 0.0
    stream_rate: float = 0.0

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()
            self.faults.clear()

    def objects(self) -> list[Request]:
        """Requests for objects of the checkpoint bucket (not bucket listings)."""
        with self.lock:
            return [r for r in self.requests if r.path.count("/") >= 2]


class _Counting:
    def __init__(self, app, recorder: Recorder) -> None:
        self.app, self.recorder = app, recorder

    def __call__(self, environ, start_response):
        request = Request(
            environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), environ.get("HTTP_RANGE")
        )
        with self.recorder.lock:
            self.recorder.requests.append(request)
            faults = list(self.recorder.faults)
        for fault in faults:
            action = fault(request)
            if action is None:
                continue
            if action[0] == "truncate":
                return self._truncated(environ, start_response, request, action[1])
            status, body = action
            request.status, request.sent = status, len(body)
            start_response(
                f"{status} Injected",
                [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
            )
            return [body]

        def recording_start(status, headers, exc_info=None):
            request.status = int(status.split()[0])
            return start_response(status, headers, exc_info)

        if self.recorder.latency:
            time.sleep(self.recorder.latency)
        return self._count(self.app(environ, recording_start), request, self.recorder.stream_rate)

    def _truncated(self, environ, start_response, request, keep):
        """The real answer cut to `keep` bytes, with a Content-Length that agrees (a proxy
        that drops the tail): the client gets fewer bytes than its Range asked for."""
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers

        body = b"".join(self.app(environ, capture))[:keep]
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        request.status, request.sent = int(captured["status"].split()[0]), len(body)
        start_response(captured["status"], headers)
        return [body]

    @staticmethod
    def _count(body, request, rate: float) -> Iterator[bytes]:
        try:
            for chunk in body:
                request.sent += len(chunk)
                if rate:
                    time.sleep(len(chunk) / rate)
                yield chunk
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()


class S3Server:
    """moto's S3 in a thread on 127.0.0.1, behind the recording layer."""

    def __init__(self) -> None:
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        self.recorder = Recorder()
        recorder = self.recorder

        class Server(ThreadedMotoServer):
            def _server_entry(self) -> None:
                app = _Counting(DomainDispatcherApplication(create_backend_app), recorder)
                self._server = make_server(self._ip_address, self._port, app, True)
                self._server_ready_event.set()
                self._server.serve_forever()

        self._server = Server(ip_address="127.0.0.1", port=0, verbose=False)

    def start(self) -> S3Server:
        import logging

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def storage_options(self) -> dict:
        # A fresh filesystem per use: s3fs caches listings and instances otherwise, and the
        # tests count requests.
        return {
            "key": CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "secret": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "client_kwargs": {"endpoint_url": self.endpoint},
            "skip_instance_cache": True,
            "use_listings_cache": False,
        }

    def fs(self):
        import s3fs

        return s3fs.S3FileSystem(**self.storage_options)

    def upload(self, local_prefix: str, key_prefix: str, *, skip: tuple[str, ...] = ()) -> str:
        """Put every file of a local checkpoint under s3://BUCKET/key_prefix...; its URL."""
        fs = self.fs()
        directory, base = os.path.split(local_prefix)
        for name in sorted(os.listdir(directory)):
            if name.startswith(base) and not any(name.endswith(s) for s in skip):
                rest = name[len(base) :]
                fs.put_file(os.path.join(directory, name), f"{BUCKET}/{key_prefix}{rest}")
        return f"s3://{BUCKET}/{key_prefix}"


_SERVER: S3Server | None = None


def shared_server() -> S3Server:
    """The one server of this test process, started on first use (moto's storage is
    process-wide anyway); the `s3_server` fixture of conftest.py."""
    global _SERVER
    if _SERVER is None:
        import atexit

        os.environ.update(CREDENTIALS)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = S3Server().start()
            # Every S3 client made without options (ckptio.latest_checkpoint(url), the
            # command, Dask workers started later) goes to this server, never elsewhere.
            os.environ["AWS_ENDPOINT_URL"] = server.endpoint
            server.fs().mkdir(BUCKET)
        atexit.register(server.stop)
        _SERVER = server
    return _SERVER
