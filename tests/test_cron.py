"""`archive recrawl` as cron runs it: one run at a time, killed runs recovered, failures
reported by exit status; robots.txt obeyed, Crawl-delay and Retry-After honoured."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

from crawler.lock import RunLock
from crawler.mirror import MirrorServer
from tests.conftest import PROJECT_ROOT, query, run_crawl
from tests.test_crash import assert_archive_whole, assert_database_whole, assert_warc_files_pass_warcio_check

ZNEWS = "https://znews.vn/cuoc-choi-lon-cua-mark-zuckerberg-post1556369.html"


def recrawl(archive, *args, mirror_url="bundled", wait=True):
    command = [sys.executable, "-m", "crawler.cli", "--archive", f"sqlite:///{archive}", "recrawl",
               "-s", f"MIRROR_URL={mirror_url}", "-s", "AUTOTHROTTLE_ENABLED=False", *args]
    env = {k: v for k, v in os.environ.items() if k != "ARCHIVE_URL"}
    if not wait:
        return subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    return subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_a_second_overlapping_run_exits_at_once_with_its_own_code(tmp_path):
    archive = tmp_path / "archive.db"
    with RunLock(f"{archive}.lock"):
        started = time.monotonic()
        result = recrawl(archive)
    assert result.returncode == 75
    assert "another run holds" in result.stdout and f"pid {os.getpid()}" in result.stdout
    assert time.monotonic() - started < 30 and not archive.exists()


def test_a_lock_left_by_a_killed_run_does_not_block(tmp_path):
    archive = tmp_path / "archive.db"
    (tmp_path / "archive.db.lock").write_text("pid 999999 since 2025-07-01T00:00:00+00:00\n")
    result = recrawl(archive, "--no-discover")
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_run_that_cannot_start_exits_2_in_one_line(tmp_path):
    result = recrawl(tmp_path / "archive.db", "--sources", "lemonde")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "archive recrawl: -a sources: unknown source(s) lemonde; configured: znews, dantri, developpez, 01net, vietnamvn"]


def test_sigkill_mid_run_leaves_a_consistent_archive_and_the_next_run_resumes(extra_web, tmp_path):
    archive = tmp_path / "archive.db"
    with MirrorServer(extra_web) as server:
        run_crawl(server.url, archive)  # six archived articles...
    with sqlite3.connect(archive) as db:  # ...all due, on a slow server, so the kill lands mid-run
        db.execute("UPDATE articles SET next_visit_at = '2000-01-01 00:00:00'")
    for page in (p for p in extra_web.rglob("*") if p.is_file() and p.name != "robots.txt"
                 and not p.name.endswith(".headers")):
        sidecar = page.with_name(page.name + ".headers")
        sidecar.write_text((sidecar.read_text() if sidecar.exists() else "") + "Delay: 0.5\n")
    before = _count(archive, "SELECT count(*) FROM fetches")
    with MirrorServer(extra_web) as server:
        process = recrawl(archive, "--no-discover", "-s", "ARCHIVE_BATCH_SIZE=1", "-s", "CITED_FOLLOW=False",
                          "-s", "CONCURRENT_REQUESTS=1",
                          mirror_url=server.url, wait=False)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _count(archive, "SELECT count(*) FROM fetches") < before + 2:
            time.sleep(0.1)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert before + 2 <= _count(archive, "SELECT count(*) FROM fetches") < before + 6  # killed mid-run
        assert_database_whole(archive)  # no half-written version: every version has the fetch that made it
        result = recrawl(archive, "--no-discover", mirror_url=server.url)
    assert result.returncode == 0, result.stderr[-2000:]
    assert_archive_whole(archive, tmp_path / "warc")  # and every fetch's raw capture reads back
    assert_warc_files_pass_warcio_check(tmp_path / "warc")
    statuses = [r[0] for r in query(archive, "SELECT status FROM crawl_runs ORDER BY id")]
    assert statuses == ["finished", "interrupted", "finished"]
    # the articles the killed run did not reach were still due, and the next run revisited them
    assert _count(archive, "SELECT count(*) FROM articles WHERE next_visit_at < '2001-01-01'") == 0


def _count(archive, sql):
    if not archive.exists():
        return 0
    try:
        with sqlite3.connect(archive, timeout=5) as db:
            return db.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_robots_disallow_and_crawl_delay_are_obeyed(extra_web, tmp_path):
    (extra_web / "znews.vn" / "robots.txt").write_text(
        "User-agent: *\nCrawl-delay: 2\nDisallow: /private/\n", encoding="utf-8")
    private = extra_web / "znews.vn" / "private"
    private.mkdir()
    (private / "bi-mat-post1.html").write_bytes((extra_web / "znews.vn" / ZNEWS.rsplit("/", 1)[1]).read_bytes())
    archive = tmp_path / "archive.db"
    urls = [ZNEWS, "https://znews.vn/private/bi-mat-post1.html", "https://znews.vn/khong-co-post2.html"]
    with MirrorServer(extra_web) as server:
        run_crawl(server.url, archive, "-a", "urls=" + ",".join(urls))
    rows = {r["url"]: dict(r) for r in query(archive, "SELECT * FROM fetches")}
    assert rows[urls[1]]["outcome"] == "skipped" and "robots.txt" in rows[urls[1]]["error"]
    times = sorted(r["fetched_at"] for u, r in rows.items() if u != urls[1])
    from datetime import datetime
    gap = datetime.fromisoformat(times[1]) - datetime.fromisoformat(times[0])
    assert gap.total_seconds() >= 1.5  # Crawl-delay: 2 (Scrapy alone would not wait)


def test_retry_after_is_honoured_before_retrying(extra_web, tmp_path):
    page = extra_web / "znews.vn" / ZNEWS.rsplit("/", 1)[1]
    page.with_name(page.name + ".headers").write_text("Status: 503\nRetry-After: 2\n", encoding="utf-8")
    archive = tmp_path / "archive.db"
    with MirrorServer(extra_web) as server:
        started = time.monotonic()
        result = run_crawl(server.url, archive, "-a", f"urls={ZNEWS}", "-s", "RETRY_TIMES=1", check=False)
        elapsed = time.monotonic() - started
    assert "HTTP 503" in result.stderr and "waiting 2.0 s" in result.stderr
    assert result.returncode == 1  # its only request failed: the run failed
    assert elapsed >= 2
    (fetch,) = query(archive, "SELECT outcome, http_status FROM fetches")
    assert tuple(fetch) == ("error", 503)


def test_recrawl_discovers_then_a_second_run_fetches_nothing_not_due(tmp_path):
    archive = tmp_path / "archive.db"
    first = recrawl(archive, "--since", "2025-06-01")
    assert first.returncode == 0, first.stderr[-3000:]
    runs = query(archive, "SELECT spider, status FROM crawl_runs ORDER BY id")
    assert [tuple(r) for r in runs] == [("feeds", "finished"), ("sitemaps", "finished"),
                                        ("listings", "finished"), ("revisit", "finished")]
    articles = query(archive, "SELECT count(*) FROM articles")[0][0]
    assert articles >= 10
    assert "crawl run 1 (feeds) finished" in first.stderr  # the end-of-run summary
    assert query(archive, "SELECT count(*) FROM articles WHERE next_visit_at IS NULL")[0][0] == 0
    second = recrawl(archive, "--since", "2025-06-01")
    assert second.returncode == 0
    fetched_again = query(archive, "SELECT count(*) FROM fetches WHERE crawl_run_id > 4 AND article_id IS NOT NULL")
    assert fetched_again[0][0] == 0  # known articles wait for their schedule


def test_a_killed_crawl_leaves_no_writer_process_behind(tmp_path):
    process = recrawl(tmp_path / "archive.db", "--no-revisit", wait=False)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list((tmp_path / "warc").glob("*.open")):
        time.sleep(0.05)  # the writer process has written its first records
    children = _children(process.pid)
    assert children and list((tmp_path / "warc").glob("*.open")), "the WARC writer process did not start"
    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in children):
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in children)


def _children(pid: int) -> list[int]:
    path = f"/proc/{pid}/task/{pid}/children"
    return [int(c) for c in open(path).read().split()] if os.path.exists(path) else []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
