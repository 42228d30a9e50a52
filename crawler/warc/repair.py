"""Close the WARC files of writers that are gone: truncate each to its last complete record
and drop its ``.open`` suffix. A writer holds an exclusive ``flock`` on its ``.open`` file
for as long as it writes it, and the kernel drops that lock when the writer dies, so "lock
free" is exactly "writer gone" (issue 9: a starting crawl used to "repair" the file a live
crawl was writing, whose later writes all failed). A live file is never touched.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

logger = logging.getLogger(__name__)
OPEN_SUFFIX = ".open"


def repair_directory(directory: Path) -> list[Path]:
    """Close every ``.open`` file whose writer is gone; the files of live writers are left alone."""
    return [path for leftover in sorted(directory.glob(f"*.warc.gz{OPEN_SUFFIX}"))
            if (path := repair(leftover)) is not None]


def repair(path: Path) -> Path | None:
    """Truncate an interrupted file to its last complete record and close it; None when
    its writer is still writing it (or another starting writer got there first)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        if not lock_exclusively(fd) or not is_file_of(path, fd):
            return None
        pid = writer_pid(path)
        if _still_written(path, fd):
            logger.warning("warc: %s is unlocked but pid %d still has it open; left alone", path.name, pid)
            return None
        return _roll_back(path, fd, pid)
    finally:
        os.close(fd)


def is_abandoned(path: Path) -> bool:
    """Whether ``path`` (an ``.open`` file) is one :func:`repair` would close, asked without
    writing (`archive doctor` is a reader): a shared lock taken and dropped at once."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return not _still_written(path, fd)
    finally:
        os.close(fd)  # drops the lock


def _still_written(path: Path, fd: int) -> bool:
    """Second check, for writers that take no lock (this crawler before issue 9): the pid
    in the name still has the file open. Unlike "is the pid alive", immune to pid reuse."""
    pid = writer_pid(path)
    return pid is not None and pid != os.getpid() and _held_open_by(pid, fd)


def _roll_back(path: Path, fd: int, pid: int | None) -> Path | None:
    good, torn = 0, ""
    try:
        with open(fd, "rb", closefd=False) as stream:
            records = ArchiveIterator(stream, check_digests=False)
            for record in records:
                record.content_stream().read()
                good = records.get_record_offset() + records.get_record_length()
    except Exception as exc:  # noqa: BLE001 - a torn gzip member or header is what we are here for
        torn = f"; cut a torn last record ({exc})"
    size = os.fstat(fd).st_size
    if size != good:
        os.ftruncate(fd, good)
    logger.warning("warc: %s was left open by pid %s, which is gone; closed at its last complete record, "
                   "%d of %d bytes%s", path.name, pid if pid is not None else "?", good, size, torn)
    if good == 0:  # not even its warcinfo record: nothing can refer to it
        path.unlink()
        return None
    final = path.with_name(path.name.removesuffix(OPEN_SUFFIX))
    os.rename(path, final)
    return final


def lock_exclusively(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def is_file_of(path: Path, fd: int) -> bool:
    """Whether ``path`` still names the file open at ``fd`` (not renamed, removed or replaced)."""
    try:
        named, held = os.stat(path), os.fstat(fd)
    except FileNotFoundError:
        return False
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def writer_pid(path: Path) -> int | None:
    """The pid in ``<prefix>-<timestamp>-<serial>-<pid>.warc.gz.open``."""
    last = path.name.removesuffix(f".warc.gz{OPEN_SUFFIX}").rsplit("-", 1)[-1]
    return int(last) if last.isdigit() else None


def _held_open_by(pid: int, fd: int) -> bool:
    held = os.fstat(fd)
    try:
        entries = list(os.scandir(f"/proc/{pid}/fd"))
    except OSError:  # no such process, or no /proc (then the lock alone decides)
        return False
    for entry in entries:
        try:
            target = os.stat(entry.path)
        except OSError:
            continue
        if (target.st_dev, target.st_ino) == (held.st_dev, held.st_ino):
            return True
    return False
