"""A test extension that holds the reactor at engine_stopped, as a slow synchronous close
does (the WARC writer waits for its process: crawler/warc/process.py), so a close racing a
timer shows in every run, not only on a loaded machine."""

from __future__ import annotations

import time

from scrapy import signals

STALL_S = 1.5  # longer than Scrapy's HTTP/1.1 handler waits for its connections to close (1 s)


class StallAtEngineStopped:
    @classmethod
    def from_crawler(cls, crawler):  # noqa: ANN001, ANN206
        extension = cls()
        crawler.signals.connect(extension.engine_stopped, signal=signals.engine_stopped)
        return extension

    def engine_stopped(self) -> None:
        time.sleep(STALL_S)
