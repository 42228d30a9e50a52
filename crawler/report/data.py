"""The report's figures, read from the archive into plain records, one per source.

The queries group in the database, so a report over a large archive reads summaries:
versions per day, visits per (run, day, outcome), and one small row per article (its
number of edits and words changed). The health measures (health.py) are the crawl's, read
from the recent runs' reports. About 4 s on 100,000 versions (bench/query.py's archive).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select

from ..archive.models import ArticleRow, ArticleVersion, CrawlRun, Fetch, SourceRow
from ..archive.health import HealthPolicy
from .health import HealthMeasure, measures, stored_alarms

# the most edited articles listed per source, each with its diff embedded in the page
MOST_EDITED = 10
# below this many distinct days of visits, error and skip rates are drawn per run rather
# than per day (a young archive or a test's two crawls would be one point per day)
MIN_DAYS_FOR_DAILY = 3


@dataclass(frozen=True)
class EditedArticle:
    article_id: int
    url: str
    title: str
    versions: int
    words_changed: int


@dataclass(frozen=True)
class VisitBucket:
    """Visits of one source in one day (or one run): how many, and how many failed or were skipped."""

    label: str
    visits: int
    errors: int
    skipped: int


@dataclass
class SourceReport:
    name: str
    articles: int = 0
    versions: int = 0
    gone: int = 0
    versions_per_day: list[tuple[str, int]] = field(default_factory=list)
    # number of edits (versions after the first) -> how many articles have that many
    edits_per_article: dict[int, int] = field(default_factory=dict)
    visits: list[VisitBucket] = field(default_factory=list)
    health: list[HealthMeasure] = field(default_factory=list)
    alarms: list[dict[str, Any]] = field(default_factory=list)
    most_edited: list[EditedArticle] = field(default_factory=list)

    @property
    def edited(self) -> int:
        return sum(n for edits, n in self.edits_per_article.items() if edits > 0)


def gather(connection: Connection, policy: HealthPolicy | None = None) -> list[SourceReport]:
    """Every source's report, by source name; its health judged with the crawl's ``policy``
    (default: the HEALTH_* settings' defaults)."""
    names = dict(connection.execute(select(SourceRow.id, SourceRow.name)).all())
    reports = {name: SourceReport(name) for name in sorted(names.values())}
    _counts(connection, names, reports)
    _versions_per_day(connection, names, reports)
    _edits(connection, names, reports)
    _visits(connection, names, reports)
    health = measures(connection, policy)
    for report in reports.values():
        report.health, report.alarms = health.get(report.name, []), stored_alarms(connection, report.name, names)
    return list(reports.values())


def _counts(connection: Connection, names: dict[int, str], reports: dict[str, SourceReport]) -> None:
    a = ArticleRow
    for source_id, articles, gone in connection.execute(
            select(a.source_id, func.count(), func.count(a.gone_at)).group_by(a.source_id)):
        reports[names[source_id]].articles, reports[names[source_id]].gone = articles, gone
    for source_id, versions in connection.execute(
            select(a.source_id, func.count()).join(ArticleVersion, ArticleVersion.article_id == a.id)
            .group_by(a.source_id)):
        reports[names[source_id]].versions = versions


def _versions_per_day(connection: Connection, names: dict[int, str], reports: dict[str, SourceReport]) -> None:
    day = func.date(ArticleVersion.fetched_at)  # SQLite and PostgreSQL both have date()
    rows = connection.execute(
        select(ArticleRow.source_id, day, func.count()).join(ArticleRow, ArticleRow.id == ArticleVersion.article_id)
        .group_by(ArticleRow.source_id, day).order_by(day))
    for source_id, when, count in rows:
        reports[names[source_id]].versions_per_day.append((str(when), count))


def _edits(connection: Connection, names: dict[int, str], reports: dict[str, SourceReport]) -> None:
    """Articles per number of edits, and the most edited: a return to an earlier state is an
    edit too (the page did change), but its words are not counted again (README "Example queries").
    One pass over the versions (per article, from the index on fetched_at); sorted here."""
    v = ArticleVersion
    per_article = (select(v.article_id, (func.count() - 1).label("edits"),
                          func.sum(v.words_added + v.words_removed).filter(v.version > 1, v.same_as_version.is_(None))
                          .label("words")).group_by(v.article_id).subquery())
    rows = connection.execute(select(ArticleRow.source_id, ArticleRow.id, ArticleRow.url, per_article.c.edits,
                                     per_article.c.words)
                              .join(per_article, per_article.c.article_id == ArticleRow.id)).all()
    edited: dict[str, list] = defaultdict(list)
    for row in rows:
        report = reports[names[row.source_id]]
        report.edits_per_article[row.edits] = report.edits_per_article.get(row.edits, 0) + 1
        if row.edits:
            edited[report.name].append(row)
    for name, candidates in edited.items():
        top = sorted(candidates, key=lambda r: (-r.edits, -(r.words or 0), r.id))[:MOST_EDITED]
        titles = _newest_titles(connection, [row.id for row in top])
        reports[name].most_edited = [EditedArticle(row.id, row.url, titles.get(row.id, ""), row.edits + 1,
                                                   row.words or 0) for row in top]


def _newest_titles(connection: Connection, article_ids: list[int]) -> dict[int, str]:
    if not article_ids:
        return {}
    v = ArticleVersion
    newest = select(v.article_id, func.max(v.version).label("version")).where(v.article_id.in_(article_ids)) \
        .group_by(v.article_id).subquery()
    rows = connection.execute(select(v.article_id, v.title).join(
        newest, (newest.c.article_id == v.article_id) & (newest.c.version == v.version)))
    return dict(rows.all())


def _visits(connection: Connection, names: dict[int, str], reports: dict[str, SourceReport]) -> None:
    """Visits per source and day (or run), with their errors and skips. A visit's source is
    ``fetches.source_id`` (its article's, or for a visit with no article — a 404 on a new URL,
    a robots.txt, a feed — the source whose domains cover its host)."""
    day = func.date(Fetch.fetched_at)
    rows = connection.execute(
        select(Fetch.crawl_run_id, func.min(CrawlRun.started_at), day, Fetch.source_id, Fetch.outcome, func.count())
        .outerjoin(CrawlRun, CrawlRun.id == Fetch.crawl_run_id).where(Fetch.source_id.is_not(None))
        .group_by(Fetch.crawl_run_id, day, Fetch.source_id, Fetch.outcome)).all()
    days = {str(row[2]) for row in rows}
    buckets: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for run_id, started, when, source_id, outcome, count in rows:
        label = str(when) if len(days) >= MIN_DAYS_FOR_DAILY else _run_label(run_id, started)
        buckets[names[source_id]][label][outcome] += count
    for name, per_label in buckets.items():
        reports[name].visits = [VisitBucket(label, sum(c.values()), c["error"], c["skipped"])
                                for label, c in sorted(per_label.items())]


def _run_label(run_id: int | None, started: Any) -> str:
    if started is None:
        return f"run {run_id}" if run_id is not None else "no run"
    return f"{str(started)[:16]} #{run_id}"  # a text on SQLite (min() of a column), a datetime elsewhere


def last_diffs(connection: Connection, article_ids: list[int]) -> dict[int, str]:
    """Each article's last change as `archive diff` prints it (previous vs newest version)."""
    from ..dedup import word_diff

    v = ArticleVersion
    out = {}
    for article_id in article_ids:
        old, new = connection.execute(select(v.version, v.fetched_at, v.text).where(v.article_id == article_id)
                                      .order_by(v.version.desc()).limit(2)).all()[::-1]
        out[article_id] = word_diff(old.text, new.text, _diff_label(old), _diff_label(new))
    return out


def _diff_label(row: Any) -> str:
    return f"v{row.version} {row.fetched_at:%Y-%m-%dT%H:%M:%SZ}"
