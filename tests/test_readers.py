"""Readers never write (issue 9, item 5): `archive` read commands open the archive
read-only, refuse a schema that is not theirs in one line instead of migrating it, and
work in a folder nobody may write to; `archive upgrade` migrates, after a backup."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from crawler.archive.db import create_archive_engine
from crawler.archive.migrate import downgrade, head_revision, revisions, upgrade
from crawler.archive.store import Archive
from crawler.cli import main
from tests.conftest import PROJECT_ROOT, expected_pages, postgres_url
from tests.test_cli import ZNEWS, fill

BEHIND = revisions()[-2]  # the revision before this code's newest, whatever that is
READ_COMMANDS = [["history", ZNEWS.url], ["diff", ZNEWS.url], ["show", ZNEWS.url], ["search", "Zuckerberg"],
                 ["links", ZNEWS.url], ["export"], ["cdxj", "--output", "index.cdxj"]]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def revision_of(path: Path) -> str:
    with closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT version_num FROM alembic_version").fetchone()[0]


@pytest.fixture
def behind(tmp_path) -> Path:
    """An archive with three versions of an article, at the revision before head."""
    path = tmp_path / "archive.db"
    archive = Archive.open(f"sqlite:///{path}")
    fill(archive)
    downgrade(archive.engine, BEHIND)
    archive.close()
    assert revision_of(path) == BEHIND
    return path


@pytest.fixture
def cli(capsys, monkeypatch):
    monkeypatch.delenv("ARCHIVE_URL", raising=False)

    def run(archive: Path | str, *args: str) -> tuple[int, str, str]:
        status = main(["--archive", str(archive), *args])
        out, err = capsys.readouterr()
        return status, out, err
    return run


@pytest.mark.parametrize("command", READ_COMMANDS + [["reextract"]], ids=lambda c: c[0])
def test_a_reader_leaves_an_archive_behind_head_untouched_and_says_how_to_upgrade(behind, cli, command, tmp_path,
                                                                                   monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = digest(behind)
    status, out, err = cli(behind, *command)
    assert status == 1 and out == ""
    assert err == (f"archive: {behind} has schema revision {BEHIND}, older than this crawler's {head_revision()}: "
                   "run `archive upgrade` (it backs the archive up first), then try again\n")
    assert digest(behind) == before and revision_of(behind) == BEHIND


def test_upgrade_backs_up_then_migrates(behind, cli):
    status, out, err = cli(behind, "upgrade")
    assert status == 0, err
    (backup,) = behind.parent.glob("archive.db.backup-*")
    assert backup.name.startswith(f"archive.db.backup-{BEHIND}-")
    assert out.splitlines() == [f"backed up {behind} (schema {BEHIND}) to {backup}",
                                f"upgraded {behind} from schema {BEHIND} to {head_revision()}"]
    assert revision_of(backup) == BEHIND and revision_of(behind) == head_revision()
    with closing(sqlite3.connect(backup)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one file, nothing beside it
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM article_versions").fetchone()[0] == 6
    status, out, _ = cli(behind, "history", ZNEWS.url)
    assert status == 0 and "3 versions" in out
    assert cli(behind, "upgrade")[1] == f"{behind} is already at the newest schema ({head_revision()}): nothing to do\n"
    assert len(list(behind.parent.glob("archive.db.backup-*"))) == 1


def test_an_archive_newer_than_the_crawler_is_refused(behind, cli):
    with closing(sqlite3.connect(behind)) as db, db:
        db.execute("UPDATE alembic_version SET version_num = 'f00d'")
    before = digest(behind)
    status, _, err = cli(behind, "show", ZNEWS.url)
    assert status == 1 and "schema revision f00d, newer than this crawler knows" in err and "update the crawler" in err
    status, _, err = cli(behind, "upgrade")
    assert status == 1 and "update the crawler instead" in err
    assert digest(behind) == before and not list(behind.parent.glob("*.backup-*"))


def test_the_reading_engine_cannot_write(tmp_path):
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    fill(writer := Archive.open(url))
    writer.close()
    reader = Archive.open(url, readonly=True)
    try:
        with pytest.raises(OperationalError, match="readonly database"), reader.engine.begin() as connection:
            connection.exec_driver_sql("DELETE FROM article_versions")
    finally:
        reader.close()


def test_postgresql_readers_use_read_only_transactions_and_never_migrate(capsys, monkeypatch):
    monkeypatch.delenv("ARCHIVE_URL", raising=False)
    url = postgres_url()
    archive = Archive.open(url)
    try:
        fill(archive)
        reader = Archive.open(url, readonly=True)
        with pytest.raises(SQLAlchemyError, match="read-only transaction"), reader.engine.begin() as connection:
            connection.exec_driver_sql("DELETE FROM article_versions")
        reader.close()
        downgrade(archive.engine, BEHIND)
        assert main(["--archive", url, "history", ZNEWS.url]) == 1
        assert f"older than this crawler's {head_revision()}: run `archive upgrade`" in capsys.readouterr().err
        with archive.engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == BEHIND
        assert main(["--archive", url, "upgrade"]) == 0
        out = capsys.readouterr().out
        assert "no backup" in out and f"from schema {BEHIND} to {head_revision()}" in out
        assert main(["--archive", url, "history", ZNEWS.url]) == 0
    finally:
        downgrade(archive.engine, "base")
        archive.close()


# -- an archive in a folder nobody may write to ---------------------------------------

# Runs each argv through `archive` and prints {"status", "out", "err"} per command as JSON;
# first proves the folder is read-only (root ignores permissions, not a read-only mount).
READER = textwrap.dedent("""
    import contextlib, io, json, os, sys
    from crawler.cli import main
    folder, runs = sys.argv[1], json.loads(sys.argv[2])
    try:
        open(os.path.join(folder, "probe"), "w")
        writable = True
    except OSError:
        writable = False
    results = []
    for argv in runs:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(argv)
        results.append({"status": status, "out": out.getvalue(), "err": err.getvalue()})
    print(json.dumps({"writable": writable, "results": results}))
""")


def read_in_readonly_folder(folder: Path, runs: list[list[str]]) -> list[dict]:
    """Run the `archive` commands in a mount namespace where ``folder`` is bind-mounted
    read-only, as a user's read-only share would be (tests run as root, whom file
    permissions do not stop)."""
    mount = f"mount --bind '{folder}' '{folder}' && mount -o remount,bind,ro '{folder}'"
    probe = subprocess.run(["unshare", "-m", "sh", "-c", mount], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a read-only bind mount here (needs root in a mount namespace): {probe.stderr.strip()}")
    command = f"{mount} && exec \"$0\" -c \"$1\" \"$2\" \"$3\""
    result = subprocess.run(["unshare", "-m", "sh", "-c", command, sys.executable, READER, str(folder), json.dumps(runs)],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["writable"] is False
    return report["results"]


def test_every_read_command_works_on_an_archive_in_a_read_only_folder(crawled_archive, tmp_path):
    folder = tmp_path / "share"
    shutil.copytree(crawled_archive.parent, folder)
    archive = folder / crawled_archive.name
    assert not Path(f"{archive}-wal").exists()  # the crawl ended: everything is in the file
    before = sorted(p.name for p in folder.iterdir())
    url = expected_pages()[0]["canonical_url"]
    runs = [["--archive", str(archive), *argv] for argv in (
        ["history", url], ["show", url, "--json"], ["diff", url], ["search", "Zuckerberg"], ["links", url],
        ["export", "--format", "csv"], ["cdxj", "--output", str(tmp_path / "index.cdxj")])]
    results = read_in_readonly_folder(folder, runs)
    for argv, result in zip(runs, results):
        assert result["status"] == 0 and "Traceback" not in result["err"], (argv, result["err"])
    history, show, _, search, _, export, _ = results
    assert url in history["out"] and "1 version" in history["out"]
    assert json.loads(show["out"])["url"] == url
    assert url in search["out"] and url in export["out"]
    assert (tmp_path / "index.cdxj").stat().st_size > 0
    assert sorted(p.name for p in folder.iterdir()) == before


def test_a_read_only_folder_with_a_live_write_ahead_log_shows_its_latest_commits(tmp_path):
    """A folder made read-only while a writer's WAL holds commits not yet in the file:
    the reader must see them (``immutable=1`` would not)."""
    folder = tmp_path / "share"
    folder.mkdir()
    path = folder / "archive.db"
    fill(archive := Archive.open(f"sqlite:///{path}"))
    archive.close()
    writer = sqlite3.connect(path)
    try:
        writer.execute("PRAGMA wal_autocheckpoint=0")
        writer.execute("UPDATE article_versions SET title = 'Tiêu đề mới' WHERE version = 3")
        writer.commit()
        assert Path(f"{path}-wal").stat().st_size > 0
        (result,) = read_in_readonly_folder(folder, [["--archive", str(path), "history", ZNEWS.url]])
    finally:
        writer.close()
    assert result["status"] == 0, result["err"]
    assert "Tiêu đề mới" in result["out"].splitlines()[3]


def test_the_crawl_still_creates_and_migrates_its_archive(tmp_path):
    """Writers are unchanged: a crawl's Archive.open makes a new archive and upgrades an old one."""
    path = tmp_path / "archive.db"
    engine = create_archive_engine(f"sqlite:///{path}")
    upgrade(engine, BEHIND)
    engine.dispose()
    Archive.open(f"sqlite:///{path}").close()
    assert revision_of(path) == head_revision()
