"""Extraction health per source, as the crawl's alarm sees it: one measure, one definition.

The measures are the ones each run keeps per source in ``crawl_runs.report`` (computed by
crawler/archive/reports.py; for a run that has none, a killed one or one older than 0008,
computed now by the same function), judged by crawler/archive/health.py against the same
baseline with the same thresholds (``HealthPolicy``, the HEALTH_* settings' defaults). The
report adds only what a page needs: each measure's values over the recent runs, for a chart.

- ``measures``: per source, its newest run's measures against the finished runs before it;
- ``stored_alarms``: the alarms the crawl recorded (``health_alarms``), newest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from ..archive.health import MEASURES, SCAN_FACTOR, HealthPolicy, judge
from ..archive.models import CrawlRun, HealthAlarm
from ..archive.reports import NO_SOURCE, RUNS, report_of

ALARMS_SHOWN = 20


@dataclass(frozen=True)
class HealthMeasure:
    name: str  # the crawl's measure (health.MEASURES), as its alarms name it
    baseline: float | None   # the crawl's baseline (None: too few earlier runs measured it)
    value: float | None      # the newest run's
    flagged: bool            # departs from its baseline: the crawl raised (or would raise) an alarm
    history: tuple[tuple[int, float], ...] = ()  # (run id, value) of the recent runs that had one, oldest first


def stored_alarms(connection: Connection, source: str, names: dict[int, str]) -> list[dict[str, Any]]:
    """The alarms the crawl recorded for ``source`` (table ``health_alarms``), newest first."""
    ids = [i for i, name in names.items() if name == source]
    query = (select(HealthAlarm.crawl_run_id.label("run"), HealthAlarm.measure, HealthAlarm.value,
                    HealthAlarm.baseline, HealthAlarm.baseline_runs, HealthAlarm.pages)
             .where(HealthAlarm.source_id.in_(ids)).order_by(HealthAlarm.id.desc()).limit(ALARMS_SHOWN))
    return [dict(row._mapping) for row in connection.execute(query)]


def measures(connection: Connection, policy: HealthPolicy | None = None) -> dict[str, list[HealthMeasure]]:
    """Each source's newest run's measures against the finished runs before it, by source name."""
    policy = policy or HealthPolicy.defaults()
    return {source: measures_of(runs, policy) for source, runs in _runs_by_source(connection, policy).items()}


def measures_of(runs: list[tuple[int, str, dict[str, Any]]], policy: HealthPolicy) -> list[HealthMeasure]:
    """``runs``: (run id, status, health dict) of one source, newest first. The newest is
    judged; the crawl's baseline reads only finished runs (crawler/archive/health.py)."""
    (_, _, newest), earlier = runs[0], runs[1:]
    history = [health for _, status, health in earlier if status == "finished"]
    return [HealthMeasure(j.measure, j.baseline.value if j.baseline else None, j.value, j.departs,
                          tuple((run_id, h[j.measure]) for run_id, _, h in reversed(runs) if h.get(j.measure) is not None))
            for j in judge(newest, history, policy)]


def _runs_by_source(connection: Connection, policy: HealthPolicy) -> dict[str, list[tuple[int, str, dict]]]:
    """The health dicts of the runs the crawl would read (as many as check_run scans), per
    source, newest first; a run without a stored report has its report computed."""
    per_source: dict[str, list[tuple[int, str, dict]]] = {}
    for run in connection.execute(RUNS.order_by(CrawlRun.id.desc()).limit(policy.baseline_runs * SCAN_FACTOR)):
        for source, data in report_of(connection, run).get("sources", {}).items():
            health = data.get("health") or {}
            if source != NO_SOURCE and any(health.get(m) is not None for m in MEASURES):
                per_source.setdefault(source, []).append((run.id, run.status, health))
    return per_source
