"""One line that says what went wrong with a request, about the original URL.

Used for the ``fetches.error`` column, the log and cron mail alike: a network error is
one line there, never a traceback (the traceback is logged at DEBUG only).

The fetch layer's own refusals are exceptions here too, each with a message that already
says what happened: a person reads it as it is.
"""

from __future__ import annotations

import re

from scrapy.exceptions import (
    CannotResolveHostError, DownloadCancelledError, DownloadConnectionRefusedError, DownloadFailedError,
    DownloadTimeoutError, IgnoreRequest, ResponseDataLossError,
)
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.python.failure import Failure
from twisted.web.client import ResponseFailed, ResponseNeverReceived


class RobotsTxtRefused(IgnoreRequest):
    """robots.txt disallows the URL, or could not be read and so disallows its whole host
    (RFC 9309 §2.3.1.4): the visit is ``skipped``."""


class RedirectRefused(IgnoreRequest):
    """A redirect not followed: off the configured sources, to a private address, a loop,
    too many hops. The page was asked for and not obtained, so the visit is an ``error``."""


class IncompleteBodyError(ResponseDataLossError):
    """The body arrived cut short (a compressed stream that stops before its end)."""


# The message of these is the whole description.
SELF_EXPLAINED = (RobotsTxtRefused, RedirectRefused, IncompleteBodyError)
# ...and what happened, in short, for the run's counts (fetch/failed/<kind>)
SELF_EXPLAINED_KIND = {RobotsTxtRefused: "robots.txt", RedirectRefused: "redirect refused",
                       IncompleteBodyError: "body cut short"}

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
    if isinstance(exc, SELF_EXPLAINED):
        return f"{url}: {' '.join(str(exc).split())}"
    connection = _connection_detail(exc)
    if connection:
        return f"{url}: {connection}"
    words = next((text for kind, text in PLAIN_WORDS if isinstance(exc, kind)), None) or type(exc).__name__
    detail = _detail(exc)
    return f"{url}: {words}" + (f": {detail}" if detail and detail != words else "")


def _detail(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, DownloadConnectionRefusedError):  # "Connection was refused by other side: 111: …"
        return ""
    if isinstance(exc, DownloadTimeoutError):
        # "Getting <url> took longer than 30 seconds.": the URL is already in front
        seconds = re.search(r"longer than ([\d.]+) seconds", text)
        if seconds:
            return f"took longer than {float(seconds[1]):g} s (DOWNLOAD_TIMEOUT)"
        # Twisted's connect timeout: "User timeout caused connection failure."
        return "no connection within DOWNLOAD_TIMEOUT" if "connection" in text.lower() else text
    return text


def _connection_detail(exc: BaseException) -> str | None:
    """What Twisted's list of failures behind a lost connection means, or None.

    A ResponseDataLossError has an empty message and a DownloadFailedError one such as
    ``[<twisted.python.failure.Failure twisted.internet.error.ConnectionLost: …>]``; the
    cause (ResponseNeverReceived / ResponseFailed) says when and how the connection ended.
    """
    cause = exc.__cause__
    if not isinstance(cause, ResponseFailed):
        return None
    reasons = [reason.value for reason in cause.reasons]
    when = "before any response" if isinstance(cause, ResponseNeverReceived) else "in the middle of the body"
    if any(isinstance(reason, ConnectionLost) for reason in reasons):
        return f"connection reset {when}"
    if any(isinstance(reason, ConnectionDone) for reason in reasons):
        if isinstance(cause, ResponseNeverReceived):
            return "the server closed the connection without answering"
        return "the server closed the connection before the whole body (its Content-Length) arrived"
    return "; ".join(f"{type(reason).__name__}: {reason}" for reason in reasons) or None


def failure_kind(failure: Failure | BaseException, why: str, url: str) -> str:
    """What happened, in a few words: the run's counts and its one-line reason group by it."""
    exc = failure.value if isinstance(failure, Failure) else failure
    kind = next((k for cls, k in SELF_EXPLAINED_KIND.items() if isinstance(exc, cls)), None)
    return kind or why.removeprefix(f"{url}: ").split(": ")[0]
