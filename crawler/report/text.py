"""The report as plain text: one block per source, for a terminal or a cron mail."""

from __future__ import annotations

from .data import SourceReport


def render(reports: list[SourceReport]) -> str:
    lines = []
    for r in reports:
        visits = sum(b.visits for b in r.visits)
        errors, skipped = sum(b.errors for b in r.visits), sum(b.skipped for b in r.visits)
        lines.append(f"{r.name}: {r.articles} articles, {r.versions} versions, {r.edited} edited, {r.gone} gone; "
                     f"{visits} visits, {share(errors, visits)} errors, {share(skipped, visits)} skipped")
        for m in r.health:
            if m.flagged:
                lines.append(f"  health: {m.name} {measure_value(m.name, m.value)}, baseline {measure_value(m.name, m.baseline)}")
        for alarm in r.alarms:
            lines.append("  alarm: " + ", ".join(f"{k}={v}" for k, v in alarm.items() if v is not None))
        for a in r.most_edited[:3]:
            lines.append(f"  {a.versions} versions, {a.words_changed} words changed: {a.url}")
    return "\n".join(lines) + "\n" if lines else "the archive has no sources yet: crawl first\n"


def share(part: int, whole: int) -> str:
    """A share as a percentage, "–" of nothing."""
    return f"{part / whole:.0%}" if whole else "–"


def measure_value(name: str, value: float | None) -> str:
    """A health measure as shown: a length in characters, or a share."""
    if value is None:
        return "–"
    return f"{value:,.0f}" if name.startswith("median") else f"{value:.0%}"
