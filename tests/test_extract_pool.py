"""Extraction in worker processes (issue 11, scope 4): the same results as inline, a dead
worker costs only its page, and no worker outlives its crawl."""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crawler.extract.pool import ExtractPool, WorkerDied, extract_page
from crawler.sources import load_sources
from tests.conftest import generated_mirror, query, run_crawl
from tests.test_crash import children, count_rows, crawl_command, start_crawl, wait_gone

PAGES_DIR = Path(__file__).resolve().parent / "pages"
SOURCES = load_sources()
KILL = "https://znews.vn/kill-the-worker.html"


def extract_or_die(html, url, rules, short_rule=True):
    """What a worker runs in the dead-worker test: dies (as if SIGKILLed) on KILL."""
    if url == KILL:
        os.kill(os.getpid(), signal.SIGKILL)
    return extract_page(html, url, rules, short_rule)


def saved_pages() -> list[tuple[str, str, str]]:
    """(html, url, source) of every page in tests/pages."""
    cases = json.loads((PAGES_DIR / "variants.json").read_text(encoding="utf-8"))
    return [((PAGES_DIR / c["file"]).read_text(encoding="utf-8"), c["url"], c["source"]) for c in cases]


def extract_all(pool: ExtractPool, pages: list[tuple[str, str, str]]) -> list:
    """Every page's Extraction (or exception), once the pool's workers are up: until they
    are, pages are extracted inline."""
    async def run():
        try:
            html, url, source = pages[0]
            await pool.extract(html, "https://znews.vn/warm.html", SOURCES[source].rules)  # starts the workers
            while not all(worker.warming.done() for worker in pool.workers):
                await asyncio.sleep(0.05)
            return await asyncio.gather(*(pool.extract(html, url, SOURCES[source].rules) for html, url, source in pages),
                                        return_exceptions=True)
        finally:
            pool.close()
    return asyncio.run(run())


def spawned_children(pid: int) -> list[int]:
    """The crawl's multiprocessing children: its extraction workers and its WARC writer."""
    found = []
    for child in children(pid):
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
        except FileNotFoundError:
            pass
    return found


def wait_for(condition, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert condition()


def test_extraction_rules_pickle_unchanged():
    """A worker gets each page's rules by pickle: they must arrive as they left."""
    for source in SOURCES.values():
        assert pickle.loads(pickle.dumps(source.rules)) == source.rules


def test_workers_extract_what_the_crawl_process_extracts():
    pages = saved_pages()
    inline, pooled = extract_all(ExtractPool(0), pages), extract_all(ExtractPool(2), pages)
    assert all(r.article is not None for r in inline)
    assert pooled == inline


def test_a_worker_that_dies_costs_only_its_page():
    """One worker: the page it was on is WorkerDied; the pages queued behind it and after
    it are extracted by its replacement."""
    html, url, source = saved_pages()[0]
    pages = [(html, url, source), (html, KILL, source), (html, url, source), (html, url, source)]
    results = extract_all(ExtractPool(1, function=extract_or_die), pages)
    assert isinstance(results[1], WorkerDied)
    assert all(r.article is not None for i, r in enumerate(results) if i != 1)


def test_no_worker_for_inline_extraction():
    pool = ExtractPool(0)
    extract_all(pool, saved_pages()[:1])
    assert pool.workers == []


def test_a_bundled_crawl_stores_the_same_versions_with_workers_or_inline(crawled_archive, mirror, tmp_path):
    inline = tmp_path / "inline.db"
    run_crawl(mirror.url, inline, "-s", "EXTRACT_WORKERS=0")
    columns = "a.url, v.version, v.title, v.authors, v.published_at, v.modified_at, v.language, v.section, " \
              "v.tags, v.summary, v.text, v.cited_url, v.content_hash, v.simhash, v.extractor_version"
    versions = f"SELECT {columns} FROM article_versions v JOIN articles a ON a.id = v.article_id ORDER BY a.url, v.version"
    fetches = "SELECT url, http_status, outcome, error FROM fetches ORDER BY url"
    for sql in (versions, fetches):
        assert [tuple(r) for r in query(inline, sql)] == [tuple(r) for r in query(crawled_archive, sql)]
    assert query(inline, "SELECT count(*) FROM article_versions")[0][0] > 0


def test_a_recrawl_that_extracts_nothing_starts_no_worker(crawled_archive, mirror, tmp_path):
    archive = tmp_path / "archive.db"
    shutil.copy(crawled_archive, archive)
    result = run_crawl(mirror.url, archive)
    assert "worker process(es)" not in result.stderr
    this_run = "crawl_run_id = (SELECT max(id) FROM crawl_runs)"
    assert query(archive, f"SELECT count(*) FROM fetches WHERE {this_run}")[0][0] > 0
    assert query(archive, f"SELECT count(*) FROM fetches WHERE {this_run} AND outcome IN ('new', 'changed')")[0][0] == 0


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    with generated_mirror(tmp_path_factory.mktemp("poolweb"), 120) as served:
        yield served


def test_a_worker_killed_mid_crawl_is_replaced(generated, tmp_path):
    """kill -9 of an extraction worker: the crawl finishes, every visit is a row, and only
    the page that worker was on (if any: it may have been between pages) is an error."""
    server, urls = generated
    archive = tmp_path / "archive.db"
    crawl = start_crawl(crawl_command(server.url, archive, urls, "-s", "EXTRACT_WORKERS=2", "-s", "WARC_ENABLED=False",
                                      "-s", "DOWNLOAD_DELAY=0.05", "-s", "ARCHIVE_BATCH_SIZE=5"), tmp_path / "crawl.log")
    wait_for(lambda: len(spawned_children(crawl.pid)) == 2 and count_rows(archive, "fetches") >= 10)
    os.kill(spawned_children(crawl.pid)[0], signal.SIGKILL)
    crawl.wait(timeout=300)
    log = (tmp_path / "crawl.log").read_text()
    assert crawl.returncode == 0 and "Spider closed (finished)" in log and "Traceback" not in log
    assert log.count("extract: a worker process died; starting another") == 1
    outcomes = dict(query(archive, "SELECT outcome, count(*) FROM fetches GROUP BY outcome"))
    assert sum(outcomes.values()) == len(urls) and outcomes.get("error", 0) <= 1
    for error in query(archive, "SELECT url, error FROM fetches WHERE outcome = 'error'"):
        assert error["error"].startswith(error["url"]) and "worker died" in error["error"]
        assert "\n" not in error["error"]


def test_the_workers_exit_with_a_crawl_killed_with_kill_9(generated, tmp_path):
    server, urls = generated
    archive = tmp_path / "archive.db"
    crawl = start_crawl(crawl_command(server.url, archive, urls, "-s", "EXTRACT_WORKERS=2", "-s", "DOWNLOAD_DELAY=0.2"),
                        tmp_path / "crawl.log")
    wait_for(lambda: len(spawned_children(crawl.pid)) == 3)  # the WARC writer and two workers
    spawned = spawned_children(crawl.pid)
    assert crawl.poll() is None
    os.kill(crawl.pid, signal.SIGKILL)  # the crawl alone: its children must notice
    crawl.wait(timeout=30)
    wait_gone(spawned)


SCRIPT_MAIN = """
import multiprocessing, sys
from concurrent.futures import ProcessPoolExecutor
import scrapy.cmdline  # what the `scrapy` console script's top does
from crawler.spawn import spawn_context
from probe import scrapy_loaded

if __name__ == "__main__":
    for context in (multiprocessing.get_context("spawn"), spawn_context()):
        with ProcessPoolExecutor(1, mp_context=context) as executor:
            print(executor.submit(scrapy_loaded).result())
    print(__spec__, __file__ == sys.argv[0])
"""


def test_helper_processes_do_not_rerun_the_scrapy_script(tmp_path):
    """Spawned as the `scrapy` console script (README, cron), a plain spawn child re-runs that
    script and imports all of Scrapy (the control line: Python's behaviour, pinned); the
    extraction workers' and WARC writer's context does not, and leaves __main__ as it was."""
    (tmp_path / "probe.py").write_text("import sys\n\ndef scrapy_loaded():\n    return 'scrapy' in sys.modules\n")
    script = tmp_path / "crawl_script.py"
    script.write_text(SCRIPT_MAIN)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(Path(__file__).resolve().parents[1])])}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["True", "False", "None True"]
