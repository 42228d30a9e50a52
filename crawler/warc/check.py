"""Is a fetch's WARC record there and whole? Read-only checks for `archive doctor`: the
file opened for reading, each record parsed by warcio from the offset the fetch names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator

from .repair import OPEN_SUFFIX


@dataclass(frozen=True)
class Ref:
    """Where a fetch says its record is (its ``warc_*`` columns)."""

    fetch_id: int
    url: str
    filename: str
    offset: int | None
    length: int | None
    record_id: str | None


def check_file(warc_dir: Path, filename: str, refs: list[Ref]) -> list[str]:
    """The problems of the records ``refs`` (all in ``filename``), one line each: the file
    missing, records past its end, records warcio cannot read, not the fetch's record, or
    whose digests fail (the record is read anyway: checking costs a SHA-1)."""
    placeless = [f"fetch {ref.fetch_id} ({ref.url}) names {filename} but no offset in it" for ref in refs
                 if ref.offset is None]
    refs = [ref for ref in refs if ref.offset is not None]
    return placeless + (_check_records(warc_dir, filename, refs) if refs else [])


def _check_records(warc_dir: Path, filename: str, refs: list[Ref]) -> list[str]:
    path = warc_dir / filename
    if not path.exists() and (warc_dir / (filename + OPEN_SUFFIX)).exists():
        path = warc_dir / (filename + OPEN_SUFFIX)  # a live (or crashed) writer's file, not yet closed
    if not path.exists():
        return [f"{path} is missing: {_fetches(refs)} refer to it"]
    size = path.stat().st_size
    past_end = [ref for ref in refs if _end(ref) > size]
    found = []
    if past_end:
        found.append(f"{path} is cut short at {size} bytes: the records of {_fetches(past_end)} "
                     f"end past it (the first at byte {_end(past_end[0])})")
    inside = [ref for ref in refs if _end(ref) <= size]
    with open(path, "rb") as stream:
        bad = [f"{path} at {ref.offset}, the record of fetch {ref.fetch_id} ({ref.url}): {reason}"
               for ref in inside if (reason := _record_fault(stream, ref)) is not None]
    return found + bad


def _record_fault(stream: BinaryIO, ref: Ref) -> str | None:
    """Why the record at ``ref`` is not the fetch's whole record; None when it is."""
    stream.seek(ref.offset)
    try:
        records = ArchiveIterator(stream, check_digests=True)
        record = next(iter(records))
        while record.content_stream().read(1 << 16):
            pass
    except StopIteration:
        return "no record there"
    except Exception as exc:  # noqa: BLE001 - warcio, gzip and zlib each raise their own
        return f"not readable as a WARC record ({exc.__class__.__name__}: {_detail(exc)})"
    record_id = record.rec_headers.get_header("WARC-Record-ID")
    if ref.record_id and record_id != ref.record_id:
        return f"holds record {record_id}, not the fetch's {ref.record_id}"
    if record.digest_checker.passed is False:
        return "digest mismatch: " + "; ".join(record.digest_checker.problems)
    return None


def _detail(exc: Exception) -> str:
    """The exception's message on one short line: warcio quotes the bytes it could not
    parse ("Unknown archive format, first line: [...]"), which are no use on a terminal."""
    message = " ".join(str(exc).split(", first line:")[0].split()) or "no detail"
    return message if len(message) <= 120 else message[:119] + "…"


def missing(filename: str, tried: list[Path], refs: list[Ref]) -> str:
    """The line for a file in none of the places tried (crawler/warc/locate.py)."""
    return f"{filename} is missing from {' and '.join(str(p) for p in tried)}: {_fetches(refs)} refer to it"


def _fetches(refs: list[Ref]) -> str:
    first = refs[0]
    return (f"fetch {first.fetch_id} ({first.url})" if len(refs) == 1
            else f"{len(refs)} fetches (the first: fetch {first.fetch_id}, {first.url})")


def _end(ref: Ref) -> int:
    return ref.offset + (ref.length or 1)
