"""A fault-injection web server for tests (Scrapy's ``tests/mockserver`` is the model).

It answers like the offline mirror (``GET /<host>/<path>``, so a crawl with
``-s MIRROR_URL=<server.url>`` sees the original URLs) and serves the bundled web for any
path without a route. A test adds *routes* named for behaviours: a function that gets the
request handler and answers however it likes — wrong headers, a body cut short, a reset
connection, a redirect loop, a slow answer. Every request is logged (``server.requested``).

    def truncated(handler):
        handler.send_raw(200, [("Content-Length", "5000")], b"<html>only part")

    with FaultServer({"/znews.vn/a-post1.html": truncated}) as server:
        run_crawl(server.url, archive, "-a", "urls=https://znews.vn/a-post1.html")
"""

from __future__ import annotations

import gzip
import socket
import struct
import threading
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from crawler.mirror import BUNDLED_WEB
from crawler.mirror.server import MirrorHTTPServer, MirrorRequestHandler

Route = Callable[["FaultRequestHandler"], None]


class FaultRequestHandler(MirrorRequestHandler):
    server: FaultHTTPServer

    def _respond(self, head: bool) -> None:
        route = self.server.routes.get(self.path) or self.server.routes.get(urlsplit(self.path).path)
        if route is None:
            super()._respond(head)
            return
        self.server.requested.append(self.path)
        route(self)

    # -- helpers for routes -------------------------------------------------------------

    def send_raw(self, status: int, headers: list[tuple[str, str]], body: bytes, content_length: bool = False) -> None:
        """Status, headers and body exactly as given (no Content-Length unless asked: a
        route that lies about it adds its own), then the connection is closed."""
        self.close_connection = True
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if content_length:
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def send_page(self, body: bytes | str, status: int = 200, content_type: str = "text/html; charset=utf-8",
                  headers: list[tuple[str, str]] | None = None) -> None:
        """An ordinary, well-formed response."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        self._send(status, [("Content-Type", content_type), *(headers or [])], data, head=self.command == "HEAD")

    def reset(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0), as a crashed server does."""
        self.close_connection = True
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()


class FaultHTTPServer(MirrorHTTPServer):
    def __init__(self, address: tuple[str, int], root: Path, routes: dict[str, Route]):
        super().__init__(address, root)
        self.RequestHandlerClass = FaultRequestHandler
        self.routes = routes


class FaultServer:
    """A fault server in a background thread; a context manager. ``routes`` may be changed
    while it runs (a page that behaves differently on the next crawl)."""

    def __init__(self, routes: dict[str, Route] | None = None, root: Path = BUNDLED_WEB):
        self.routes: dict[str, Route] = dict(routes or {})
        self.httpd = FaultHTTPServer(("127.0.0.1", 0), Path(root), self.routes)
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="faultserver", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requested(self) -> list[str]:
        return self.httpd.requested

    def count(self, path: str) -> int:
        return sum(1 for p in self.requested if p == path or urlsplit(p).path == path)

    def __enter__(self) -> FaultServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data)


def mirror_route(url: str) -> str:
    """The server path a crawl of the original ``url`` asks for."""
    parts = urlsplit(url)
    return f"/{parts.netloc}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")
