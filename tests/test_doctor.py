"""`archive doctor` (issue 12 item 6): a healthy crawled archive passes; each fault, injected
alone into a copy of it, fails the run with one `PROBLEM:` line naming it; nothing is written."""

import fcntl
import gzip
import hashlib
import os
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from crawler.archive.migrate import head_revision, revisions
from crawler.archive.store import Archive
from crawler.cli import main
from tests.conftest import drop_postgres_schema, postgres_url
from tests.test_cli import fill


@pytest.fixture
def archive(crawled_archive, tmp_path) -> Path:
    """A copy of the crawled archive and its WARC files, to break."""
    shutil.copy(crawled_archive, tmp_path / "archive.db")
    shutil.copytree(crawled_archive.parent / "warc", tmp_path / "warc")
    # the copy's runs say they wrote here, as the archive moved with its files would: doctor
    # reads where a run wrote first (crawler/warc/locate.py), and the original is still there
    sql(tmp_path / "archive.db", f"UPDATE crawl_runs SET warc_dir = '{(tmp_path / 'warc').resolve()}'")
    return tmp_path / "archive.db"


def doctor(db: Path, capsys, *args: str) -> tuple[int, list[str], list[str]]:
    """(exit status, PROBLEM lines, all lines) of `archive doctor` on ``db``."""
    status = main(["--archive", str(db), "doctor", *args])
    lines = capsys.readouterr().out.splitlines()
    return status, [line for line in lines if line.startswith("PROBLEM: ")], lines


def warc_files(db: Path) -> list[Path]:
    return sorted((db.parent / "warc").glob("*.warc.gz"))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sql(db: Path, *statements: str) -> None:
    with closing(sqlite3.connect(db)) as connection:
        for statement in statements:
            connection.execute(statement)
        connection.commit()


def test_a_healthy_archive_passes_and_is_left_as_it_was(archive, capsys):
    before = {path: digest(path) for path in [archive, *warc_files(archive)]}
    status, problems, lines = doctor(archive, capsys)
    assert status == 0 and problems == [], lines
    assert lines[-1] == f"doctor: {archive} is healthy"
    assert f"schema: revision {head_revision()}, this crawler's newest" in lines
    assert "integrity: PRAGMA integrity_check: ok" in lines
    assert any(line.startswith("warc: ") and "all whole" in line for line in lines)
    assert any(line.startswith("disk: znews: ") for line in lines)  # WARC bytes per source
    assert any(line.startswith("disk: ") and " free of " in line for line in lines)
    assert {path: digest(path) for path in before} == before
    assert doctor(archive, capsys, "--quick")[0] == 0


def test_disk_use_counts_a_visit_by_its_own_source_even_without_an_article(archive, capsys):
    """fetches.source_id (0008), not the article: a visit that made no article is its source's."""
    sql(archive, "UPDATE fetches SET article_id = NULL WHERE id = (SELECT min(f.id) FROM fetches f "
                 "JOIN sources s ON s.id = f.source_id WHERE s.name = 'znews' AND f.warc_filename IS NOT NULL)")
    with closing(sqlite3.connect(archive)) as connection:
        (records,) = connection.execute("SELECT count(*) FROM fetches f JOIN sources s ON s.id = f.source_id "
                                        "WHERE s.name = 'znews' AND f.warc_filename IS NOT NULL").fetchone()
    lines = doctor(archive, capsys)[2]
    assert any(line.startswith("disk: znews: ") and line.endswith(f" in {records} WARC record(s)")
               for line in lines), lines


def test_doctor_works_on_an_archive_in_a_read_only_folder(archive, capsys):
    from tests.test_readers import read_in_readonly_folder

    folder = archive.parent
    source = warc_files(archive)[0]
    shutil.copy(source, source.with_name(source.name.replace(".warc.gz", "-2147483646.warc.gz.open")))
    before = sorted(p.name for p in folder.rglob("*"))
    (result,) = read_in_readonly_folder(folder, [["--archive", str(archive), "doctor"]])
    assert result["status"] == 1 and "Traceback" not in result["err"], result["err"]
    assert [line for line in result["out"].splitlines() if line.startswith("PROBLEM: ")] == [
        f"PROBLEM: warc: {source.parent}/{source.name.replace('.warc.gz', '-2147483646.warc.gz.open')} was left "
        "open by pid 2147483646, which is gone: the next crawl closes it at its last complete record"]
    assert sorted(p.name for p in folder.rglob("*")) == before


def test_quiet_prints_nothing_when_healthy_and_only_the_problems_when_not(archive, capsys):
    assert doctor(archive, capsys, "--quiet") == (0, [], [])
    sql(archive, "PRAGMA foreign_keys=OFF", "UPDATE fetches SET crawl_run_id = 999 WHERE id = 1")
    status, problems, lines = doctor(archive, capsys, "--quiet")
    assert status == 1 and lines == [*problems, f"doctor: {archive}: 1 problem"] and len(problems) == 1


def test_a_missing_warc_file(archive, capsys):
    (missing := warc_files(archive)[0]).unlink()
    status, problems, _ = doctor(archive, capsys)
    assert status == 1 and len(problems) == 1
    assert problems[0].startswith(f"PROBLEM: warc: {missing.name} is missing from {missing.parent.resolve()}: ")
    assert problems[0].endswith(" refer to it")


def test_a_truncated_warc_file(archive, capsys):
    path = warc_files(archive)[0]
    os.truncate(path, path.stat().st_size // 2)
    status, problems, _ = doctor(archive, capsys)
    assert status == 1 and len(problems) == 1
    assert problems[0].startswith(f"PROBLEM: warc: {path} is cut short at {path.stat().st_size} bytes")


def test_an_unreadable_record(archive, capsys):
    (offset,), = query(archive, "SELECT warc_offset FROM fetches WHERE warc_record_type = 'response' LIMIT 1")
    path = warc_files(archive)[0]
    data = bytearray(path.read_bytes())
    data[offset + 30] ^= 0xFF  # inside the record's gzip member
    path.write_bytes(bytes(data))
    status, problems, _ = doctor(archive, capsys)
    assert status == 1 and len(problems) == 1
    assert problems[0].startswith(f"PROBLEM: warc: {path} at {offset}, the record of fetch ")


def test_a_record_whose_content_no_longer_matches_its_digest(archive, capsys):
    """The last record of the file, recompressed with one byte of its page changed: a valid
    gzip member and WARC record whose payload no longer hashes to WARC-Payload-Digest."""
    (offset, length, fetch_id), = query(archive, "SELECT warc_offset, warc_length, id FROM fetches "
                                                 "WHERE warc_record_type = 'response' ORDER BY warc_offset DESC LIMIT 1")
    path = warc_files(archive)[0]
    data = path.read_bytes()
    member = gzip.decompress(data[offset:offset + length])
    at = member.rindex(b"</html>")
    tampered = member[:at] + b"</HTML>" + member[at + 7:]
    path.write_bytes(data[:offset] + gzip.compress(tampered) + data[offset + length:])
    status, problems, _ = doctor(archive, capsys)
    assert status == 1 and problems and "digest mismatch" in problems[0] and f"fetch {fetch_id} " in problems[0]


def test_a_warc_file_left_open_by_a_writer_that_is_gone(archive, capsys):
    source = warc_files(archive)[0]
    left = source.with_name(source.name.replace(".warc.gz", "-2147483646.warc.gz.open"))  # no such pid
    shutil.copy(source, left)
    status, problems, _ = doctor(archive, capsys)
    assert status == 1 and problems == [f"PROBLEM: warc: {left} was left open by pid 2147483646, which is gone: "
                                        "the next crawl closes it at its last complete record"]
    assert left.exists()  # reported, not repaired: the doctor never writes


def test_a_warc_file_a_live_writer_holds_is_no_problem(archive, capsys):
    source = warc_files(archive)[0]
    live = source.with_name(source.name.replace(".warc.gz", f"-{os.getpid()}.warc.gz.open"))
    shutil.copy(source, live)
    with open(live, "rb+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # what a writer holds while it writes
        status, problems, lines = doctor(archive, capsys)
    assert status == 0 and problems == []
    assert f"warc: {live.name} is being written by pid {os.getpid()} (a crawl is running)" in lines


def test_a_broken_foreign_key(archive, capsys):
    sql(archive, "PRAGMA foreign_keys=OFF", "UPDATE fetches SET crawl_run_id = 999 WHERE id = 1")
    status, problems, _ = doctor(archive, capsys)
    assert status == 1 and problems == ["PROBLEM: foreign key: fetches row 1: its crawl_run_id names no crawl_runs row"]


def test_an_index_out_of_step_with_its_table(archive, capsys):
    """The index's definition changed under it: its entries no longer match the rows, which
    integrity_check sees and the faster quick_check (which skips index contents) does not."""
    sql(archive, "PRAGMA writable_schema=ON",
        "UPDATE sqlite_master SET sql = 'CREATE INDEX ix_articles_gone_at ON articles (url)' "
        "WHERE name = 'ix_articles_gone_at'")
    status, problems, _ = doctor(archive, capsys)
    assert status == 1 and "PROBLEM: integrity: PRAGMA integrity_check: row 1 missing from index ix_articles_gone_at" \
        in problems
    assert doctor(archive, capsys, "--quick")[0] == 0


def test_a_damaged_database_page(archive, capsys):
    (root,), = query(archive, "SELECT rootpage FROM sqlite_master WHERE name = 'ix_articles_gone_at'")
    (page_size,), = query(archive, "PRAGMA page_size")
    with open(archive, "r+b") as db:
        db.seek((root - 1) * page_size)
        db.write(b"\xff" * page_size)
    status, problems, _ = doctor(archive, capsys)
    assert status == 1 and problems == ["PROBLEM: integrity: PRAGMA integrity_check: database disk image is malformed"]


def test_an_archive_behind_head(archive, capsys):
    behind = revisions()[-2]
    sql(archive, f"UPDATE alembic_version SET version_num = '{behind}'")
    before = digest(archive)
    status, problems, _ = doctor(archive, capsys)
    assert status == 1 and problems == [f"PROBLEM: schema: revision {behind} is behind this crawler's "
                                        f"{head_revision()}: run `archive upgrade` (it backs the archive up first)"]
    assert digest(archive) == before


def test_postgresql_orphans_are_found_by_query(tmp_path, capsys):
    url = postgres_url()
    try:
        archive = Archive.open(url)
        fill(archive)
        archive.close()
        status, problems, lines = doctor(url, capsys, "--warc-dir", str(tmp_path))
        assert status == 0 and problems == [], lines
        assert any(line.startswith("integrity: ") and "skipped" in line for line in lines)
        archive = Archive.open(url)
        with archive.engine.begin() as connection:  # a session with FK triggers off, as a bulk load might run
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
            connection.exec_driver_sql("UPDATE fetches SET crawl_run_id = 999 WHERE id = 1")
        archive.close()
        status, problems, _ = doctor(url, capsys, "--warc-dir", str(tmp_path))
        assert status == 1 and problems == ["PROBLEM: foreign key: fetches row 1: its crawl_run_id 999 names no "
                                            "crawl_runs row"]
    finally:
        drop_postgres_schema()


def query(db: Path, statement: str, *params) -> list[tuple]:
    with closing(sqlite3.connect(db)) as connection:
        return connection.execute(statement, params).fetchall()
