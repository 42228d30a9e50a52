"""What a crawl run did, per source: the report kept in ``crawl_runs.report`` (README "Run reports").

Computed from the run's ``fetches`` (their source, outcome, error and body source) joined to
the versions they created or confirmed, plus what only the crawl knew (its stats: bytes per
source and the slowest downloads, crawler/extensions/traffic.py). Functions over a
connection; ``finish_run`` calls :func:`run_report` in the transaction that ends the run, and
readers (``archive runs``) call :func:`report_of`, which computes the report of a run that
never finished (killed) or ended before migration 0008.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, select

from .models import ArticleVersion, CrawlRun, Fetch, HealthAlarm, SourceRow

# the order outcomes are shown in (README "Run reports")
OUTCOMES = ("new", "changed", "unchanged", "not_modified", "gone", "skipped", "error")
# outcomes whose fetch created or confirmed a version: the page measures are over these
VERSIONED = ("new", "changed", "unchanged", "not_modified")
# outcomes of a visit to an article already archived
REVISITS = ("changed", "unchanged", "not_modified")
NO_SOURCE = "(none)"  # fetches no source covers (never a source name: names are identifiers)
REASONS_KEPT = 10  # error and skip reasons kept per source, most frequent first

PAGES_QUERY = (
    select(SourceRow.name.label("source"), Fetch.outcome, Fetch.error, Fetch.body_source,
           func.length(ArticleVersion.text).label("body_chars"), ArticleVersion.title, ArticleVersion.authors,
           ArticleVersion.published_at.is_not(None).label("has_published_at"), ArticleVersion.same_as_version)
    .select_from(Fetch)
    .outerjoin(SourceRow, SourceRow.id == Fetch.source_id)
    .outerjoin(ArticleVersion, ArticleVersion.id == Fetch.version_id)
    .where(Fetch.crawl_run_id == bindparam("run")))

RUNS = select(*CrawlRun.__table__.columns)  # rows, not ORM objects: readers hold no session

LEADING_URL = re.compile(r"^\S+://\S+?:\s+")
URL = re.compile(r"(\w+://[^/\s]+)/\S*")
SIZE = re.compile(r"\b\d+ (chars|characters|bytes)\b")


@dataclass
class _Tally:
    """One source's fetches in a run, counted as they are read."""

    outcomes: Counter = field(default_factory=Counter)
    reasons: dict[str, Counter] = field(default_factory=lambda: {"error": Counter(), "skipped": Counter()})
    body_chars: list[int] = field(default_factory=list)
    titled: int = 0
    authored: int = 0
    dated: int = 0
    extracted: int = 0  # pages extracted on this visit (not a 304 or identical bytes)
    site_body: int = 0  # ... whose text the source's own body selectors found
    returns: int = 0  # "changed" visits back to an earlier version

    def add(self, row: Row) -> None:
        self.outcomes[row.outcome] += 1
        # a return to an earlier state (a reverted edit, a template change undone) is no new state
        self.returns += row.outcome == "changed" and row.same_as_version is not None
        if row.outcome in self.reasons:
            self.reasons[row.outcome][reason(row.error)] += 1
        if row.body_source is not None and row.outcome != "error":
            self.extracted += 1
            self.site_body += row.body_source == "site"
        if row.outcome in VERSIONED and row.body_chars is not None:
            self.body_chars.append(row.body_chars)
            self.titled += bool(row.title)
            self.authored += bool(row.authors)
            self.dated += bool(row.has_published_at)

    def report(self, bytes_: int | None) -> dict[str, Any]:
        counts = {outcome: self.outcomes[outcome] for outcome in OUTCOMES}
        return {"fetched": sum(counts.values()), **counts, "bytes": bytes_, "health": self.health(counts),
                "error_reasons": dict(self.reasons["error"].most_common(REASONS_KEPT)),
                "skipped_reasons": dict(self.reasons["skipped"].most_common(REASONS_KEPT))}

    def health(self, counts: dict[str, int]) -> dict[str, Any]:
        """The page measures crawler/archive/health.py compares with the source's baseline,
        each with the count it is over (health.MEASURES names which)."""
        pages, visits = len(self.body_chars), sum(counts.values()) - counts["error"]
        revisits = sum(counts[o] for o in REVISITS)
        return {"pages": pages, "extracted": self.extracted, "visits": visits, "revisits": revisits,
                "median_body_chars": statistics.median(self.body_chars) if pages else None,
                "title_share": _share(self.titled, pages), "authors_share": _share(self.authored, pages),
                "published_at_share": _share(self.dated, pages),
                "site_body_share": _share(self.site_body, self.extracted),
                "skipped_share": _share(counts["skipped"], visits),
                "changed_share": _share(counts["changed"] - self.returns, revisits)}


def run_report(connection: Connection, run_id: int, stats: dict[str, Any] | None = None,
               duration: float | None = None) -> dict[str, Any]:
    """The run's report: totals, then per source its outcome counts, bytes, health measures
    and its error and skip reasons; the slowest downloads. ``stats``: the run's Scrapy stats."""
    stats = stats or {}
    tallies: dict[str, _Tally] = {}
    for row in connection.execute(PAGES_QUERY, {"run": run_id}):
        tallies.setdefault(row.source or NO_SOURCE, _Tally()).add(row)
    downloaded = {key.removeprefix("traffic/bytes/"): n for key, n in stats.items() if key.startswith("traffic/bytes/")}
    for name in downloaded:  # a source whose pages were all feeds or sitemaps has bytes, no fetches
        tallies.setdefault(name, _Tally())
    sources = {name: tallies[name].report(downloaded.get(name)) for name in sorted(tallies)}
    return {"duration_s": round(duration, 3) if duration is not None else stats.get("elapsed_time_seconds"),
            "bytes": stats.get("downloader/response_bytes"), "fetched": sum(s["fetched"] for s in sources.values()),
            **{outcome: sum(s[outcome] for s in sources.values()) for outcome in OUTCOMES},
            "sources": sources,
            "slowest": [{"seconds": s, "url": u, "source": n} for s, u, n in stats.get("traffic/slowest", [])]}


def reason(error: str | None) -> str:
    """A fetch's error as a reason shared by many fetches: without the URL it begins with,
    other URLs cut to their host, sizes as N ("N chars of generic text")."""
    if not error:
        return "no reason recorded"
    text = LEADING_URL.sub("", " ".join(error.split()), count=1)
    return SIZE.sub(r"N \1", URL.sub(r"\1/…", text))


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# -- reading (archive runs) ------------------------------------------------------------


def recent_runs(connection: Connection, last: int) -> list[Row]:
    """The ``last`` runs, oldest first."""
    return list(reversed(connection.execute(RUNS.order_by(CrawlRun.id.desc()).limit(last)).all()))


def run_row(connection: Connection, run_id: int) -> Row | None:
    return connection.execute(RUNS.where(CrawlRun.id == run_id)).first()


def report_of(connection: Connection, run: Row) -> dict[str, Any]:
    """The run's stored report, or for a run that has none (killed, or older than the
    report), one computed now from its fetches."""
    if run.report:
        return run.report
    duration = (run.finished_at - run.started_at).total_seconds() if run.finished_at else None
    return run_report(connection, run.id, run.stats, duration)


def alarms_of(connection: Connection, run_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The health alarms of these runs, by run, with their source's name."""
    rows = connection.execute(
        select(HealthAlarm.crawl_run_id, SourceRow.name.label("source"), HealthAlarm.measure, HealthAlarm.value,
               HealthAlarm.baseline, HealthAlarm.baseline_runs, HealthAlarm.pages)
        .join(SourceRow, SourceRow.id == HealthAlarm.source_id)
        .where(HealthAlarm.crawl_run_id.in_(run_ids)).order_by(HealthAlarm.id))
    found: dict[int, list[dict[str, Any]]] = {}
    for row in rows.mappings():
        found.setdefault(row["crawl_run_id"], []).append({k: v for k, v in row.items() if k != "crawl_run_id"})
    return found
