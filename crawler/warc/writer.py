"""Write HTTP exchanges as WARC 1.1, one gzip member per record, into size-rotated files.

Crash safety: the file being written is named ``*.warc.gz.open``; each record is built
in memory and appended with one write, then flushed. A run killed mid-write can leave
a torn last member; the next writer opening the directory truncates every ``.open`` file
back to its last complete record and renames it ``.warc.gz``, so readers never meet a
broken record (finish or roll back, never half).
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

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

logger = logging.getLogger(__name__)
OPEN_SUFFIX = ".open"
NOT_MODIFIED_PROFILE = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"


@dataclass(frozen=True)
class PriorCapture:
    """The archived response an identical or not-modified one revisits."""

    record_id: str
    url: str
    date: str  # WARC-Date of that record
    payload_digest: str


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
    payload_digest: str | None
    date: str


class WarcWriter:
    """Thread-safe writer of one directory of WARC files, rotated at ``max_size`` bytes."""

    def __init__(self, directory: str | Path, max_size: int = 1024 ** 3, prefix: str = "news-archive",
                 fsync: bool = False):
        self.directory = Path(directory)
        self.max_size, self.prefix, self.fsync = max_size, prefix, fsync
        self.lock = threading.Lock()
        self.serial = 0
        self.path: Path | None = None
        self.directory.mkdir(parents=True, exist_ok=True)
        for leftover in sorted(self.directory.glob(f"*.warc.gz{OPEN_SUFFIX}")):
            repair(leftover)

    def write_exchange(self, exchange: Exchange) -> RecordRef:
        builder = WARCWriter(io.BytesIO(), gzip=True, warc_version="1.1")
        moment = (exchange.date or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None)
        date = datetime_to_iso_date(moment, use_micros=True)
        main = self._response_record(builder, exchange, date)
        record_id = main.rec_headers.get_header("WARC-Record-ID")
        request = builder.create_warc_record(
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

    def _response_record(self, builder: WARCWriter, exchange: Exchange, date: str):  # noqa: ANN202
        reason = _reason(exchange.status)
        http_headers = StatusAndHeaders(f"{exchange.status} {reason}", exchange.response_headers,
                                        protocol=exchange.protocol)
        warc_headers = {"WARC-Date": date}
        prior = exchange.prior
        if prior is not None and exchange.status == 304:
            record = builder.create_revisit_record(exchange.url, prior.payload_digest, prior.url, prior.date,
                                                   http_headers=http_headers, warc_headers_dict=warc_headers)
            record.rec_headers.replace_header("WARC-Profile", NOT_MODIFIED_PROFILE)
            record.rec_headers.add_header("WARC-Refers-To", prior.record_id)
            return record
        record = builder.create_warc_record(exchange.url, "response", payload=io.BytesIO(exchange.body),
                                            length=len(exchange.body), http_headers=http_headers,
                                            warc_headers_dict=warc_headers)
        digest = record.rec_headers.get_header("WARC-Payload-Digest")
        if prior is not None and digest == prior.payload_digest:
            record = builder.create_revisit_record(exchange.url, digest, prior.url, prior.date,
                                                   http_headers=http_headers, warc_headers_dict=warc_headers)
            record.rec_headers.add_header("WARC-Refers-To", prior.record_id)
        return record

    def _append(self, data: bytes) -> int:
        if self.path is None or self.path.stat().st_size + len(data) > self.max_size:
            self._rotate()
        with open(self.path, "ab") as out:
            offset = out.tell()
            out.write(data)
            out.flush()
            if self.fsync:
                os.fsync(out.fileno())
        return offset

    def _rotate(self) -> None:
        self._finish()
        self.serial += 1
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S%f")
        name = f"{self.prefix}-{stamp}-{self.serial:05d}-{os.getpid()}.warc.gz"
        self.path = self.directory / (name + OPEN_SUFFIX)
        builder = WARCWriter(io.BytesIO(), gzip=True, warc_version="1.1")
        info = builder.create_warcinfo_record(name, {"software": "news-archive-crawler (warcio)",
                                                     "format": "WARC File Format 1.1",
                                                     "conformsTo": "https://iso.org/standard/68004.html"})
        self.path.write_bytes(_serialise(info))

    def close(self) -> None:
        """Finish the current file: it loses its .open suffix."""
        with self.lock:
            self._finish()

    def _finish(self) -> None:
        if self.path is not None:
            self.path.rename(self.path.with_name(self.path.name.removesuffix(OPEN_SUFFIX)))
            self.path = None


def repair(path: Path) -> Path:
    """Truncate an interrupted file to its last complete record and close it."""
    good = 0
    try:
        with open(path, "rb") as stream:
            records = ArchiveIterator(stream, check_digests=False)
            for record in records:
                record.content_stream().read()
                good = records.get_record_offset() + records.get_record_length()
    except Exception as exc:  # noqa: BLE001 - a torn gzip member or header is what we are here for
        logger.warning("warc: %s ends in a torn record (%s); truncating to %d bytes", path.name, exc, good)
    if path.stat().st_size != good:
        os.truncate(path, good)
    final = path.with_name(path.name.removesuffix(OPEN_SUFFIX))
    path.rename(final)
    return final


def _serialise(record) -> bytes:  # noqa: ANN001
    buffer = io.BytesIO()
    WARCWriter(buffer, gzip=True, warc_version="1.1").write_record(record)
    return buffer.getvalue()


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _request_target(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
