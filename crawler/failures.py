"""One line that says what went wrong with a request, about the original URL.

Used for the ``fetches.error`` column, the log and cron mail alike: a network error is
one line there, never a traceback (the traceback is logged at DEBUG only).
"""

from __future__ import annotations

from scrapy.exceptions import (
    CannotResolveHostError, DownloadCancelledError, DownloadConnectionRefusedError, DownloadFailedError,
    DownloadTimeoutError, IgnoreRequest, ResponseDataLossError,
)
from twisted.python.failure import Failure

# Exception class -> what a person reads; the exception's own message follows when it has one.
PLAIN_WORDS: tuple[tuple[type[BaseException], str], ...] = (
    (DownloadConnectionRefusedError, "connection refused"),
    (CannotResolveHostError, "host name does not resolve"),
    (DownloadTimeoutError, "timed out"),
    (ResponseDataLossError, "connection closed before the whole body arrived"),
    (DownloadCancelledError, "download cancelled"),
    (DownloadFailedError, "download failed"),
    (IgnoreRequest, "not fetched"),
)


def describe_failure(failure: Failure | BaseException, url: str) -> str:
    """``<url>: <what happened>[: <detail>]`` in one line."""
    exc = failure.value if isinstance(failure, Failure) else failure
    words = next((text for kind, text in PLAIN_WORDS if isinstance(exc, kind)), None)
    detail = " ".join(str(exc).split())
    if words is None:
        words, detail = type(exc).__name__, detail
    return f"{url}: {words}" + (f": {detail}" if detail and detail != words else "")
