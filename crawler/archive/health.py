"""Extraction health: does a source's run look like its recent runs? (README "Health alarms")

A site that changes its template yields empty or garbage versions for months before anyone
looks (issue 12). Each run's report (crawler/archive/reports.py) carries per source a few
page measures; a source's *baseline* for a measure is the median of that measure over its
last ``HEALTH_BASELINE_RUNS`` finished runs with at least ``HEALTH_MIN_PAGES`` pages for it (or
as many as its typical run has, when its runs are smaller: a crawl of one start URL per source).
A run departs from the baseline when (thresholds are settings):

- ``median_body_chars`` falls below ``HEALTH_BODY_RATIO`` of the baseline;
- a field's share (``title_share``, ``authors_share``, ``published_at_share``) or the share of
  pages the source's own body selectors read (``site_body_share``) falls by more than
  ``HEALTH_FIELD_DROP`` (1.0 -> under 0.8: "missing on more than a fifth when the baseline had it");
- ``skipped_share`` rises by more than ``HEALTH_SKIPPED_RISE``;
- ``changed_share`` (new versions per revisit; a return to an earlier state is not new)
  reaches ``HEALTH_CHANGED_SHARE`` where the baseline changed under half as often.

The median lets one odd run in the baseline pass unnoticed; a lasting change becomes the new
baseline after about half of ``HEALTH_BASELINE_RUNS`` runs, so it is reported for a while, not forever.
Fewer than ``HEALTH_MIN_BASELINE_RUNS`` such runs: no baseline, no alarm (a fresh archive).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace
from typing import Any, NamedTuple, Sequence

from sqlalchemy import Connection, insert, select

from .. import settings as default_settings
from .models import CrawlRun, HealthAlarm, SourceRow

# measure -> the count in the same health dict it is a median or share of
MEASURES = {"median_body_chars": "pages", "title_share": "pages", "authors_share": "pages",
            "published_at_share": "pages", "site_body_share": "extracted", "skipped_share": "visits",
            "changed_share": "revisits"}
# earlier runs read to find a source's baseline runs: a source crawled by one spider of
# four still has HEALTH_BASELINE_RUNS of them among the last 20 times as many runs
SCAN_FACTOR = 20


@dataclass(frozen=True)
class HealthPolicy:
    """The thresholds (HEALTH_* settings; README "Settings")."""

    baseline_runs: int
    min_baseline_runs: int
    min_pages: int
    body_ratio: float
    field_drop: float
    skipped_rise: float
    changed_share: float

    @classmethod
    def from_settings(cls, settings) -> HealthPolicy:  # noqa: ANN001 - Scrapy's Settings
        return cls(settings.getint("HEALTH_BASELINE_RUNS"), settings.getint("HEALTH_MIN_BASELINE_RUNS"),
                   settings.getint("HEALTH_MIN_PAGES"), settings.getfloat("HEALTH_BODY_RATIO"),
                   settings.getfloat("HEALTH_FIELD_DROP"), settings.getfloat("HEALTH_SKIPPED_RISE"),
                   settings.getfloat("HEALTH_CHANGED_SHARE"))

    @classmethod
    def defaults(cls) -> HealthPolicy:
        """The thresholds of crawler/settings.py, for readers with no crawl's settings (`archive report`)."""
        from scrapy.settings import Settings

        return cls.from_settings(Settings({k: v for k, v in vars(default_settings).items() if k.startswith("HEALTH_")}))


@dataclass(frozen=True)
class Alarm:
    """A source's measure in a run, departed from its baseline."""

    source: str
    measure: str
    value: float
    baseline: float
    baseline_runs: int
    pages: int
    run_id: int | None = None

    def line(self) -> str:
        """One line for the log, stderr and ``archive runs show``."""
        run = f"run {self.run_id}: " if self.run_id is not None else ""
        return (f"{run}{self.source} {self.measure} {shown(self.measure, self.value)}, baseline "
                f"{shown(self.measure, self.baseline)} (median of {self.baseline_runs} runs; {self.pages} "
                f"page{'' if self.pages == 1 else 's'})")


def shown(measure: str, value: float) -> str:
    return f"{value:.0f} chars" if measure == "median_body_chars" else f"{value:.0%}"


class Baseline(NamedTuple):
    value: float  # the median
    runs: int  # how many runs it is the median of
    need: int  # the count a run needs for this measure to be judged or to count


def baseline(history: Sequence[dict[str, Any]], measure: str, policy: HealthPolicy) -> Baseline | None:
    """The median of ``measure`` over the newest ``baseline_runs`` health dicts of ``history``
    (newest first) that measured it, those with enough pages; None below ``min_baseline_runs``.

    Enough is ``min_pages``, or for a source whose runs are smaller (a crawl of its start
    URLs: one page), its typical run's count (the median): then each run is all there is."""
    count = MEASURES[measure]
    seen = [h for h in history if h.get(measure) is not None and h.get(count, 0) > 0][:policy.baseline_runs]
    if not seen:
        return None
    need = max(1, min(policy.min_pages, statistics.median_low([h[count] for h in seen])))
    values = [h[measure] for h in seen if h[count] >= need]
    if len(values) < max(policy.min_baseline_runs, 1):
        return None
    return Baseline(statistics.median(values), len(values), need)


def departs(measure: str, value: float, base: float, policy: HealthPolicy) -> bool:
    if measure == "median_body_chars":
        return value < base * policy.body_ratio
    if measure == "skipped_share":
        return value > base + policy.skipped_rise
    if measure == "changed_share":
        return value >= policy.changed_share and base < policy.changed_share / 2
    return value < base - policy.field_drop


class Judged(NamedTuple):
    """One measure of a source's run against its baseline: what the alarm and the report read."""

    measure: str
    value: float | None
    count: int  # the pages (visits, revisits, …) the value is over
    baseline: Baseline | None  # None: too few earlier runs measured it, or the run did not
    departs: bool


def judge(health: dict[str, Any], history: Sequence[dict[str, Any]], policy: HealthPolicy) -> list[Judged]:
    """Every measure of one source's run (``health``) against its ``history`` (newest first)."""
    judged = []
    for measure, pages in MEASURES.items():
        value, count = health.get(measure), health.get(pages, 0)
        base = baseline(history, measure, policy) if value is not None else None
        judged.append(Judged(measure, value, count, base, base is not None and count >= base.need
                             and departs(measure, value, base.value, policy)))
    return judged


def departures(source: str, health: dict[str, Any], history: Sequence[dict[str, Any]],
               policy: HealthPolicy) -> list[Alarm]:
    """The measures of one source's run (``health``) that depart from its ``history``."""
    return [Alarm(source, j.measure, j.value, j.baseline.value, j.baseline.runs, j.count)
            for j in judge(health, history, policy) if j.departs]


def check_run(connection: Connection, run_id: int, policy: HealthPolicy) -> list[Alarm]:
    """Compare the run's report with each source's baseline; store and return the alarms."""
    report = connection.scalar(select(CrawlRun.report).where(CrawlRun.id == run_id))
    if not report:
        return []
    histories: dict[str, list[dict[str, Any]]] = {}
    earlier = connection.scalars(select(CrawlRun.report).where(CrawlRun.status == "finished", CrawlRun.id < run_id)
                                 .order_by(CrawlRun.id.desc()).limit(policy.baseline_runs * SCAN_FACTOR))
    for other in earlier:
        for source, data in (other or {}).get("sources", {}).items():
            histories.setdefault(source, []).append(data.get("health") or {})
    source_ids = dict(connection.execute(select(SourceRow.name, SourceRow.id)).all())
    alarms = [replace(a, run_id=run_id)
              for source, data in report.get("sources", {}).items() if source in source_ids  # not "(none)"
              for a in departures(source, data.get("health") or {}, histories.get(source, []), policy)]
    rows = [{"crawl_run_id": run_id, "source_id": source_ids[a.source], "measure": a.measure, "value": a.value,
             "baseline": a.baseline, "baseline_runs": a.baseline_runs, "pages": a.pages} for a in alarms]
    if rows:
        connection.execute(insert(HealthAlarm), rows)
    return alarms
