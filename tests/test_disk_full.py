"""Out of space (issue 9 item 10), and any write the WARC writer cannot make (item 2).

For real: a small tmpfs holds the WARC directory, the archive, or both (the default
layout); a crawl of 300 generated pages fills it. Then: one ERROR line naming what could
not be written and where, finish reason ``disk_full``, every version with its fetch and a
readable WARC record, and SQLite's integrity check. Mounting needs root (as in CI);
elsewhere these tests are skipped, saying so.
"""

from __future__ import annotations

import errno
import os
import pwd
import re
import resource
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from crawler.archive.db import create_archive_engine
from crawler.archive.store import Archive
from crawler.diskfull import is_out_of_space
from crawler.warc import Exchange, WarcWriter
from crawler.warc.reader import read_record
from tests.conftest import (
    POSTGRES_URL, PROJECT_ROOT, drop_postgres_schema, generated_mirror, postgres_url, query, run_crawl,
)
from tests.test_crash import (
    assert_archive_whole, assert_warc_files_pass_warcio_check, crawl_command, start_crawl,
    wait_for_fetches, warc_writer_of,
)

PAGES = 300


@pytest.fixture
def small_disk(tmp_path):
    """``small_disk(size, owner=None)``: a fresh tmpfs of that size (``mount -o size=``),
    unmounted afterwards; with ``owner``, that user's and mounted where it can reach it."""
    mounted: list[Path] = []

    def mount(size: str, owner: str | None = None) -> Path:
        options = f"size={size}"
        if owner is None:
            point = tmp_path / f"disk{len(mounted)}"
            point.mkdir()
        else:  # pytest's tmp_path is private to root
            user = pwd.getpwnam(owner)
            point = Path(tempfile.mkdtemp(prefix="disk-", dir="/tmp"))
            options += f",uid={user.pw_uid},gid={user.pw_gid},mode=0700"
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "--lazy", str(point)], check=False)
        if tmp_path not in point.parents:
            point.rmdir()


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    with generated_mirror(tmp_path_factory.mktemp("fullweb"), PAGES) as served:
        yield served


def the_one_out_of_space_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if "out of space" in line]
    assert len(lines) == 1, lines
    assert " ERROR: " in lines[0]
    return lines[0]


@pytest.mark.parametrize("full", ["warc", "archive", "both"])
def test_a_full_disk_stops_the_crawl_and_keeps_no_version_without_its_raw_capture(generated, small_disk,
                                                                                  tmp_path, full):
    server, urls = generated
    # "both": room for the first batches before the WARC files fill the disk; the store runs on
    # its own thread while downloads go on, so with less, the disk can be full before any commit
    disk = small_disk({"warc": "1m", "archive": "1500k", "both": "3m"}[full])
    archive = (disk if full != "warc" else tmp_path) / "archive.db"
    warc_dir = disk / "warc" if full != "archive" else tmp_path / "warc"
    server.requested.clear()
    result = run_crawl(server.url, archive, "-s", f"WARC_DIR={warc_dir}", "-a", "urls=" + ",".join(urls), check=False)

    assert "Spider closed (disk_full)" in result.stderr
    line = the_one_out_of_space_line(result.stderr)
    # what could not be written, and where
    named = {"warc": [f"WARC records ({warc_dir})"], "archive": [f"the archive ({archive})"],
             "both": [f"WARC records ({warc_dir})", f"the archive ({archive})"]}[full]
    assert any(f"could not write {what}" in line for what in named), line
    assert_archive_whole(archive, warc_dir)
    assert_warc_files_pass_warcio_check(warc_dir)  # a record cut short by the full disk was rolled back
    versions = query(archive, "SELECT count(*) FROM article_versions")[0][0]
    assert 0 < versions < PAGES
    if full == "warc":  # the archive could be written: every page fetched is a fetch row, and the run says failed
        pages = {path for path in server.requested if not path.endswith("/robots.txt")}
        fetches = query(archive, "SELECT outcome, error FROM fetches")
        assert len(fetches) == len(pages)
        lost = [f["error"] for f in fetches if f["outcome"] == "error"]
        assert lost and all("raw capture not written: [Errno 28] No space left on device" in e for e in lost)
        assert query(archive, "SELECT status FROM crawl_runs")[0][0] == "failed"
        assert "Traceback" not in result.stderr
    if full == "archive":  # the batch the archive could not take is counted, not silently dropped
        assert re.search(r"crawl run \d+ \(sources\) failed .* \d+ not stored", result.stderr), result.stderr[-2000:]
    # the run failed: the exit status says so (any finish reason but finished / closespider_*)
    assert result.returncode != 0


def test_a_full_temporary_directory_does_not_stop_a_crawl(generated, small_disk, tmp_path):
    """SQLite writes a savepoint's statement journal to its temporary directory unless told
    to keep it in memory. Each batch is stored in one, so a full /var/tmp (here
    $SQLITE_TMPDIR) stopped every crawl as 'could not write the archive', about a disk with room."""
    server, urls = generated
    full = small_disk("64k")
    _fill(full)
    archive = tmp_path / "archive.db"
    result = run_crawl(server.url, archive, "-s", f"WARC_DIR={tmp_path / 'warc'}", "-a", "urls=" + ",".join(urls[:120]),
                       env={"SQLITE_TMPDIR": str(full)})
    assert "out of space" not in result.stderr
    assert query(archive, "SELECT count(*) FROM article_versions")[0][0] == 120


def _fill(disk: Path) -> None:
    filler = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(filler, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(filler)


def test_only_a_migration_keeps_its_statement_journals_in_files(tmp_path):
    """A crawl's (and every other archive writer's) batches are bounded; a migration may
    rewrite a whole table inside one transaction, whose journal must not fill memory."""
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    archive = Archive.open(url)
    migration = create_archive_engine(url, foreign_keys=False)
    try:
        settings = []
        for engine in (archive.engine, migration, archive.reader):  # one at a time: each writer begins IMMEDIATE
            with engine.connect() as connection:
                settings.append(connection.exec_driver_sql("PRAGMA temp_store").scalar())
        assert settings == [2, 0, 0]  # 2: MEMORY, 0: the build's default (files)
    finally:
        migration.dispose()
        archive.close()


def test_a_write_the_warc_writer_cannot_make_is_an_error_visit_not_a_version(generated, tmp_path):
    """Not out of space but as bad: the writer's file may grow no further (RLIMIT_FSIZE,
    EFBIG). Every later page is an ``error`` fetch naming the cause, no version is stored
    without its raw capture, the log has one line for the cause, and the crawl goes on."""
    server, urls = generated
    archive, warc_dir = tmp_path / "archive.db", tmp_path / "warc"
    crawl = start_crawl(crawl_command(server.url, archive, urls[:100], "-s", "DOWNLOAD_DELAY=0.2",
                                      "-s", "ARCHIVE_BATCH_SIZE=5"), tmp_path / "crawl.log")
    wait_for_fetches(archive, 10)
    (current,) = warc_dir.glob("*.open")
    limit = current.stat().st_size + 100_000
    resource.prlimit(warc_writer_of(crawl.pid), resource.RLIMIT_FSIZE, (limit, limit))
    crawl.wait(timeout=300)
    log = (tmp_path / "crawl.log").read_text()
    assert "Spider closed (finished)" in log and "Traceback" not in log
    assert log.count("warc: could not write records") == 1 and "File too large" in log
    outcomes = dict(query(archive, "SELECT outcome, count(*) FROM fetches GROUP BY outcome"))
    assert sum(outcomes.values()) == 100 and outcomes["error"] > 0
    errors = query(archive, "SELECT url, error, version_id, warc_record_id FROM fetches WHERE outcome = 'error'")
    assert all(e["error"] == f"{e['url']}: raw capture not written: [Errno 27] File too large" for e in errors)
    assert all(e["version_id"] is None and e["warc_record_id"] is None for e in errors)
    assert f"{outcomes['error']} error" in log  # the run summary counts them
    assert_archive_whole(archive, warc_dir)
    assert_warc_files_pass_warcio_check(warc_dir)


def test_a_record_cut_short_by_a_full_disk_is_rolled_back(small_disk):
    """The file ends on a whole record after ENOSPC, and the next write, once there is
    room again, lands where its reference says."""
    disk = small_disk("256k")
    filler = disk / "filler"
    filler.write_bytes(b"\0" * 150_000)
    writer = WarcWriter(disk / "warc")
    body = os.urandom(20_000)  # incompressible: each record takes its size on disk
    written, failure = [], None
    for n in range(20):
        try:
            written.append(writer.write_exchange(Exchange(f"https://znews.vn/p{n}-post{n}.html", "GET", [], 200,
                                                          [("Content-Type", "text/html")], body)))
        except OSError as exc:
            failure = exc
            break
    assert failure is not None and failure.errno == errno.ENOSPC and written
    filler.unlink()
    after = writer.write_exchange(Exchange("https://znews.vn/after-post1.html", "GET", [], 200, [], body))
    writer.close()
    assert_warc_files_pass_warcio_check(disk / "warc")
    for ref in (*written, after):
        headers, _, payload = read_record(disk / "warc", ref.filename, ref.offset)
        assert headers.get_header("WARC-Record-ID") == ref.record_id and payload == body


def test_out_of_space_is_recognised_from_every_layer(tmp_path):
    db = tmp_path / "full.db"
    with sqlite3.connect(db) as connection:  # SQLITE_FULL, as SQLite reports a full disk
        connection.execute("CREATE TABLE t (x)")
        connection.execute("PRAGMA max_page_count = 2")
        with pytest.raises(sqlite3.OperationalError) as full:
            connection.execute("INSERT INTO t VALUES (randomblob(100000))")
    engine = create_engine(f"sqlite:///{db}")
    with pytest.raises(OperationalError) as wrapped, engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA max_page_count = 2")
        connection.execute(text("INSERT INTO t VALUES (randomblob(100000))"))
    engine.dispose()
    psycopg = pytest.importorskip("psycopg")
    assert is_out_of_space(full.value) and is_out_of_space(wrapped.value)
    assert is_out_of_space(psycopg.errors.DiskFull("could not extend file"))
    assert is_out_of_space(OSError(errno.ENOSPC, "No space left on device"))
    assert is_out_of_space(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert not is_out_of_space(OSError(errno.EACCES, "Permission denied"))
    assert not is_out_of_space(sqlite3.OperationalError("database is locked"))


@pytest.fixture
def full_tablespace(small_disk):
    """A PostgreSQL archive schema whose tables live on a 1 MB tmpfs (a tablespace there);
    needs the server on this machine, run as user postgres."""
    url = postgres_url()
    try:
        disk = small_disk("1m", owner="postgres")
    except KeyError:
        pytest.skip("no postgres user here: the PostgreSQL server is not on this machine")
    name = f"archive_full_{os.getpid()}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE TABLESPACE {name} LOCATION '{disk}'"))
    except OperationalError as exc:
        pytest.skip(f"cannot create a tablespace on {disk}: {exc.orig}")
    yield f"{url}%20-cdefault_tablespace%3D{name}"
    drop_postgres_schema()
    with admin.connect() as connection:
        connection.execute(text(f"DROP TABLESPACE {name}"))
    admin.dispose()


def test_a_full_postgresql_disk_stops_the_crawl_in_one_line(generated, full_tablespace, tmp_path):
    server, urls = generated
    warc_dir = tmp_path / "warc"
    env = {k: v for k, v in os.environ.items() if k not in ("ARCHIVE_URL", "MIRROR_URL")}
    result = subprocess.run(crawl_command(server.url, full_tablespace, urls, "-s", f"WARC_DIR={warc_dir}"),
                            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert "Spider closed (disk_full)" in result.stderr
    line = the_one_out_of_space_line(result.stderr)
    assert "could not write the archive (postgresql+psycopg://" in line and "No space left on device" in line
    engine = create_engine(full_tablespace)
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT status FROM crawl_runs")) != "finished"
        assert connection.scalar(text("""SELECT count(*) FROM article_versions v WHERE NOT EXISTS
                                         (SELECT 1 FROM fetches f WHERE f.version_id = v.id
                                          AND f.warc_record_id IS NOT NULL)""")) == 0
        for url, filename, offset, record_id in connection.execute(text(
                "SELECT url, warc_filename, warc_offset, warc_record_id FROM fetches WHERE warc_record_id IS NOT NULL")):
            headers, _, _ = read_record(warc_dir, filename, offset)
            assert (headers.get_header("WARC-Record-ID"), headers.get_header("WARC-Target-URI")) == (record_id, url)
    engine.dispose()
    assert result.returncode != 0  # the run failed (the exit status follows the finish reason)
