"""Crawls of a generated, counted mirror as separate `scrapy crawl` processes, for tests that
watch a crawl from outside (the shared frontier, servers that go away): the mirror, the
seeds, the command, its log, and cleanup of whatever a failed test left running."""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from crawler.mirror import MirrorServer, mirror_path
from crawler.mirror.server import MirrorRequestHandler
from tests.conftest import PROJECT_ROOT

STARTED: list[subprocess.Popen] = []  # crawls started by the running test


def stop_started() -> None:
    for process in STARTED:  # a failed test leaves none running
        if process.poll() is None:
            process.kill()
            process.wait()
    STARTED.clear()


class CountingMirror(MirrorServer):
    """The mirror, also counting how many requests each host has at once (peak per host)."""

    def __init__(self, root: Path):
        super().__init__(root)
        lock, busy, self.peak = threading.Lock(), collections.Counter(), collections.Counter()
        self.starts: dict[str, list[tuple[float, str]]] = collections.defaultdict(list)  # host -> (when, path)

        class Handler(MirrorRequestHandler):
            def _respond(self, head: bool) -> None:
                host = self.path.split("/")[1]
                with lock:
                    busy[host] += 1
                    mirror.peak[host] = max(mirror.peak[host], busy[host])
                    mirror.starts[host].append((time.monotonic(), self.path))
                try:
                    super()._respond(head)
                finally:
                    with lock:
                        busy[host] -= 1

        mirror = self
        self.httpd.RequestHandlerClass = Handler

    def article_requests(self, urls: list[str]) -> collections.Counter:
        wanted = {mirror_path(url) for url in urls}
        return collections.Counter(path for path in self.httpd.requested if path in wanted)


def make_web(root: Path, pages: int, delay: float = 0.0) -> tuple[list[str], Path]:
    """A generated web (bench/fakeweb.py, Crawl-delay removed) and a seeds file listing its pages."""
    from bench.throughput import make_web as generate, sources_file

    urls = generate(root / "web", pages, 1)
    if delay:  # a slow server: requests overlap unless something keeps them apart
        for url in urls:
            page = root / "web" / mirror_path(url).lstrip("/")
            page = page / "index.html" if url.endswith("/") else page
            sidecar = page.with_name(page.name + ".headers")
            sidecar.write_text((sidecar.read_text() if sidecar.exists() else "") + f"\nDelay: {delay}\n")
    return urls, sources_file(root / "sources.toml", urls)


def crawl(mirror: MirrorServer, seeds: Path, archive: Path, *settings: str,
          command: tuple[str, ...] = ("-m", "scrapy", "crawl", "sources")) -> subprocess.Popen:
    """The crawl of ``seeds`` into the SQLite file ``archive`` (a later ``-s ARCHIVE_URL``
    wins), its output in a log beside it (``read_log``)."""
    command = [sys.executable, *command, "-s", f"SOURCES_FILE={seeds}",
               "-s", f"MIRROR_URL={mirror.url}", "-s", f"ARCHIVE_URL=sqlite:///{archive}", "-s", "AUTOTHROTTLE_ENABLED=False",
               "-s", "EXTRACT_WORKERS=0", "-s", "WARC_ENABLED=False", "-s", "LOG_LEVEL=INFO", *settings]
    env = {k: v for k, v in os.environ.items() if k not in ("ARCHIVE_URL", "MIRROR_URL", "SOURCES_FILE")}
    log = open(archive.parent / f"crawl-{time.monotonic_ns()}.log", "w+")  # noqa: SIM115 - read by read_log()
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    process.log = log
    STARTED.append(process)
    return process


def read_log(process: subprocess.Popen) -> str:
    process.log.seek(0)
    return process.log.read()


def wait_for_requests(mirror: CountingMirror, urls: list[str], count: int) -> None:
    """Until the mirror has served ``count`` of ``urls`` (or two minutes passed)."""
    deadline = time.monotonic() + 120
    while len(mirror.article_requests(urls)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
