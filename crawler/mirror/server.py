"""Serve a recorded web from a directory: ``GET /<host>/<path>`` returns the file
``<root>/<host>/<path>`` (``index.html`` for a path ending in ``/``).

A file may have a sidecar ``<file>.headers`` with raw header lines (``Status: 301``
sets the status, ``Delay: 0.5`` answers half a second late), e.g. to declare developpez's ISO-8859-1 charset or a redirect.
Unknown paths are 404; a host without its own robots.txt gets an allow-all one.

Validators are honoured like a real server (RFC 9110 §13.1): an ``ETag`` or
``Last-Modified`` from the sidecar (or, with ``etags=True``, an ETag made from the
file's bytes) answers a matching If-None-Match / If-Modified-Since with 304.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import stat
import threading
import time
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

BUNDLED_WEB = Path(__file__).resolve().parent / "web"
DEFAULT_ROBOTS = b"User-agent: *\nAllow: /\n"
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8",
                 ".xml": "application/xml", ".rss": "application/rss+xml", ".txt": "text/plain; charset=utf-8"}


def mirror_path(url: str) -> str:
    """The mirror path of an original URL: ``https://znews.vn/a.html?x=1`` -> ``/znews.vn/a.html?x=1``."""
    parts = urlsplit(url)
    path = parts.path or "/"
    return f"/{parts.netloc}{path}" + (f"?{parts.query}" if parts.query else "")


def _file_for(root: Path, request_path: str) -> Path | None:
    """The recorded file for a path: the one recorded with this query if any, else the
    page without the query (as servers ignore utm_* and friends). ``root`` is absolute.

    A path with a ``..`` segment is never a file of the mirror (as http.server's own
    translate_path, links are followed): a lexical check, without resolving each
    candidate's every directory (that was a third of the mirror's CPU per request)."""
    parts = urlsplit(request_path)
    relative = unquote(parts.path).lstrip("/")
    if relative.endswith("/") or not relative:
        relative += "index.html"
    if ".." in relative.split("/"):
        return None
    candidates = [relative + "%3F" + quote(parts.query, safe="")] if parts.query else []
    for name in [*candidates, relative]:
        candidate = os.path.join(root, name)
        try:
            if stat.S_ISREG(os.stat(candidate).st_mode):
                return Path(candidate)
        except (OSError, ValueError):  # missing, a name too long, a NUL byte
            continue
    return None


def _sidecar_headers(path: Path) -> tuple[int, float, list[tuple[str, str]]]:
    """Status, delay in seconds (``Delay: 0.5``, to play a slow server) and header lines."""
    sidecar = path.with_name(path.name + ".headers")
    status, delay, headers = 200, 0.0, []
    if sidecar.is_file():
        for line in sidecar.read_text(encoding="utf-8").splitlines():
            name, _, value = line.partition(":")
            if name.strip().lower() == "status":
                status = int(value.strip())
            elif name.strip().lower() == "delay":
                delay = float(value.strip())
            elif name.strip():
                headers.append((name.strip(), value.strip()))
    return status, delay, headers


class MirrorRequestHandler(BaseHTTPRequestHandler):
    server: MirrorHTTPServer
    protocol_version = "HTTP/1.1"
    # With Nagle on, a response's last segment waited for the client's delayed ACK on every
    # kept-alive response (~1 ms a page in bench/recrawl.py).
    disable_nagle_algorithm = True
    # Headers and body buffered, sent by http.server's flush after each request: one write a
    # response where there were two (a page of up to this size)
    wbufsize = 1 << 18

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._respond(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._respond(head=True)

    def _respond(self, head: bool) -> None:
        self.server.requested.append(self.path)
        path = _file_for(self.server.root, self.path)
        if path is None and urlsplit(self.path).path.count("/") == 2 and self.path.endswith("/robots.txt"):
            self._send(200, [("Content-Type", "text/plain")], DEFAULT_ROBOTS, head)
            return
        if path is None:
            self._send(404, [("Content-Type", "text/plain")], b"not in the mirror\n", head)
            return
        status, delay, headers = _sidecar_headers(path)
        if delay:
            time.sleep(delay)
        body = path.read_bytes()
        names = {name.lower() for name, _ in headers}
        if "content-type" not in names:
            guessed = CONTENT_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
            headers.append(("Content-Type", guessed or "text/html; charset=utf-8"))
        if self.server.etags and "etag" not in names:
            headers.append(("ETag", '"%s"' % hashlib.sha256(body).hexdigest()[:32]))
        if status == 200 and self._not_modified(dict((n.lower(), v) for n, v in headers)):
            self._send(304, [h for h in headers if h[0].lower() in ("etag", "last-modified")], b"", True)
            return
        self._send(status, headers, body, head)

    def _not_modified(self, headers: dict[str, str]) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match and "etag" in headers:
            return headers["etag"] in [tag.strip() for tag in if_none_match.split(",")] or if_none_match.strip() == "*"
        if_modified_since = self.headers.get("If-Modified-Since")
        if if_modified_since and "last-modified" in headers:
            try:
                return parsedate_to_datetime(headers["last-modified"]) <= parsedate_to_datetime(if_modified_since)
            except (TypeError, ValueError):
                return False
        return False

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes, head: bool) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        if self.server.verbose:
            super().log_message(format, *args)


class MirrorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog is 5: two crawl processes opening their 16
    # connections at once overflowed it, and a dropped connection attempt is retried by the
    # client's TCP after 1, 3, 7, 15 s (a 2-process bench row ended 14 s late, waiting for one)
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], root: Path, verbose: bool = False, etags: bool = False):
        super().__init__(address, MirrorRequestHandler)
        self.root = root.resolve()  # once: every request's file is looked up under it
        self.verbose = verbose
        self.etags = etags
        self.requested: list[str] = []  # paths asked for, in order (tests read it)


class MirrorServer:
    """A mirror server in a background thread; a context manager for tests."""

    def __init__(self, root: Path = BUNDLED_WEB, host: str = "127.0.0.1", port: int = 0, verbose: bool = False,
                 etags: bool = False):
        self.httpd = MirrorHTTPServer((host, port), Path(root), verbose, etags)
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="mirror", daemon=True)

    @property
    def requested(self) -> list[str]:
        return self.httpd.requested

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> MirrorServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> MirrorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
