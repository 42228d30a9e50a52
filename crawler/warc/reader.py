"""Read archived records back: the payload of a response, through revisits."""

from __future__ import annotations

from pathlib import Path

from warcio.archiveiterator import ArchiveIterator


def read_record(directory: str | Path, filename: str, offset: int):  # noqa: ANN201
    """(WARC headers, HTTP headers, payload bytes) of the record at ``offset``."""
    with open(Path(directory) / filename, "rb") as stream:
        stream.seek(offset)
        record = next(iter(ArchiveIterator(stream)))
        return record.rec_headers, record.http_headers, record.content_stream().read()


def read_payload(directory: str | Path, filename: str, offset: int) -> tuple[list[tuple[str, str]], bytes]:
    """HTTP response headers and body of the response record at ``offset``."""
    _, http_headers, body = read_record(directory, filename, offset)
    return (list(http_headers.headers) if http_headers else []), body
