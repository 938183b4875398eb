"""The one retry layer of remote reads: which failures are worth another try (classified
without importing any HTTP stack), how often and how patiently, and the storage options that
turn the backends' own retries off so this is the only place that decides."""

from __future__ import annotations

import errno
import random
import time
from collections.abc import Mapping
from typing import Any, Callable

from ..errors import CheckpointError, CorruptionError, NotFoundError
from .options import RemoteOptions, RemoteStats

__all__ = ["RetryPolicy", "failure_kind", "single_retry_layer", "truncated"]

# Exception classes of the HTTP stacks under fsspec (aiohttp, botocore, requests, urllib3,
# google-auth), matched by name so that none of them has to be imported to classify errors.
_TRANSIENT_NAMES = frozenset(
    {
        "ClientPayloadError",
        "ServerDisconnectedError",
        "ClientConnectionError",
        "ClientConnectorError",
        "ClientOSError",
        "ServerTimeoutError",
        "EndpointConnectionError",
        "ConnectionClosedError",
        "ReadTimeoutError",
        "ConnectTimeoutError",
        "IncompleteReadError",
        "ResponseStreamingError",
        "ProtocolError",
        "ChunkedEncodingError",
        "FSTimeoutError",
        "TransportError",
        "RetryError",
    }
)
# The client's own integrity check of a response (a body cut or altered in transit).
_INTEGRITY_NAMES = frozenset({"FlexibleChecksumError", "ChecksumMismatch", "MD5Mismatch"})
_AUTH_NAMES = frozenset(
    {
        "NoCredentialsError",
        "PartialCredentialsError",
        "CredentialRetrievalError",
        "DefaultCredentialsError",
        "RefreshError",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
    }
)
_TRANSIENT_ERRNOS = frozenset(
    {
        errno.EBUSY,  # s3fs: 503 SlowDown / ServiceUnavailable, 409
        getattr(errno, "EREMOTEIO", 121),  # s3fs: 500 InternalError
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.ECONNREFUSED,
        errno.ETIMEDOUT,
        errno.EPIPE,
        errno.EAGAIN,
    }
)


def _status_of(exc: BaseException) -> int | None:
    """The HTTP status an exception carries, where its library records one."""
    for attr in ("status", "status_code", "code"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value < 600:
            return value
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):  # botocore ClientError
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(status, int):
            return status
    return None


def failure_kind(exc: BaseException) -> str:
    """The kind of failure: "missing", "auth", "range", "integrity", "transient" or "fatal"."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if isinstance(exc, FileNotFoundError) or "NoSuchKey" in names or "NoSuchBucket" in names:
        return "missing"
    status = _status_of(exc)
    if isinstance(exc, PermissionError) or names & _AUTH_NAMES or status in (401, 403):
        return "auth"
    if status == 404:
        return "missing"
    if names & _INTEGRITY_NAMES:
        return "integrity"
    if status == 416 or "InvalidRange" in names or "not satisfiable" in str(exc).lower():
        return "range"  # the object ends before the range: shorter than the index says
    if status is not None and (status >= 500 or status in (408, 429)):
        return "transient"
    if isinstance(exc, (ConnectionError, TimeoutError)) or names & _TRANSIENT_NAMES:
        return "transient"
    if isinstance(exc, OSError) and exc.errno in _TRANSIENT_ERRNOS:
        return "transient"
    cause = exc.__cause__ or exc.__context__
    if cause is not None and cause is not exc and failure_kind(cause) == "transient":
        return "transient"
    return "fatal"


def truncated(url: str, got: int, wanted: int) -> CorruptionError:
    return CorruptionError(f"truncated response: got {got} of {wanted} bytes", file=url)


class RetryPolicy:
    """How often and how patiently a request is tried: the one retry layer of remote reads
    (see `single_retry_layer`), counting its retries in `stats`."""

    def __init__(self, options: RemoteOptions, stats: RemoteStats) -> None:
        self.options, self.stats = options, stats

    def call(self, what: str, url: str, call: Callable[[], Any], wanted: int | None = None) -> Any:
        """`call()` with retries; `wanted` bytes are expected back when given.

        Raises NotFoundError for a missing object, CorruptionError for a response that stayed
        short or damaged, and CheckpointError for everything else, each naming the URL."""
        opts = self.options
        attempts = max(1, opts.attempts)
        for attempt in range(attempts):
            if attempt:
                self.stats.add(retries=1)
                delay = min(opts.max_backoff, opts.backoff * 2 ** (attempt - 1))
                time.sleep(delay * (0.5 + random.random()))  # jitter: spread retries out
            try:
                result = call()
            except Exception as exc:
                error = self._error(exc, what, url, wanted, attempt, attempts)
                if error is not None:
                    raise error from exc
                continue
            if wanted is not None and len(result) != wanted:
                if len(result) > wanted:  # a server that ignored the Range header
                    raise CorruptionError(
                        f"response to {what} holds {len(result)} bytes, not the {wanted} asked",
                        file=url,
                    )
                if attempt == attempts - 1:
                    raise truncated(url, len(result), wanted)
                continue
            return result
        raise AssertionError("unreachable")

    @staticmethod
    def _error(
        exc: Exception, what: str, url: str, wanted: int | None, attempt: int, attempts: int
    ) -> CheckpointError | None:
        """The error a failed try ends in, or None to try again."""
        kind = failure_kind(exc)
        last = attempt == attempts - 1
        detail = f"{type(exc).__name__}: {exc}"
        if kind == "missing":
            return NotFoundError("no such object", file=url)
        if kind == "range" and wanted is not None:
            return truncated(url, 0, wanted)
        if kind == "auth":
            return CheckpointError(
                f"access denied while trying to {what} (check credentials and permissions): "
                + detail,
                file=url,
            )
        if kind == "integrity" and last:
            return CorruptionError(
                f"response failed its integrity check after {attempts} attempts: {detail}", url
            )
        if kind == "fatal" or last:
            tries = f" after {attempt + 1} attempts" if attempt else ""
            return CheckpointError(f"failed to {what}{tries}: {detail}", file=url)
        return None


def single_retry_layer(url: str, storage_options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Storage options that leave retrying to ckptio (`Store.retry`, `RemoteOptions.attempts`):
    one place decides how often a request is tried, and its counts are the ones reported.

    For S3 the client's own retries (botocore: 4 more attempts of 5xx, throttling and
    connection errors, under each of ours) are set to one attempt, unless the caller set them
    in ``config_kwargs``. Backends whose retries fsspec does not expose as an option (s3fs's
    class-level `retries` loop around botocore, gcsfs's decorator) are left alone: changing
    them would mean mutating a filesystem instance fsspec may share with other code."""
    options = dict(storage_options or {})
    if url.split("://", 1)[0] in ("s3", "s3a"):
        config = dict(options.get("config_kwargs") or {})
        config.setdefault("retries", {"total_max_attempts": 1})
        options["config_kwargs"] = config
    return options
