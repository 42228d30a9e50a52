"""Write HTTP exchanges as WARC 1.1, one gzip member per record, into size-rotated files.

Crash safety: the file being written is named ``*.warc.gz.open``; each record is built
in memory and appended with one write, then flushed; a write that fails (out of space)
is cut back off, so the file still ends on a complete record. A run killed mid-write can
leave a torn last member; the next writer opening the directory truncates each ``.open``
file whose writer is gone back to its last complete record and renames it ``.warc.gz``,
so readers never meet a broken record (finish or roll back, never half).

Several crawls may write one directory at once (a manual ``scrapy crawl`` during the cron
run, issue 9): a writer holds an exclusive ``flock`` on its ``.open`` file for as long as
it writes it, so a starting writer repairs only the files of writers that are gone
(repair.py).
"""

from __future__ import annotations

import io
import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from http import HTTPStatus
from pathlib import Path

import deflate
from warcio.recordbuilder import RecordBuilder
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from .repair import OPEN_SUFFIX, is_file_of, lock_exclusively, repair_directory

logger = logging.getLogger(__name__)
NOT_MODIFIED_PROFILE = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
# libdeflate's level: 8 makes real news pages (the AEB's 181, 174 KB each) 0.9 % smaller than
# zlib's 9 in 10 % less time than its own 9, which would save 0.04 % more; 7 is 0.5 % larger
# than 8, and 10 and over take 6-15 times as long for 2 % less (bench/README section 3).
GZIP_LEVEL = 8
# builds the records (no state of its own): made once, not once per exchange
RECORDS = RecordBuilder(warc_version="1.1")
# serialises them, plain: made once, not once per record (each WARCWriter asks gethostname())
PLAIN_WRITER = WARCWriter(None, gzip=False, warc_version="1.1")


@dataclass(frozen=True)
class PriorCapture:
    """The archived response an identical or not-modified one revisits."""

    record_id: str
    url: str
    date: str  # WARC-Date of that record
    capture_digest: str  # its WARC-Payload-Digest (``articles.capture_digest``)


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and the response to it, as sent and received."""

    url: str
    method: str
    request_headers: list[tuple[str, str]]
    status: int
    response_headers: list[tuple[str, str]]
    body: bytes
    protocol: str = "HTTP/1.1"
    request_body: bytes = b""
    date: datetime | None = None
    prior: PriorCapture | None = None


@dataclass(frozen=True)
class RecordRef:
    """Where the exchange's response (or revisit) record lies."""

    filename: str
    offset: int
    length: int
    record_id: str
    record_type: str  # response | revisit
    capture_digest: str | None  # the record's WARC-Payload-Digest
    date: str


class WarcWriter:
    """Thread-safe writer of one directory of WARC files, rotated at ``max_size`` bytes."""

    def __init__(self, directory: str | Path, max_size: int | None = None, prefix: str | None = None,
                 fsync: bool = False):
        if max_size is None or prefix is None:
            # the defaults live in settings.py, imported only here: it imports Scrapy (~0.16 s),
            # which the WARC writer process, given both values, never needs
            from ..settings import WARC_MAX_SIZE, WARC_PREFIX
            max_size = WARC_MAX_SIZE if max_size is None else max_size
            prefix = WARC_PREFIX if prefix is None else prefix
        self.directory = Path(directory)
        self.max_size, self.prefix, self.fsync = max_size, prefix, fsync
        self.lock = threading.Lock()
        self.serial = 0
        self.path: Path | None = None
        self.fd: int | None = None  # the open file's descriptor, which holds its lock
        self.directory.mkdir(parents=True, exist_ok=True)
        repair_directory(self.directory)

    def write_exchange(self, exchange: Exchange) -> RecordRef:
        moment = (exchange.date or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None)
        date = datetime_to_iso_date(moment, use_micros=True)
        main = self._response_record(exchange, date)
        record_id = main.rec_headers.get_header("WARC-Record-ID")
        request = RECORDS.create_warc_record(
            exchange.url, "request", payload=io.BytesIO(exchange.request_body), length=len(exchange.request_body),
            http_headers=StatusAndHeaders(f"{exchange.method} {_request_target(exchange.url)} {exchange.protocol}",
                                          exchange.request_headers, is_http_request=True),
            warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": record_id})
        main_bytes, request_bytes = _serialise(main), _serialise(request)
        with self.lock:
            offset = self._append(main_bytes + request_bytes)
            filename = self.path.name.removesuffix(OPEN_SUFFIX)
        digest = main.rec_headers.get_header("WARC-Payload-Digest")
        return RecordRef(filename, offset, len(main_bytes), record_id, main.rec_type, digest, date)

    def _response_record(self, exchange: Exchange, date: str):  # noqa: ANN202
        reason = _reason(exchange.status)
        http_headers = StatusAndHeaders(f"{exchange.status} {reason}", exchange.response_headers,
                                        protocol=exchange.protocol)
        warc_headers = {"WARC-Date": date}
        prior = exchange.prior
        if prior is not None and exchange.status == 304:
            record = RECORDS.create_revisit_record(exchange.url, prior.capture_digest, prior.url, prior.date,
                                                   http_headers=http_headers, warc_headers_dict=warc_headers)
            record.rec_headers.replace_header("WARC-Profile", NOT_MODIFIED_PROFILE)
            record.rec_headers.add_header("WARC-Refers-To", prior.record_id)
            return record
        record = RECORDS.create_warc_record(exchange.url, "response", payload=io.BytesIO(exchange.body),
                                            length=len(exchange.body), http_headers=http_headers,
                                            warc_headers_dict=warc_headers)
        digest = record.rec_headers.get_header("WARC-Payload-Digest")
        if prior is not None and digest == prior.capture_digest:
            record = RECORDS.create_revisit_record(exchange.url, digest, prior.url, prior.date,
                                                   http_headers=http_headers, warc_headers_dict=warc_headers)
            record.rec_headers.add_header("WARC-Refers-To", prior.record_id)
        return record

    def _append(self, data: bytes) -> int:
        if self.fd is None or os.fstat(self.fd).st_size + len(data) > self.max_size:
            self._rotate()
        # Through our descriptor, never the path: a writer must not depend on nobody renaming its file.
        offset = os.fstat(self.fd).st_size
        try:
            _write_all(self.fd, data)
            if self.fsync:
                os.fsync(self.fd)
        except OSError:
            os.ftruncate(self.fd, offset)  # a partly written record (disk full) is cut off: the file stays whole
            raise
        return offset

    def _rotate(self) -> None:
        self._finish()
        name, self.fd = self._create_locked()
        self.path = self.directory / (name + OPEN_SUFFIX)
        info = RECORDS.create_warcinfo_record(name, {"software": "news-archive-crawler (warcio)",
                                                     "format": "WARC File Format 1.1",
                                                     "conformsTo": "https://iso.org/standard/68004.html"})
        try:
            _write_all(self.fd, _serialise(info))
        except OSError:
            self.path.unlink(missing_ok=True)
            os.close(self.fd)
            self.path = self.fd = None
            raise

    def _create_locked(self) -> tuple[str, int]:
        """A new ``.open`` file, locked. A writer starting in the instant between creating and
        locking may take it for a dead writer's (and remove it): then take another name."""
        while True:
            self.serial += 1
            stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S%f")
            name = f"{self.prefix}-{stamp}-{self.serial:05d}-{os.getpid()}.warc.gz"
            path = self.directory / (name + OPEN_SUFFIX)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:  # another writer of this process, in the same microsecond
                continue
            if lock_exclusively(fd) and is_file_of(path, fd):
                return name, fd
            os.close(fd)

    def close(self) -> None:
        """Finish the current file: it loses its .open suffix."""
        with self.lock:
            self._finish()

    def _finish(self) -> None:
        if self.fd is None:
            return
        final = self.path.with_name(self.path.name.removesuffix(OPEN_SUFFIX))
        try:
            os.rename(self.path, final)
        except FileNotFoundError:  # renamed under us (a writer that takes no lock): fine if it is ours
            if not is_file_of(final, self.fd):
                logger.error("warc: %s was moved away while being written; its records are not at %s",
                             self.path.name, final)
        os.close(self.fd)  # only now is the lock dropped: a repairer never sees this file half-renamed
        self.path = self.fd = None


def _write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is out: a regular file takes a short write before ENOSPC."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _serialise(record) -> bytes:  # noqa: ANN001
    """The record as one gzip member. warcio writes it plain and libdeflate compresses it:
    at GZIP_LEVEL it is smaller than warcio's own gzip (zlib level 9) and takes about half
    the CPU (bench/README sections 3 and 7), the larger part of the writer process's work per page."""
    buffer = io.BytesIO()
    # what write_record() does, to a stream given per call rather than the writer's own
    # (test_warc reads every record back through warcio: a warcio that changes this fails it)
    PLAIN_WRITER._write_warc_record(buffer, record)
    return deflate.gzip_compress(buffer.getvalue(), GZIP_LEVEL)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _request_target(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
