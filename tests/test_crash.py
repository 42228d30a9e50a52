"""Crashes never leave the archive half-written (issue 9, Tests): ``kill -9`` at random
moments of a crawl of 200+ pages, then SQLite's own checks, every version made by a
fetch whose WARC record reads back at its stored offset, ``warcio check`` on every file
once the next run repaired them, and the next run completes. And when the WARC writer
process alone dies, no visit after it claims a version without its raw capture.

Three trials run by default; ``pytest -m soak`` runs many more.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crawler.warc.reader import read_record
from tests.conftest import PROJECT_ROOT, generated_mirror, query, run_crawl

PAGES = 220
SOAK_TRIALS = 25


def assert_archive_whole(archive: Path, warc_dir: Path) -> None:
    """What no crash may break: the database's own checks, and every fetch's WARC record
    where the fetch says it is (once the files of dead writers are repaired)."""
    assert_database_whole(archive)
    assert_raw_captures_resolve(archive, warc_dir)


def assert_database_whole(archive: Path) -> None:
    """SQLite's integrity and foreign key checks; every version made by a fetch with a WARC record."""
    with sqlite3.connect(archive) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert db.execute("""SELECT count(*) FROM article_versions v WHERE NOT EXISTS
                             (SELECT 1 FROM fetches f WHERE f.version_id = v.id AND f.outcome IN ('new', 'changed')
                              AND f.warc_record_id IS NOT NULL)""").fetchone()[0] == 0


def assert_raw_captures_resolve(archive: Path, warc_dir: Path) -> int:
    """Every fetch that names a WARC record finds it, whole, at its offset; returns how many."""
    fetches = query(archive, "SELECT url, warc_filename, warc_offset, warc_record_id FROM fetches "
                             "WHERE warc_record_id IS NOT NULL")
    for fetch in fetches:
        headers, _, _ = read_record(warc_dir, fetch["warc_filename"], fetch["warc_offset"])
        assert headers.get_header("WARC-Record-ID") == fetch["warc_record_id"], dict(fetch)
        assert headers.get_header("WARC-Target-URI") == fetch["url"]
    return len(fetches)


def assert_warc_files_pass_warcio_check(warc_dir: Path) -> None:
    assert not list(warc_dir.glob("*.open")), "a file was left open"
    files = sorted(warc_dir.glob("*.warc.gz"))
    checked = subprocess.run([sys.executable, "-m", "warcio.cli", "check", *map(str, files)],
                             capture_output=True, text=True)
    assert files and checked.returncode == 0, checked.stdout + checked.stderr


def crawl_command(mirror_url: str, archive: Path | str, urls: list[str], *settings: str) -> list[str]:
    """``scrapy crawl sources`` of ``urls``; ``archive``: a SQLite file or any archive URL."""
    url = archive if isinstance(archive, str) else f"sqlite:///{archive}"
    return [sys.executable, "-m", "scrapy", "crawl", "sources", "-s", f"MIRROR_URL={mirror_url}",
            "-s", f"ARCHIVE_URL={url}", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "LOG_LEVEL=INFO",
            *settings, "-a", "urls=" + ",".join(urls)]


def start_crawl(command: list[str], log: Path) -> subprocess.Popen:
    """In its own session, so the whole process group (crawl and WARC writer) can be killed at once."""
    env = {k: v for k, v in os.environ.items() if k not in ("ARCHIVE_URL", "MIRROR_URL")}
    return subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=open(log, "w"), start_new_session=True)  # noqa: SIM115


def count_rows(archive: Path, table: str) -> int:
    try:
        with sqlite3.connect(archive, timeout=5) as db:
            return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def wait_for_fetches(archive: Path, count: int, timeout: float = 120) -> None:
    """Until the crawl has stored ``count`` fetch rows (or ``timeout`` seconds passed)."""
    deadline = time.monotonic() + timeout
    while count_rows(archive, "fetches") < count and time.monotonic() < deadline:
        time.sleep(0.05)


def warc_writer_of(pid: int) -> int:
    """The crawl's WARC writer process: the multiprocessing spawn child with a WARC file open
    (the others extract articles)."""
    (writer,) = [c for c in children(pid) if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()
                 and any(".warc.gz" in _target(fd) for fd in Path(f"/proc/{c}/fd").iterdir())]
    return writer


def _target(fd: Path) -> str:
    try:
        return os.readlink(fd)
    except FileNotFoundError:  # closed meanwhile
        return ""


def wait_gone(pids: list[int], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in pids), "a WARC writer outlived its crawl"


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    with generated_mirror(tmp_path_factory.mktemp("crashweb"), PAGES) as served:
        yield served


def kill_at_a_random_moment(generated, tmp_path: Path, trial: int) -> None:
    server, urls = generated
    # A kill drawn too near the end can come after the crawl has finished (its last pages are
    # stored as soon as nothing is left to fetch): that draw crashes nothing, so the trial
    # draws again, with a seed of its own, rather than fail or pass without a crash.
    for attempt in range(3):
        rng = random.Random(f"crash-{trial}" + (f"-{attempt}" if attempt else ""))
        attempt_dir = tmp_path / f"attempt-{attempt}"
        attempt_dir.mkdir()
        archive, warc_dir = attempt_dir / "archive.db", attempt_dir / "warc"
        # a random point of progress (up to the last full batch), then a random instant after it
        goal, pause = rng.randint(0, PAGES - 80), rng.uniform(0, 1.0)
        whole_group = rng.random() < 0.5  # the crawl alone, or (as the OOM killer or systemd do) with its writer
        crawl = start_crawl(crawl_command(server.url, archive, urls), attempt_dir / "killed.log")
        deadline = time.monotonic() + 120
        while crawl.poll() is None and count_rows(archive, "fetches") < goal and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(pause)
        writers = children(crawl.pid)
        if crawl.poll() is None:
            break
        print(f"trial {trial}: the crawl ended before the kill (goal {goal} fetches, then {pause:.2f} s): drawn again")
    assert crawl.poll() is None, f"trial {trial}: the crawl ended before the kill in 3 draws"
    (os.killpg if whole_group else os.kill)(crawl.pid, signal.SIGKILL)
    crawl.wait(timeout=30)
    wait_gone(writers)
    moment = f"trial {trial}: {'crawl and writer' if whole_group else 'crawl'} killed at {count_rows(archive, 'fetches')} " \
             f"fetches (goal {goal}, then {pause:.2f} s)"
    print(moment)  # pytest -s shows where each kill landed
    if archive.exists():
        assert_database_whole(archive)

    result = run_crawl(server.url, archive, "-a", "urls=" + ",".join(urls), check=False)
    assert result.returncode == 0, f"{moment}:\n{result.stderr[-3000:]}"
    print("   ", *(line.split("] ", 1)[1] for line in result.stderr.splitlines() if "left open by pid" in line))
    assert query(archive, "SELECT status FROM crawl_runs ORDER BY id DESC LIMIT 1")[0][0] == "finished"
    assert_archive_whole(archive, warc_dir)
    assert_warc_files_pass_warcio_check(warc_dir)
    # after the next run every page is archived, once
    assert query(archive, "SELECT count(*) FROM articles")[0][0] == PAGES
    assert query(archive, "SELECT count(*) FROM article_versions")[0][0] == PAGES


@pytest.mark.parametrize("trial", range(3))
def test_kill_9_at_a_random_moment_leaves_a_whole_archive(generated, tmp_path, trial):
    kill_at_a_random_moment(generated, tmp_path, trial)


@pytest.mark.soak
@pytest.mark.parametrize("trial", range(3, 3 + SOAK_TRIALS))
def test_kill_9_soak(generated, tmp_path, trial):
    kill_at_a_random_moment(generated, tmp_path, trial)


def test_a_dead_writer_process_is_replaced_and_no_visit_claims_a_capture_it_lacks(generated, tmp_path):
    """The WARC writer process dies mid-crawl (killed, out of memory): another takes over
    and closes the dead one's file; a visit whose record was lost with it is an ``error``
    fetch saying so, never a version."""
    server, urls = generated
    archive, warc_dir = tmp_path / "archive.db", tmp_path / "warc"
    crawl = start_crawl(crawl_command(server.url, archive, urls[:120], "-s", "DOWNLOAD_DELAY=0.2",
                                      "-s", "ARCHIVE_BATCH_SIZE=5"), tmp_path / "crawl.log")
    wait_for_fetches(archive, 10)
    os.kill(warc_writer_of(crawl.pid), signal.SIGKILL)
    killed_at = count_rows(archive, "fetches")
    crawl.wait(timeout=300)
    log = (tmp_path / "crawl.log").read_text()
    assert "Spider closed (finished)" in log
    assert log.count("warc: the writer process died") == 1 and "Traceback" not in log
    outcomes = dict(query(archive, "SELECT outcome, count(*) FROM fetches GROUP BY outcome"))
    assert sum(outcomes.values()) == 120 and set(outcomes) <= {"new", "error"}  # every visit is a row
    assert outcomes["new"] > killed_at  # the crawl went on keeping pages, raw and stored
    errors = query(archive, "SELECT url, error, version_id, warc_record_id FROM fetches WHERE outcome = 'error'")
    assert all("raw capture not written" in e["error"] and e["url"] in e["error"] for e in errors)
    assert all(e["version_id"] is None and e["warc_record_id"] is None for e in errors)
    assert f"{outcomes.get('error', 0)} error" in log  # the run summary counts them
    assert_archive_whole(archive, warc_dir)
    assert_warc_files_pass_warcio_check(warc_dir)  # the dead writer's file too
