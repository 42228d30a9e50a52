"""Where the archive's time goes: SQL time per statement and time per store.py function.

Both are context managers that yield a dict ``key -> [calls, seconds]`` and undo
themselves on exit. SQL time is measured around the DB-API ``execute`` (SQLite does
the work of a SELECT there, up to its first row) and ``commit`` (where SQLite writes
the WAL and, every 1000 WAL pages, checkpoints it into the database file).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, event

SELECT_LIST = re.compile(r"^SELECT .*? FROM ", re.S)
IN_LIST = re.compile(r"IN \((?:\?|__\[POSTCOMPILE_\w+\])(?:, \?)*\)")
SAVEPOINT_NAME = re.compile(r"(SAVEPOINT) \w+")


def statement_key(statement: str, width: int = 150) -> str:
    """A statement as one short line: select list elided, IN lists and savepoint names folded."""
    text = " ".join(statement.split())
    text = SELECT_LIST.sub("SELECT … FROM ", text)
    text = SAVEPOINT_NAME.sub(r"\1 sp", IN_LIST.sub("IN (?…)", text))
    return text if len(text) <= width else text[:width - 1] + "…"


@contextmanager
def sql_timer(engine: Engine) -> Iterator[dict[str, list]]:
    stats: dict[str, list] = defaultdict(lambda: [0, 0.0])

    def before(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def after(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        entry = stats[statement_key(statement)]
        entry[0] += 1
        entry[1] += time.perf_counter() - conn.info["bench_started"].pop()

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    engine.dialect.do_commit = _timed(engine.dialect.do_commit, stats["COMMIT (DB-API commit)"])
    try:
        yield stats
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
        del engine.dialect.do_commit  # the instance attribute; the class method shows again


def _timed(function, entry: list):  # noqa: ANN001, ANN202
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            entry[0] += 1
            entry[1] += time.perf_counter() - started
    return wrapper


@contextmanager
def function_timer(owner: object, names: list[str]) -> Iterator[dict[str, list]]:
    """Time calls of ``owner.<name>`` (module functions or class methods; inclusive time).
    Names that ``owner`` does not have are skipped, so the code may change under us."""
    stats: dict[str, list] = {}
    originals = {name: getattr(owner, name) for name in names if hasattr(owner, name)}
    for name, original in originals.items():
        stats[name] = [0, 0.0]
        setattr(owner, name, _timed(original, stats[name]))
    try:
        yield stats
    finally:
        for name, original in originals.items():
            setattr(owner, name, original)


def per_item(stats: dict[str, list], items: int) -> list[tuple[str, float, float]]:
    """(key, calls per item, ms per item), most expensive first."""
    rows = [(key, calls / items, 1000 * seconds / items) for key, (calls, seconds) in stats.items()]
    return sorted(rows, key=lambda row: -row[2])


def code_state() -> str:
    """The commit measured, and whether crawler/ or migrations/ had uncommitted changes."""
    def git(*args: str) -> str:
        root = __file__.rsplit("/", 2)[0]
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=root).stdout.strip()
    dirty = git("status", "--porcelain", "--", "crawler", "migrations", "seeds").splitlines()
    changes = f" + {len(dirty)} uncommitted file(s) in crawler/migrations/seeds" if dirty else ""
    return git("rev-parse", "--short", "HEAD") + changes


@contextmanager
def scratch_dir(name: str, keep: bool) -> Iterator[Path]:
    """A temp folder for one bench run, removed afterwards unless ``keep`` (then its path is printed)."""
    work = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    try:
        yield work
    finally:
        if keep:
            print(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
