"""Re-derive articles from the archived raw web, without the network.

``rebuild`` replays every archived visit, in order, into another archive: with the
same extractor it reproduces the same versions (the test of a faithful archive).
``reextract`` runs the current extractor and rules over each article's newest capture
and records a different result as a version with ``cause = 'reextract'``: the
extractor changed, not the site.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable, Iterator

from scrapy.http import Headers, HtmlResponse
from sqlalchemy import select

from .archive.models import ArticleRow, CrawlRun, Fetch, SourceRow
from .archive.records import FetchRecord
from .archive.runs import finish_run, start_run
from .archive.sources import sync_sources
from .archive.store import Archive
from .archive.visits import record_fetch, save_reextraction
from .extract import NotAnArticle, extract_article, extract_short_article
from .extract.pool import ExtractPool, WorkerDied
from .sources import source_for_url
from .warc.locate import WarcPlaces
from .warc.reader import read_payload, read_record

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Capture:
    """A fetch whose WARC record holds (or refers to) a page body."""

    fetch: Fetch
    source: str | None
    filename: str
    offset: int
    directory: Path | None = None  # where ``filename`` is (crawler/warc/locate.py)


def page_text(capture: Capture) -> tuple[str, str]:
    """(decoded HTML, URL) of a capture, decoded as the crawl decoded it (Scrapy's rules:
    HTTP charset, BOM, meta tag, with ISO-8859-1 read as cp1252)."""
    headers, body = read_payload(capture.directory, capture.filename, capture.offset)
    response = HtmlResponse(capture.fetch.url, body=body, headers=Headers(headers))
    return response.text, capture.fetch.url


def places_of(archive: Archive) -> WarcPlaces:
    """The archive's WARC directory as the default; the runs' own directories tried first."""
    return WarcPlaces(archive.warc_dir)


def captures(archive: Archive, source: str | None = None, since: datetime | None = None,
             places: WarcPlaces | None = None) -> Iterator[Capture]:
    """Every fetch with a WARC record, oldest first, revisits resolved to their original,
    each with the directory its file is in (WarcFileMissing, naming where it looked, when none)."""
    places = places or places_of(archive)
    run_dirs = _run_dirs(archive)
    with archive.session() as session:
        originals = dict(session.execute(select(Fetch.warc_record_id, Fetch.id)
                                         .where(Fetch.warc_record_type == "response")).all())
        query = (select(Fetch, SourceRow.name).outerjoin(ArticleRow, ArticleRow.id == Fetch.article_id)
                 .outerjoin(SourceRow, SourceRow.id == ArticleRow.source_id)
                 .where(Fetch.warc_filename.is_not(None)).order_by(Fetch.id))
        if since is not None:
            query = query.where(Fetch.fetched_at >= since)
        if source is not None:
            query = query.where(SourceRow.name == source)
        rows = session.execute(query).all()
        for fetch, source_name in rows:
            held = fetch
            if fetch.warc_record_type == "revisit" and fetch.http_status == 200:
                original_id = _refers_to(places, run_dirs, fetch, originals)
                held = session.get(Fetch, original_id) if original_id else None
            if held is None:
                yield Capture(fetch, source_name, None, None)
                continue
            yield Capture(fetch, source_name, held.warc_filename, held.warc_offset,
                          places.directory(held.warc_filename, run_dirs.get(held.crawl_run_id)))


def _run_dirs(archive: Archive) -> dict[int, str | None]:
    """Where each run wrote its WARC files (crawl_runs.warc_dir)."""
    with archive.session() as session:
        return dict(session.execute(select(CrawlRun.id, CrawlRun.warc_dir)).all())


def _refers_to(places: WarcPlaces, run_dirs: dict[int, str | None], fetch: Fetch,
               originals: dict[str, int]) -> int | None:
    directory = places.directory(fetch.warc_filename, run_dirs.get(fetch.crawl_run_id))
    headers, _, _ = read_record(directory, fetch.warc_filename, fetch.warc_offset)
    return originals.get(headers.get_header("WARC-Refers-To"))


def _untracked(items: Iterable) -> Iterable:
    return items


def rebuild(source: Archive, target: Archive, track: Callable[[Iterable], Iterable] = _untracked,
            places: WarcPlaces | None = None) -> Counter:
    """Replay every archived visit of ``source`` into ``target``; returns outcome counts.
    ``track`` wraps the visits as they are replayed (a progress bar on a terminal);
    ``places``: where ``source``'s WARC files are (default: its runs' directories, then its own)."""
    sync_sources(target.engine, source.sources.values())
    run_id = start_run(target.engine, "rebuild", {"from": source.engine.url.render_as_string(hide_password=True)},
                       warc_dir=target.warc_dir)
    counts: Counter = Counter()
    with source.session() as session:
        fetches = session.scalars(select(Fetch).order_by(Fetch.id)).all()
    places = places or places_of(source)
    by_fetch = {c.fetch.id: c for c in captures(source, places=places)}
    run_dirs = _run_dirs(source)

    def where(fetch: Fetch) -> Path:
        return places.directory(fetch.warc_filename, run_dirs.get(fetch.crawl_run_id))

    for fetch in track(fetches):
        record = _replayed(source, fetch, by_fetch.get(fetch.id), run_id, where)
        counts[record_fetch(target, record)] += 1
    finish_run(target.engine, run_id, "finished", dict(counts))
    return counts


def _replayed(source: Archive, fetch: Fetch, capture: Capture | None, run_id: int,
              where: Callable[[Fetch], Path]) -> FetchRecord:
    site = source_for_url(source.sources, fetch.url)
    base = dict(url=fetch.url, source=site.name if site else "", fetched_at=fetch.fetched_at,
                http_status=fetch.http_status, crawl_run_id=run_id, urls=(fetch.url,), warc=_warc_ref(fetch, where))
    if capture is None or capture.filename is None or fetch.http_status != 200 or site is None:
        return FetchRecord(**base, outcome=fetch.outcome if fetch.outcome != "gone" else "error", error=fetch.error)
    html, url = page_text(capture)
    try:
        return FetchRecord(**base, article=extract_article(html, url, site.rules))
    except NotAnArticle as exc:
        # as a crawl does: a short body the site's selectors found may still be a version
        short = extract_short_article(html, url, site.rules) if exc.body_source == "site" else None
        if short is not None:
            return FetchRecord(**base, article=short, short_body=True)
        return FetchRecord(**base, outcome="skipped", error=f"{url}: {exc}")


def _warc_ref(fetch: Fetch, where: Callable[[Fetch], Path]) -> dict | None:
    """The fetch's WARC columns, with the record's date and digest read back from the file
    (``where`` finds the directory of a fetch's own file)."""
    if not fetch.warc_filename:
        return None
    headers, _, _ = read_record(where(fetch), fetch.warc_filename, fetch.warc_offset)
    return {"filename": fetch.warc_filename, "offset": fetch.warc_offset, "length": fetch.warc_length,
            "record_id": fetch.warc_record_id, "record_type": fetch.warc_record_type,
            "date": headers.get_header("WARC-Date"), "capture_digest": headers.get_header("WARC-Payload-Digest")}


def reextract(archive: Archive, source: str | None = None, since: datetime | None = None,
              workers: int | None = None, track: Callable[[Iterable], Iterable] = _untracked,
              places: WarcPlaces | None = None) -> Counter:
    """Run the current extractor over each article's newest capture, in ``workers``
    processes (None: one per core; 0: this one); a different result becomes a version with
    cause 'reextract'. Returns counts of unchanged / reextracted / failed. ``track`` wraps
    the articles as they are handed to the workers (a progress bar on a terminal)."""
    newest: dict[int, Capture] = {}
    for capture in captures(archive, source, since, places):
        if capture.fetch.article_id and capture.filename and capture.fetch.http_status == 200:
            newest[capture.fetch.article_id] = capture
    return asyncio.run(_reextract_all(archive, newest, ExtractPool(workers), track))


async def _reextract_all(archive: Archive, newest: dict[int, Capture], pool: ExtractPool,
                         track: Callable[[Iterable], Iterable]) -> Counter:
    counts: Counter = Counter()
    running: set[asyncio.Task] = set()
    try:
        for article_id, capture in track(newest.items()):
            if len(running) >= pool.capacity:  # read no page before a worker can take it: memory stays flat
                _, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            running.add(asyncio.create_task(_reextract_one(archive, pool, article_id, capture, counts)))
        await asyncio.gather(*running)
    finally:
        pool.close()
    return counts


async def _reextract_one(archive: Archive, pool: ExtractPool, article_id: int, capture: Capture,
                         counts: Counter) -> None:
    site = source_for_url(archive.sources, capture.fetch.url)
    html, url = page_text(capture)
    try:
        extraction = await pool.extract(html, url, site.rules, short_rule=False)
    except WorkerDied as exc:
        extraction, reason = None, str(exc)
    else:
        reason = extraction.not_article
    if extraction is None or extraction.article is None:
        logger.warning("reextract: %s: %s", url, reason)
        counts["failed"] += 1
        return
    counts[save_reextraction(archive, article_id, extraction.article, capture.fetch.fetched_at)] += 1
