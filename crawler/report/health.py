"""Extraction health per source: its latest run's measures against its own recent past.

Two ways to know, one page:
- ``stored_alarms``: the alarms the crawl itself recorded (``health_alarms``, written at the
  end of each run by crawler/archive/health.py with its baseline and thresholds): these are
  what the report calls alarms.
- ``measures``: the simple measures computed here from ``fetches`` and ``article_versions``
  (median body length, share of new versions with a publication date and with authors,
  share of visits skipped, share of revisits that found a change), each with the median of
  the source's previous runs as its baseline. They are shown whatever the schema, and
  flagged by the rules below; they are a view, not a record. Where the crawl keeps
  per-source counts in its run reports, ``_per_run`` is the one function to point at them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from statistics import median
from typing import Any, Callable

from sqlalchemy import Connection, func, select

from ..archive.models import ArticleRow, ArticleVersion, Fetch, HealthAlarm

# how many of a source's most recent runs are read; the last is compared with the others
RECENT_RUNS = 30
# flag rules (README "archive report"), after the examples of a template change
BODY_SHRINK = 0.5         # median body length below half its baseline
SHARE_DROP = 0.2          # a field present on a fifth fewer of the new versions
SKIP_RISE = 0.2           # a fifth more of the visits skipped
CHANGED_ALL = 0.9         # nearly every revisit "changed", when it was not so before
# a run's measure needs this many pages of the source: one or two pages (a discovery run
# that found two new articles) say nothing about a template
MIN_PAGES = 5
ALARMS_SHOWN = 20


@dataclass(frozen=True)
class HealthMeasure:
    name: str
    baseline: float | None   # median over the source's previous runs (None: no earlier run had it)
    value: float | None      # the latest run's
    flagged: bool
    history: tuple[tuple[int, float], ...] = ()  # (run id, value) of the recent runs that had one, oldest first


def health_of(connection: Connection, source: str, names: dict[int, str]) -> tuple[list[HealthMeasure], list[dict]]:
    """The simple measures of one source and the alarms the crawl stored for it."""
    return measures(connection, source, names), stored_alarms(connection, source, names)


def stored_alarms(connection: Connection, source: str, names: dict[int, str]) -> list[dict[str, Any]]:
    """The alarms the crawl recorded for ``source`` (table ``health_alarms``), newest first."""
    ids = [i for i, name in names.items() if name == source]
    query = (select(HealthAlarm.crawl_run_id.label("run"), HealthAlarm.measure, HealthAlarm.value,
                    HealthAlarm.baseline, HealthAlarm.baseline_runs, HealthAlarm.pages)
             .where(HealthAlarm.source_id.in_(ids)).order_by(HealthAlarm.id.desc()).limit(ALARMS_SHOWN))
    return [dict(row._mapping) for row in connection.execute(query)]


def measures(connection: Connection, source: str, names: dict[int, str]) -> list[HealthMeasure]:
    per_run = _per_run(connection, [i for i, name in names.items() if name == source])
    if not per_run:
        return []
    runs = sorted(per_run.items())
    rules: dict[str, Callable[[float, float], bool]] = {
        "median body length (chars)": lambda base, now: now < base * BODY_SHRINK,
        "new versions with published_at": lambda base, now: now < base - SHARE_DROP,
        "new versions with authors": lambda base, now: now < base - SHARE_DROP,
        "visits skipped": lambda base, now: now > base + SKIP_RISE,
        "revisits that changed": lambda base, now: now >= CHANGED_ALL > base,
    }
    return [_measure(name, [(run_id, run.get(name)) for run_id, run in runs], rule) for name, rule in rules.items()]


def _measure(name: str, runs: list[tuple[int, float | None]], rule: Callable[[float, float], bool]) -> HealthMeasure:
    """The last run's value against the median of the earlier runs' values."""
    history = tuple((run_id, v) for run_id, v in runs if v is not None)
    values = [v for _, v in runs]
    value = values[-1]
    earlier = [v for v in values[:-1] if v is not None]
    baseline = median(earlier) if earlier else None
    flagged = value is not None and baseline is not None and rule(baseline, value)
    return HealthMeasure(name, baseline, value, flagged, history)


def _per_run(connection: Connection, source_ids: list[int]) -> dict[int, dict[str, float]]:
    """Each recent run's measures for these sources (runs without a visit to them are left out).

    Visits without an article (a skipped new URL) count towards "visits skipped" through
    their host in data.py's visit table, not here: here a visit is one with an article.
    """
    f, v = Fetch, ArticleVersion
    recent = select(f.crawl_run_id).join(ArticleRow, ArticleRow.id == f.article_id) \
        .where(ArticleRow.source_id.in_(source_ids), f.crawl_run_id.is_not(None)) \
        .group_by(f.crawl_run_id).order_by(f.crawl_run_id.desc()).limit(RECENT_RUNS)
    rows = connection.execute(
        select(f.crawl_run_id, f.outcome, func.length(v.text), v.published_at.is_not(None), v.authors)
        .join(ArticleRow, ArticleRow.id == f.article_id).outerjoin(v, v.id == f.version_id)
        .where(ArticleRow.source_id.in_(source_ids), f.crawl_run_id.in_(recent.scalar_subquery())))
    runs: dict[int, list] = defaultdict(list)
    for run_id, *row in rows:
        runs[run_id].append(row)
    return {run_id: _run_measures(rows) for run_id, rows in runs.items()}


def _run_measures(rows: list) -> dict[str, float]:
    new = [(length or 0, dated, bool(authors)) for outcome, length, dated, authors in rows
           if outcome in ("new", "changed")]
    revisits = [outcome for outcome, *_ in rows if outcome in ("changed", "unchanged", "not_modified")]
    out = {}
    if len(rows) >= MIN_PAGES:
        out["visits skipped"] = sum(outcome == "skipped" for outcome, *_ in rows) / len(rows)
    if len(new) >= MIN_PAGES:
        out["median body length (chars)"] = median(length for length, _, _ in new)
        out["new versions with published_at"] = sum(dated for _, dated, _ in new) / len(new)
        out["new versions with authors"] = sum(authors for _, _, authors in new) / len(new)
    if len(revisits) >= MIN_PAGES:
        out["revisits that changed"] = revisits.count("changed") / len(revisits)
    return out
