"""Scrapy's own interfaces work (issue 9, item 6): what leaves the pipelines is the
archived record as plain data, so `scrapy crawl … -O out.jsonl|csv|json|xml` writes what
a user expects, and the batching of the archive is kept."""

from __future__ import annotations

import asyncio
import csv
import json
import xml.etree.ElementTree as ElementTree
from collections import deque
from dataclasses import fields
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from scrapy.utils.project import get_project_settings
from scrapy.utils.test import get_crawler

from crawler.archive.records import FetchRecord
from crawler.archive.sources import sync_sources
from crawler.archive.store import Archive
from crawler.archive.visits import record_fetches
from crawler.items import ArchivedVisit, PageItem
from crawler.pipelines.archive import ArchivePipeline
from crawler.sources import load_sources
from tests.conftest import expected_pages, query, run_crawl
from tests.test_cli import ZNEWS

FIELDS = [f.name for f in fields(ArchivedVisit)]
PAGES = expected_pages()
MISSING = "https://znews.vn/khong-con-nua-post1.html"  # the mirror answers 404
ARTICLE_FIELDS = ("title", "authors", "published_at", "modified_at", "language", "section", "tags", "summary",
                  "text", "cited_url")


def instant(value: str | None) -> datetime | None:
    """An ISO 8601 string (ours) or SQLite's stored UTC text, as an aware datetime."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def feeds(mirror, tmp_path_factory):
    """One crawl of every bundled article and a 404, exported in the four formats."""
    folder = tmp_path_factory.mktemp("feeds")
    urls = ",".join([p["url"] for p in PAGES] + [MISSING])
    result = run_crawl(mirror.url, folder / "archive.db", "-a", f"urls={urls}",
                       *(arg for fmt in ("jsonl", "csv", "json", "xml") for arg in ("-O", str(folder / f"out.{fmt}"))))
    return folder, result


def test_jsonl_feed_is_the_archived_record_field_by_field(feeds):
    folder, result = feeds
    assert "TypeError" not in result.stderr and "Error processing" not in result.stderr
    records = [json.loads(line) for line in (folder / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(records) == len(PAGES) + 1
    archive = folder / "archive.db"
    for record in records:
        assert list(record) == FIELDS
        (fetch,) = query(archive, "SELECT * FROM fetches WHERE url = ?", record["url"])
        assert (record["outcome"], record["http_status"], record["error"]) == \
            (fetch["outcome"], fetch["http_status"], fetch["error"])
        assert instant(record["fetched_at"]) == instant(fetch["fetched_at"])
        assert "+00:00" in record["fetched_at"]  # ISO 8601, UTC said
        if record["outcome"] == "error":
            assert record["url"] == MISSING and record["http_status"] == 404 and "HTTP 404" in record["error"]
            assert record["version"] is None and record["title"] is None and record["authors"] == []
            continue
        (version,) = query(archive, "SELECT * FROM latest_versions WHERE version_id = ?", fetch["version_id"])
        assert record["outcome"] == "new" and record["version"] == version["version"] == 1
        assert record["article_url"] == version["url"] and record["source"] == version["source"]
        for name in ("title", "language", "section", "summary", "text", "cited_url"):
            assert record[name] == version[name], name
        for name in ("authors", "tags"):
            assert record[name] == json.loads(version[name]), name
        for name in ("published_at", "modified_at"):
            assert instant(record[name]) == instant(version[name]), name
        assert "<" not in record["text"] and "Future" not in json.dumps(record)
    page = next(p for p in PAGES if p["url"] == ZNEWS.url)
    (znews,) = [r for r in records if r["url"] == ZNEWS.url]
    assert znews["authors"] == page["authors"] and znews["tags"] == page["tags"]
    assert znews["published_at"] == page["published_at"]


def test_csv_feed_has_one_column_per_field_and_joined_lists(feeds):
    folder, _ = feeds
    jsonl = [json.loads(line) for line in (folder / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    with open(folder / "out.csv", encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == FIELDS
        rows = list(reader)
    assert len(rows) == len(jsonl)
    for row, record in zip(rows, jsonl):
        for name in FIELDS:
            value = record[name]
            expected = ",".join(value) if isinstance(value, list) else "" if value is None else str(value)
            assert row[name] == expected, name  # Scrapy's CsvItemExporter joins lists with ","
        assert "[" not in row["authors"] and "datetime" not in row["fetched_at"] and "Article(" not in str(row)


def test_json_and_xml_feeds_carry_the_same_records(feeds):
    folder, _ = feeds
    jsonl = [json.loads(line) for line in (folder / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert json.loads((folder / "out.json").read_text(encoding="utf-8")) == jsonl
    items = ElementTree.parse(folder / "out.xml").getroot().findall("item")
    assert len(items) == len(jsonl)
    for item, record in zip(items, jsonl):
        assert item.findtext("url") == record["url"] and item.findtext("outcome") == record["outcome"]
        assert [v.text for v in item.find("authors").findall("value")] == record["authors"]


def test_a_recrawl_exports_visits_that_extracted_nothing_without_article_fields(mirror, tmp_path):
    archive = tmp_path / "archive.db"
    run_crawl(mirror.url, archive, "-a", f"urls={ZNEWS.url}")
    run_crawl(mirror.url, archive, "-a", f"urls={ZNEWS.url}", "-O", str(tmp_path / "again.jsonl"))
    (record,) = [json.loads(line) for line in (tmp_path / "again.jsonl").read_text(encoding="utf-8").splitlines()]
    assert record["outcome"] in ("unchanged", "not_modified") and record["http_status"] in (200, 304)
    assert all(record[name] in (None, []) for name in ARTICLE_FIELDS)


def test_discovery_spiders_export_only_their_visits(mirror, tmp_path):
    archive = tmp_path / "archive.db"
    result = run_crawl(mirror.url, archive, "-O", str(tmp_path / "out.csv"), spider="feeds")
    with open(tmp_path / "out.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and {row["outcome"] for row in rows} == {"new"}
    assert len(rows) == query(archive, "SELECT count(*) FROM fetches WHERE article_id IS NOT NULL")[0][0]
    assert query(archive, "SELECT count(*) FROM discoveries")[0][0] > len(rows) / 2  # stored, just not exported
    assert "Dropped" not in result.stderr  # dropped from the feed at DEBUG, not a warning per discovery


def test_a_page_item_never_shows_its_html():
    item = PageItem(url=ZNEWS.url, source="znews", fetched_at=datetime.now(timezone.utc),
                    html="<html><body><div class='the-article-body'>secret</div></body></html>")
    assert "<html" not in repr(item) and "secret" not in repr(item) and ZNEWS.url in repr(item)


# -- batching: a size OR a short timer --------------------------------------------------


def batching_pipeline(tmp_path, monkeypatch, size: int, wait: float) -> tuple[ArchivePipeline, list[int]]:
    """An archive pipeline on its own archive, outside a crawl; ``batches`` gets each batch's size."""
    settings = get_project_settings().copy_to_dict()
    settings.update(TWISTED_REACTOR_ENABLED=False, ARCHIVE_BATCH_SIZE=size, ARCHIVE_BATCH_WAIT=wait)
    pipeline = ArchivePipeline.from_crawler(get_crawler(settings_dict=settings))
    pipeline.archive = Archive.open(f"sqlite:///{tmp_path / 'archive.db'}")
    sync_sources(pipeline.archive.engine, load_sources().values())
    batches = []
    monkeypatch.setattr("crawler.pipelines.archive.record_fetches",
                        lambda archive, records: batches.append(len(records)) or record_fetches(archive, records))
    return pipeline, batches


def gone_items(count: int) -> list[PageItem]:
    t0 = datetime(2025, 7, 2, tzinfo=timezone.utc)
    return [PageItem(url=f"https://znews.vn/gone-post{i}.html", source="znews", fetched_at=t0 + timedelta(minutes=i),
                     http_status=404, outcome="error", error="HTTP 404") for i in range(count)]


def process_all(pipeline: ArchivePipeline, items: list[PageItem]) -> list[ArchivedVisit]:
    async def process():
        # a guard against a hang (an item never released), not a timing assertion
        return await asyncio.wait_for(asyncio.gather(*(pipeline.process_item(item) for item in items)), 60)

    try:
        return asyncio.run(process())
    finally:
        pipeline.archive.close()


def test_items_wait_for_their_batch_which_is_written_when_full_or_when_its_time_is_up(tmp_path, monkeypatch):
    pipeline, batches = batching_pipeline(tmp_path, monkeypatch, size=2, wait=0.05)
    items = gone_items(5)
    visits = process_all(pipeline, items)
    assert batches == [2, 2, 1]  # two full batches, then the last item's, by the timer
    assert [v.url for v in visits] == [i.url for i in items] and {v.outcome for v in visits} == {"error"}
    assert all(isinstance(v, ArchivedVisit) for v in visits)


class Engine:
    """The parts of Scrapy's engine its idle test reads, as the archive pipeline reads them."""

    def __init__(self, downloading: int, scraping: int, pending: bool | Exception):
        self.downloader = SimpleNamespace(active={object() for _ in range(downloading)})
        self.scraper = SimpleNamespace(slot=SimpleNamespace(queue=deque(), active={object() for _ in range(scraping)}))
        self._start = None
        self._slot = SimpleNamespace(scheduler=SimpleNamespace(has_pending_requests=lambda: self.answer(pending)))

    @staticmethod
    def answer(pending: bool | Exception) -> bool:
        if isinstance(pending, Exception):
            raise pending
        return pending


@pytest.mark.parametrize(("engine", "expected"), [
    (Engine(downloading=0, scraping=3, pending=False), ([3], "quiet")),  # the crawl's last three pages
    (Engine(downloading=1, scraping=3, pending=False), ([3], "timer")),  # a page on its way
    (Engine(downloading=0, scraping=4, pending=False), ([3], "timer")),  # a fourth being extracted
    (Engine(downloading=0, scraping=3, pending=True), ([3], "timer")),  # requests to come
    (Engine(downloading=0, scraping=3, pending=ConnectionError("frontier")), ([3], "timer")),  # no answer: wait
])
def test_the_last_pages_of_a_crawl_are_stored_at_once_not_when_their_batch_times_out(tmp_path, monkeypatch, engine,
                                                                                    expected):
    pipeline, batches = batching_pipeline(tmp_path, monkeypatch, size=50, wait=0.2)
    pipeline.engine = engine
    process_all(pipeline, gone_items(3))
    how = [key for key in pipeline.crawler.stats.get_stats() if key.startswith("archive/batches/")]
    assert (batches, how) == (expected[0], [f"archive/batches/{expected[1]}"])


def test_a_batch_is_stored_once_the_requests_pending_at_its_last_item_are_gone(tmp_path, monkeypatch):
    """The crawl's last pages arrive while requests are still pending (on a shared frontier,
    queued, then taken by the other processes); once none are, the batch is stored at once,
    not when its hour is up: the pipeline keeps looking while a batch waits."""
    pipeline, batches = batching_pipeline(tmp_path, monkeypatch, size=50, wait=3600)
    pending = [True]
    engine = pipeline.engine = Engine(downloading=0, scraping=3, pending=False)
    engine._slot.scheduler.has_pending_requests = lambda: pending[0]

    async def crawl():
        items = asyncio.gather(*(pipeline.process_item(item) for item in gone_items(3)))
        await asyncio.sleep(0.2)
        assert batches == []  # still pending: the batch waits
        pending[0] = False  # the other processes took the rest of the queue
        return await asyncio.wait_for(items, 60)  # a guard against the hour-long wait, not a timing assertion

    try:
        asyncio.run(crawl())
    finally:
        pipeline.archive.close()
    assert batches == [3] and pipeline.crawler.stats.get_value("archive/batches/quiet") == 1


class SlowWriter:
    """The writer thread, as seen from the reactor: a batch takes a while to be written."""

    async def run(self, function, *args):
        await asyncio.sleep(0.05)
        return function(*args)


def test_the_last_page_arriving_while_the_batch_before_it_is_written_is_stored_at_once(tmp_path, monkeypatch):
    """Three pages being scraped, batches of two: the third arrives while the first two are
    being written. Nothing is left to fetch, so it is stored at once, not after the hour."""
    pipeline, batches = batching_pipeline(tmp_path, monkeypatch, size=2, wait=3600)
    pipeline.writer = SlowWriter()
    engine = pipeline.engine = Engine(downloading=0, scraping=0, pending=False)
    items = gone_items(3)

    async def scrape(item):  # a page is in the scraper's slot until its item is through the pipeline
        token = object()
        engine.scraper.slot.active.add(token)
        await asyncio.sleep(0)
        try:
            return await pipeline.process_item(item)
        finally:
            engine.scraper.slot.active.discard(token)

    async def crawl():  # the guard is against the hour-long wait, not a timing assertion
        return await asyncio.wait_for(asyncio.gather(*(scrape(item) for item in items)), 60)

    try:
        asyncio.run(crawl())
    finally:
        pipeline.archive.close()
    stats = pipeline.crawler.stats
    assert batches == [2, 1]
    assert (stats.get_value("archive/batches/full"), stats.get_value("archive/batches/quiet")) == (1, 1)


def test_a_failed_request_that_was_the_last_download_is_stored_at_once(tmp_path, monkeypatch):
    pipeline, batches = batching_pipeline(tmp_path, monkeypatch, size=50, wait=3600)
    pipeline.engine = Engine(downloading=1, scraping=0, pending=False)  # the failed request itself

    async def fail():
        pipeline.request_failed(FetchRecord(url=MISSING, source="znews", fetched_at=datetime.now(timezone.utc),
                                            http_status=500, outcome="error", error="HTTP 500"), None)
        await asyncio.wait_for(asyncio.gather(*pipeline.timed_flushes), 60)  # a guard against a one-hour wait

    try:
        asyncio.run(fail())
    finally:
        pipeline.archive.close()
    assert batches == [1] and pipeline.crawler.stats.get_value("archive/batches/quiet") == 1


def test_a_crawl_stores_its_last_batch_once_nothing_is_left_to_fetch(mirror, tmp_path):
    """A batch that waits an hour for pages: the crawl still ends at once, its last pages
    stored when nothing was left to fetch (without, ``run_crawl`` times out). A real crawl
    pins what the pipeline reads of Scrapy's engine (its idle test, which Scrapy does not
    offer less the scraper)."""
    archive = tmp_path / "archive.db"
    urls = ",".join([p["url"] for p in PAGES] + [MISSING])
    run_crawl(mirror.url, archive, "-a", f"urls={urls}", "-s", "ARCHIVE_BATCH_WAIT=3600",
              "-s", "ARCHIVE_BATCH_SIZE=1000")
    (run,) = query(archive, "SELECT stats FROM crawl_runs")
    batches = {k: v for k, v in json.loads(run["stats"]).items() if k.startswith("archive/batches/")}
    assert set(batches) == {"archive/batches/quiet"}, batches
    assert query(archive, "SELECT count(*) FROM fetches WHERE url != ?", MISSING)[0][0] >= len(PAGES)
