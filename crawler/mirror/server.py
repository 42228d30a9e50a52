"""Serve a recorded web from a directory: ``GET /<host>/<path>`` returns the file
``<root>/<host>/<path>`` (``index.html`` for a path ending in ``/``).

A file may have a sidecar ``<file>.headers`` with raw header lines (``Status: 301``
sets the status), e.g. to declare developpez's ISO-8859-1 charset or a redirect.
Unknown paths are 404; a host without its own robots.txt gets an allow-all one.
"""

from __future__ import annotations

import mimetypes
import threading
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
    parts = urlsplit(request_path)
    relative = unquote(parts.path).lstrip("/")
    if parts.query:
        relative += "%3F" + quote(parts.query, safe="")
    if relative.endswith("/") or not relative:
        relative += "index.html"
    candidate = (root / relative).resolve()
    if root.resolve() not in candidate.parents or not candidate.is_file():
        return None
    return candidate


def _sidecar_headers(path: Path) -> tuple[int, list[tuple[str, str]]]:
    sidecar = path.with_name(path.name + ".headers")
    status, headers = 200, []
    if sidecar.is_file():
        for line in sidecar.read_text(encoding="utf-8").splitlines():
            name, _, value = line.partition(":")
            if name.strip().lower() == "status":
                status = int(value.strip())
            elif name.strip():
                headers.append((name.strip(), value.strip()))
    return status, headers


class MirrorRequestHandler(BaseHTTPRequestHandler):
    server: MirrorHTTPServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._respond(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._respond(head=True)

    def _respond(self, head: bool) -> None:
        path = _file_for(self.server.root, self.path)
        if path is None and urlsplit(self.path).path.count("/") == 2 and self.path.endswith("/robots.txt"):
            self._send(200, [("Content-Type", "text/plain")], DEFAULT_ROBOTS, head)
            return
        if path is None:
            self._send(404, [("Content-Type", "text/plain")], b"not in the mirror\n", head)
            return
        status, headers = _sidecar_headers(path)
        if not any(name.lower() == "content-type" for name, _ in headers):
            guessed = CONTENT_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
            headers.append(("Content-Type", guessed or "text/html; charset=utf-8"))
        self._send(status, headers, path.read_bytes(), head)

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

    def __init__(self, address: tuple[str, int], root: Path, verbose: bool = False):
        super().__init__(address, MirrorRequestHandler)
        self.root = root
        self.verbose = verbose


class MirrorServer:
    """A mirror server in a background thread; a context manager for tests."""

    def __init__(self, root: Path = BUNDLED_WEB, host: str = "127.0.0.1", port: int = 0, verbose: bool = False):
        self.httpd = MirrorHTTPServer((host, port), Path(root), verbose)
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="mirror", daemon=True)

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
