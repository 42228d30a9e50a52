"""`archive doctor`: is this archive whole? Database integrity and foreign keys, schema
revision, every fetch's WARC record, WARC files left ``.open`` by a crashed writer, and
where the disk goes.

A reader like the other `archive` commands: the database through a read-only engine,
the WARC files opened for reading, an ``.open`` file's lock only tested (a shared lock,
dropped at once). It repairs nothing; each problem's line says what will or should.
SQLite-only checks (PRAGMA integrity_check, foreign_key_check) are in ``_sqlite_*``.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Callable, Iterable, Iterator

from sqlalchemy import Connection, Engine, func, inspect, literal, select
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from .archive.migrate import current_revision, head_revision, revisions
from .archive.models import Base, CrawlRun, Fetch, SourceRow
from .warc.check import Ref, check_file, missing
from .warc.locate import WarcFileMissing, WarcPlaces
from .warc.repair import OPEN_SUFFIX, is_abandoned, writer_pid

# Lines of one kind (integrity errors, orphans, bad records in one file) shown before
# "… and N more": a broken archive can have millions, one screen says enough.
MAX_LINES_PER_KIND = 20


@dataclass(frozen=True)
class Finding:
    """One line of the report: a problem (exit 1), or a note on what was checked."""

    check: str
    text: str
    problem: bool = False


def problem(check: str, message: str) -> Finding:
    return Finding(check, message, problem=True)


Track = Callable[[Iterable, Callable[[], int]], Iterable]


def _untracked(items: Iterable, _total: Callable[[], int]) -> Iterable:
    return items


def diagnose(engine: Engine, places: WarcPlaces, quick: bool = False, track: Track = _untracked) -> Iterator[Finding]:
    """Every finding about the archive at ``engine`` and its WARC files (wherever its runs
    wrote them: crawler/warc/locate.py), as it is found. ``track(items, total)`` wraps the
    fetches as their records are read (a progress bar; ``total()`` counts them)."""
    yield from schema(engine)
    yield from integrity(engine, quick)
    yield from _as_far_as_readable("foreign keys", foreign_keys(engine))
    # an archive behind (or ahead of) the schema is still checked as far as its tables allow
    yield from _as_far_as_readable("warc", warc_records(engine, places, track))
    warc_dirs = places.directories(_run_dirs(engine))
    yield from open_files(warc_dirs)
    yield from _as_far_as_readable("disk", disk_use(engine, warc_dirs))


def _run_dirs(engine: Engine) -> list[str | None]:
    """The WARC directories the archive's runs wrote to, newest run first (none before 0009)."""
    if not _has_run_dirs(engine):
        return []
    with engine.connect() as connection:
        return list(connection.scalars(select(CrawlRun.warc_dir).order_by(CrawlRun.id.desc())))


def _has_run_dirs(engine: Engine) -> bool:
    try:
        return any(column["name"] == "warc_dir" for column in inspect(engine).get_columns("crawl_runs"))
    except SQLAlchemyError:  # no crawl_runs table: reported by the checks that need it
        return False


def _as_far_as_readable(check: str, findings: Iterator[Finding]) -> Iterator[Finding]:
    try:
        yield from findings
    except SQLAlchemyError as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
        yield Finding(check, f"not checked: this archive's tables are not the ones this crawler reads ({reason})")


# -- the database -------------------------------------------------------------------


def schema(engine: Engine) -> Iterator[Finding]:
    """The archive's Alembic revision against this crawler's head."""
    revision, head = current_revision(engine), head_revision()
    if revision == head:
        yield Finding("schema", f"revision {revision}, this crawler's newest")
        return
    if revision is not None and revision not in revisions():
        yield problem("schema", f"revision {revision} is newer than this crawler knows (its newest is {head}): "
                                "update the crawler")
    else:
        yield problem("schema", f"revision {revision or '(none)'} is behind this crawler's {head}: "
                                "run `archive upgrade` (it backs the archive up first)")


def integrity(engine: Engine, quick: bool) -> Iterator[Finding]:
    if engine.dialect.name != "sqlite":
        yield Finding("integrity", f"no page-level check on {engine.dialect.name} from here (PostgreSQL: "
                                   "data checksums, the amcheck extension); skipped")
        return
    yield from _sqlite_integrity(engine, quick)


def _sqlite_integrity(engine: Engine, quick: bool) -> Iterator[Finding]:
    pragma = "quick_check" if quick else "integrity_check"
    try:
        with engine.connect() as connection:
            rows = [row[0] for row in connection.exec_driver_sql(f"PRAGMA {pragma}")]
    except DBAPIError as exc:  # "database disk image is malformed": too broken to list what is wrong
        rows = [str(exc.orig)]
    if rows == ["ok"]:
        yield Finding("integrity", f"PRAGMA {pragma}: ok")
        return
    yield from _capped([problem("integrity", f"PRAGMA {pragma}: {row}") for row in rows], "integrity")


def foreign_keys(engine: Engine) -> Iterator[Finding]:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            orphans = list(_sqlite_foreign_key_check(connection))
        else:
            orphans = list(_orphans(connection))
    if not orphans:
        yield Finding("foreign keys", "every reference names an existing row")
    yield from _capped([problem("foreign key", line) for line in orphans], "foreign key")


def _sqlite_foreign_key_check(connection: Connection) -> Iterator[str]:
    """PRAGMA foreign_key_check, with the referring column read from foreign_key_list."""
    columns: dict[tuple[str, int], str] = {}
    for table, rowid, parent, fkid in connection.exec_driver_sql("PRAGMA foreign_key_check").all():
        if (table, fkid) not in columns:
            for fk in connection.exec_driver_sql(f'PRAGMA foreign_key_list("{table}")'):
                columns[(table, fk[0])] = fk[3]
        column = columns.get((table, fkid), "?")
        yield f"{table} row {rowid}: its {column} names no {parent} row"


def _orphans(connection: Connection) -> Iterator[str]:
    """Rows whose foreign key names no row, for every foreign key the models declare (on
    PostgreSQL, which enforces them, only a session with triggers off can leave such rows)."""
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            child, parent = fk.parent, fk.column
            target = parent.table.alias()
            keys = list(table.primary_key.columns)
            query = (select(child, *keys).outerjoin(target, target.c[parent.name] == child)
                     .where(child.is_not(None), target.c[parent.name].is_(None)).limit(MAX_LINES_PER_KIND + 1))
            for value, *key in connection.execute(query):
                row = key[0] if len(key) == 1 else tuple(key)
                yield f"{table.name} row {row}: its {child.name} {value} names no {parent.table.name} row"


# -- WARC records -------------------------------------------------------------------


def warc_records(engine: Engine, places: WarcPlaces, track: Track) -> Iterator[Finding]:
    """Each fetch's WARC record, file by file, in the directory its run wrote to or the
    archive's (crawler/warc/check.py says what is checked)."""
    count, found, read_in = 0, [], set()
    for filename, rows in groupby(track(_refs(engine), lambda: _count_refs(engine)), key=lambda row: row[0].filename):
        rows = list(rows)
        refs = [ref for ref, _ in rows]
        count += len(refs)
        try:
            directory = places.directory(filename, rows[0][1])
        except WarcFileMissing as exc:
            found.append(problem("warc", missing(exc.missing_file, exc.tried, refs)))
            continue
        read_in.add(str(directory))
        found.extend(_capped([problem("warc", line) for line in check_file(directory, filename, refs)],
                             f"warc ({filename})"))
    if not found:
        where = " and ".join(sorted(read_in)) or str(places.explicit or places.default)
        yield Finding("warc", f"{count} record(s) of fetches read back from {where}: all whole")
    yield from found


def _refs(engine: Engine) -> Iterator[tuple[Ref, str | None]]:
    """The WARC references of every fetch, with the directory its run wrote to, file by
    file, in file order, streamed."""
    # an archive older than 0009 has no crawl_runs.warc_dir: its files are where the default says
    run_dir = CrawlRun.warc_dir if _has_run_dirs(engine) else literal(None)
    query = (select(Fetch.id, Fetch.url, Fetch.warc_filename, Fetch.warc_offset, Fetch.warc_length,
                    Fetch.warc_record_id, run_dir)
             .outerjoin(CrawlRun, CrawlRun.id == Fetch.crawl_run_id)
             .where(Fetch.warc_filename.is_not(None)).order_by(Fetch.warc_filename, Fetch.warc_offset))
    with engine.connect() as connection:
        for *row, run_dir in connection.execution_options(yield_per=5000).execute(query):
            yield Ref(*row), run_dir


def _count_refs(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(Fetch).where(Fetch.warc_filename.is_not(None)))


def open_files(warc_dirs: list[Path]) -> Iterator[Finding]:
    """``.open`` files: a live writer's (a note), or left by a writer that is gone."""
    leftovers = sorted(p for d in warc_dirs if d.is_dir() for p in d.glob(f"*.warc.gz{OPEN_SUFFIX}"))
    for path in leftovers:
        pid = writer_pid(path)
        if is_abandoned(path):
            yield problem("warc", f"{path} was left open by pid {pid if pid is not None else '?'}, which is gone: "
                                  "the next crawl closes it at its last complete record")
        else:
            yield Finding("warc", f"{path.name} is being written by pid {pid} (a crawl is running)")
    if not leftovers:
        yield Finding("warc", "no WARC file left open")


# -- disk -------------------------------------------------------------------------


def disk_use(engine: Engine, warc_dirs: list[Path]) -> Iterator[Finding]:
    """WARC bytes per source (from the fetches), WARC files on disk, free space. A fetch's
    source is its own (``fetches.source_id``, migration 0008), so visits that made no article
    (a skip, an error, a robots.txt on a source's host) count towards their source too."""
    source = func.coalesce(SourceRow.name, "(no source)")
    query = (select(source, func.count(), func.sum(Fetch.warc_length))
             .outerjoin(SourceRow, SourceRow.id == Fetch.source_id)
             .where(Fetch.warc_filename.is_not(None)).group_by(source).order_by(source))
    with engine.connect() as connection:
        for name, records, size in connection.execute(query):
            yield Finding("disk", f"{name}: {_bytes(size or 0)} in {records} WARC record(s)")
    for warc_dir in warc_dirs:
        files = list(warc_dir.glob("*.warc.gz*")) if warc_dir.is_dir() else []
        yield Finding("disk", f"{_bytes(sum(p.stat().st_size for p in files))} in {len(files)} WARC file(s) in {warc_dir}")
    for places in _filesystems(engine, warc_dirs):
        usage = shutil.disk_usage(places[0])
        yield Finding("disk", f"{_bytes(usage.free)} free of {_bytes(usage.total)} on the filesystem of "
                              + " and ".join(str(place) for place in places))


def _filesystems(engine: Engine, warc_dirs: list[Path]) -> list[list[Path]]:
    """The WARC folders and a SQLite archive's folder, grouped by the filesystem they are on."""
    places = [warc_dir for warc_dir in warc_dirs if warc_dir.is_dir()]
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        places.append(Path(database).resolve().parent)
    devices: dict[int, list[Path]] = {}
    for place in places:
        devices.setdefault(os.stat(place).st_dev, []).append(place)
    return list(devices.values())


def _bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def _capped(findings: list[Finding], kind: str) -> Iterator[Finding]:
    yield from findings[:MAX_LINES_PER_KIND]
    if len(findings) > MAX_LINES_PER_KIND:
        yield Finding(kind, f"… and {len(findings) - MAX_LINES_PER_KIND} more like these")
