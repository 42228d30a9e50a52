"""Several writers in one WARC directory (issue 9 item 2): a starting writer repairs only
the files of writers that are gone, never a live one's; a writer keeps its records where
it said they are even when its file is renamed under it; and two ``scrapy crawl`` plus an
``archive recrawl`` on one archive at once lose no raw capture."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.fakeweb import generate_web
from crawler.mirror import BUNDLED_WEB, MirrorServer
from crawler.warc import Exchange, WarcWriter
from crawler.warc.reader import read_record
from tests.conftest import PROJECT_ROOT, query
from tests.test_crash import (
    assert_archive_whole, assert_raw_captures_resolve, assert_warc_files_pass_warcio_check, crawl_command,
    start_crawl,
)


def exchange(n: int) -> Exchange:
    return Exchange(f"https://znews.vn/p{n}-post{n}.html", "GET", [], 200, [("Content-Type", "text/html")],
                    f"<p>page {n}</p>".encode() * 200)


def assert_readable(directory: Path, refs) -> None:  # noqa: ANN001
    for ref in refs:
        headers, _, _ = read_record(directory, ref.filename, ref.offset)
        assert headers.get_header("WARC-Record-ID") == ref.record_id


def test_a_starting_writer_leaves_a_live_writers_file_alone(tmp_path):
    live = WarcWriter(tmp_path)
    before = [live.write_exchange(exchange(n)) for n in range(3)]
    (open_file,) = tmp_path.glob("*.open")
    second = WarcWriter(tmp_path)  # a second crawl starts: repairs what it finds
    assert open_file.exists()  # still the live writer's, still open
    after = [live.write_exchange(exchange(n)) for n in range(3, 6)]  # [Errno 2] before issue 9
    theirs = second.write_exchange(exchange(99))
    live.close(), second.close()
    assert_readable(tmp_path, [*before, *after, theirs])
    assert_warc_files_pass_warcio_check(tmp_path)


WRITE_THEN_WAIT = """
import sys, time
from crawler.warc import Exchange, WarcWriter
writer = WarcWriter(sys.argv[1])
writer.write_exchange(Exchange("https://znews.vn/a-post1.html", "GET", [], 200, [], b"<p>a</p>"))
print("written", flush=True)
time.sleep(600)
"""


def test_a_dead_writers_file_is_repaired_and_the_log_names_its_pid(tmp_path, caplog):
    writer = subprocess.Popen([sys.executable, "-c", WRITE_THEN_WAIT, str(tmp_path)], cwd=PROJECT_ROOT,
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline() == "written\n"
    WarcWriter(tmp_path).close()
    assert len(list(tmp_path.glob("*.open"))) == 1  # alive: left alone
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    with caplog.at_level(logging.WARNING, logger="crawler.warc.repair"):
        WarcWriter(tmp_path).close()
    assert not list(tmp_path.glob("*.open"))
    assert f"left open by pid {writer.pid}, which is gone" in caplog.text
    assert_warc_files_pass_warcio_check(tmp_path)


HOLD_OPEN_WITHOUT_LOCK = """
import os, sys, time
path = os.path.join(sys.argv[1], f"news-archive-20250701000000000000-00001-{os.getpid()}.warc.gz.open")
handle = open(path, "ab")
print("open", flush=True)
time.sleep(600)
"""


def test_a_file_its_named_writer_holds_open_is_left_alone_even_unlocked(tmp_path):
    """A writer that takes no lock (this crawler before issue 9, during an upgrade): the
    pid in the file's name still has it open, so it is not repaired under it."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_OPEN_WITHOUT_LOCK, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "open\n"
        WarcWriter(tmp_path).close()
        assert len(list(tmp_path.glob("*.open"))) == 1
    finally:
        holder.kill()
        holder.wait()


def test_a_writer_does_not_depend_on_its_file_keeping_its_name(tmp_path):
    """Renamed under it (as a writer that ignores locks would "repair" it), a writer still
    writes whole records into its file, at the offsets it reports, and closes cleanly."""
    writer = WarcWriter(tmp_path)
    refs = [writer.write_exchange(exchange(n)) for n in range(2)]
    (open_file,) = tmp_path.glob("*.open")
    open_file.rename(open_file.with_name(open_file.name.removesuffix(".open")))
    refs += [writer.write_exchange(exchange(n)) for n in range(2, 4)]
    writer.close()
    assert_readable(tmp_path, refs)
    assert_warc_files_pass_warcio_check(tmp_path)


def recrawl(archive: Path, mirror_url: str, log: Path) -> subprocess.Popen:
    # znews's bundled listing links to pages the bundled web does not hold (404s): not this test's subject
    command = [sys.executable, "-m", "crawler.cli", "--archive", f"sqlite:///{archive}", "recrawl",
               "-s", f"MIRROR_URL={mirror_url}", "-s", "AUTOTHROTTLE_ENABLED=False", "--since", "2025-06-01",
               "--sources", "dantri,developpez,01net,vietnamvn"]
    env = {k: v for k, v in os.environ.items() if k != "ARCHIVE_URL"}
    return subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(log, "w"))  # noqa: SIM115


def wait_for_a_new_writer(warc_dir: Path, seen: set[Path], crawl: subprocess.Popen) -> None:
    """Until a writer not among ``seen`` has opened its file (so it has repaired what it found)."""
    deadline = time.monotonic() + 120
    while not set(warc_dir.glob("*.open")) - seen and time.monotonic() < deadline:
        assert crawl.poll() is None, "the crawl ended before its writer started"
        time.sleep(0.05)
    seen.update(warc_dir.glob("*.open"))


def test_two_crawls_and_a_recrawl_at_once_lose_no_raw_capture(tmp_path):
    web = tmp_path / "web"
    shutil.copytree(BUNDLED_WEB, web)  # the bundled feeds and sitemaps for the recrawl's discovery
    urls = generate_web(web, 160)
    archive, warc_dir = tmp_path / "archive.db", tmp_path / "warc"
    slow = ("-s", "DOWNLOAD_DELAY=0.4")  # long enough that each writer starts while the others write
    with MirrorServer(web) as server:
        writers: set[Path] = set()
        first = start_crawl(crawl_command(server.url, archive, urls[:80], *slow), tmp_path / "first.log")
        wait_for_a_new_writer(warc_dir, writers, first)
        second = start_crawl(crawl_command(server.url, archive, urls[80:], *slow), tmp_path / "second.log")
        wait_for_a_new_writer(warc_dir, writers, second)
        assert first.poll() is None  # the first crawl is still writing when the second writer starts
        third = recrawl(archive, server.url, tmp_path / "recrawl.log")
        codes = [process.wait(timeout=600) for process in (first, second, third)]
    logs = {name: (tmp_path / f"{name}.log").read_text() for name in ("first", "second", "recrawl")}
    assert codes == [0, 0, 0], {name: log[-3000:] for name, log in logs.items()}
    for name, log in logs.items():
        assert "warc/write_failed" not in log and " ERROR: " not in log, (name, log[-3000:])
    assert not query(archive, "SELECT url, error FROM fetches WHERE outcome = 'error'")
    assert query(archive, "SELECT count(*) FROM articles")[0][0] > 160  # and the recrawl found bundled ones
    assert assert_raw_captures_resolve(archive, warc_dir) == query(archive, "SELECT count(*) FROM fetches")[0][0]
    assert_archive_whole(archive, warc_dir)
    assert_warc_files_pass_warcio_check(warc_dir)
