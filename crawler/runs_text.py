"""How `archive runs` shows crawl runs: one line per run, or one run per source.

Plain functions from a ``crawl_runs`` row, its report (crawler/archive/reports.py) and its
health alarms to lines of text or JSON-ready dicts; crawler/cli.py prints them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from .archive.health import Alarm
from .archive.reports import OUTCOMES

RUN_FIELDS = ("id", "spider", "started_at", "finished_at", "status", "reason", "args")


def run_line(run: Row, report: dict[str, Any], alarms: list[dict[str, Any]]) -> str:
    """``  12  2026-12-06 10:47:02  sources   finished    1.6 s   0.2 MB  6 fetched: 6 new``"""
    line = (f"{run.id:>5}  {run.started_at:%Y-%m-%d %H:%M:%S}  {run.spider:<9} {run.status:<11} "
            f"{_seconds(report.get('duration_s')):>8}  {_megabytes(report.get('bytes')):>8}  {_counts(report)}")
    if alarms:
        line += f"; {len(alarms)} health alarm{'s' if len(alarms) > 1 else ''}"
    return line + (f" — {run.reason}" if run.reason else "")


def run_details(run: Row, report: dict[str, Any], alarms: list[dict[str, Any]]) -> list[str]:
    """The run, then per source its counts, health measures, alarms, errors and skips by reason."""
    lines = [f"run {run.id} ({run.spider}) {run.status}: started {run.started_at:%Y-%m-%d %H:%M:%S} UTC, "
             f"{_seconds(report.get('duration_s'))}, {_megabytes(report.get('bytes'))}, {_counts(report)}"]
    if run.reason:
        lines.append(f"reason: {run.reason}")
    if run.args:
        lines.append("args: " + ", ".join(f"{k}={v}" for k, v in run.args.items() if v not in (None, [], "")))
    for name, source in report.get("sources", {}).items():
        lines += ["", f"{name}: {_counts(source)}" + (f"; {_megabytes(source['bytes'])}" if source.get("bytes") else "")]
        lines.append(f"  health: {health_text(source.get('health') or {})}")
        lines += [f"  health alarm: {_alarm(a).line()}" for a in alarms if a["source"] == name]
        for kind in ("error", "skipped"):
            reasons = source.get(f"{kind}_reasons") or {}
            lines += [f"  {kind if i == 0 else '':<8}{n:>5}  {reason}" for i, (reason, n) in enumerate(reasons.items())]
    if report.get("slowest"):
        lines += ["", "slowest downloads:"]
        lines += [f"  {s['seconds']:>7.3f} s  {s['url']}  ({s['source']})" for s in report["slowest"]]
    return lines


def health_text(health: dict[str, Any]) -> str:
    """The page measures of one source in a run, each with what it is over."""
    if not health:
        return "not measured"
    pages = _plural(health.get("pages", 0), "page")
    parts = [f"median body {health['median_body_chars']:.0f} chars" if health.get("median_body_chars") is not None
             else "no archived page",
             f"title {_share(health.get('title_share'))}, authors {_share(health.get('authors_share'))}, "
             f"published_at {_share(health.get('published_at_share'))} of {pages}",
             f"site body {_share(health.get('site_body_share'))} of {health.get('extracted', 0)} extracted",
             f"skipped {_share(health.get('skipped_share'))} of {_plural(health.get('visits', 0), 'visit')}",
             f"changed {_share(health.get('changed_share'))} of {_plural(health.get('revisits', 0), 'revisit')}"]
    return "; ".join(parts)


def run_json(run: Row, report: dict[str, Any], alarms: list[dict[str, Any]]) -> dict[str, Any]:
    return {**{name: getattr(run, name) for name in RUN_FIELDS}, "report": report, "health_alarms": alarms}


def _alarm(row: dict[str, Any]) -> Alarm:
    return Alarm(row["source"], row["measure"], row["value"], row["baseline"], row["baseline_runs"], row["pages"])


def _counts(counts: dict[str, Any]) -> str:
    shown = ", ".join(f"{counts[o]} {o}" for o in OUTCOMES if counts.get(o))
    return f"{counts.get('fetched', 0)} fetched" + (f": {shown}" if shown else "")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _megabytes(value: int | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1e3:.0f} kB" if value < 100_000 else f"{value / 1e6:.1f} MB"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
