"""The report as one self-contained HTML page: inline CSS and SVG, no script, no request.

It opens from a file (or a mail attachment) with no server and no network, so the charts
are inline SVG and each most-edited article's last diff is embedded under an anchor.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from html import escape

from . import charts
from .data import SourceReport
from .health import HealthMeasure
from .text import measure_value, share

CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 1150px; color: #222; }
h1 { margin-bottom: 0; } h2 { border-bottom: 2px solid #4c72b0; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .5em 0; } td, th { padding: .2em .6em; text-align: left; }
th { background: #eef1f7; } tr:nth-child(even) td { background: #f7f8fa; } td.n { text-align: right; }
.charts { display: flex; flex-wrap: wrap; gap: .5em; } .charts svg { width: 560px; height: auto; }
.bad { color: #b00020; font-weight: bold; } .ok { color: #2e7d32; } .muted { color: #777; }
pre { background: #f7f8fa; padding: .6em; white-space: pre-wrap; overflow-wrap: anywhere; }
del { background: #fdd; text-decoration: line-through; } ins { background: #dfd; text-decoration: none; }
.minus { color: #b00020; } .plus { color: #2e7d32; } code { background: #f0f0f0; padding: 0 .2em; }
"""


def render(reports: list[SourceReport], diffs: dict[int, str], archive_name: str,
           now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    parts = [f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>Archive report: {escape(archive_name)}</title><style>{CSS}</style></head><body>",
             f"<h1>Archive report</h1><p class=\"muted\">{escape(archive_name)}, "
             f"{now:%Y-%m-%d %H:%M} UTC</p>", _summary(reports)]
    parts += [_source(report) for report in reports]
    parts.append(_diffs(reports, diffs))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _summary(reports: list[SourceReport]) -> str:
    rows = []
    for r in reports:
        visits = sum(b.visits for b in r.visits)
        flags = [m.name for m in r.health if m.flagged] + [f"{len(r.alarms)} alarm(s)"] * bool(r.alarms)
        measured = any(m.value is not None for m in r.health)
        health = (f"<span class=\"bad\">{escape(', '.join(flags))}</span>" if flags else
                  "<span class=\"ok\">ok</span>" if measured else "<span class=\"muted\">too few pages</span>")
        rows.append(f"<tr><td><a href=\"#source-{escape(r.name)}\">{escape(r.name)}</a></td>"
                    + "".join(f"<td class=\"n\">{n}</td>" for n in (r.articles, r.versions, r.edited, r.gone, visits))
                    + f"<td class=\"n\">{share(sum(b.errors for b in r.visits), visits)}</td>"
                    f"<td class=\"n\">{share(sum(b.skipped for b in r.visits), visits)}</td><td>{health}</td></tr>")
    head = "".join(f"<th>{h}</th>" for h in ("source", "articles", "versions", "edited articles", "gone", "visits",
                                             "errors", "skipped", "extraction health"))
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _source(r: SourceReport) -> str:
    return (f"<section id=\"source-{escape(r.name)}\"><h2>{escape(r.name)}</h2>"
            f"<p>{r.articles} articles, {r.versions} versions, {r.edited} edited after their first capture, "
            f"{r.gone} gone.</p><div class=\"charts\">{''.join(_charts(r))}</div>"
            f"<h3>Extraction health</h3>{_health(r.health)}{_alarms(r.alarms)}"
            f"<h3>Most edited</h3>{_most_edited(r)}</section>")


def _charts(r: SourceReport) -> list[str]:
    out = []
    if r.versions_per_day:
        days, counts = zip(*r.versions_per_day)
        out.append(charts.bars(list(days), list(counts), "Versions archived per day", "versions"))
    if r.edits_per_article:
        edits = list(range(max(r.edits_per_article) + 1))
        out.append(charts.bars([str(e) for e in edits], [r.edits_per_article.get(e, 0) for e in edits],
                               "Articles by number of edits", "articles"))
    if r.visits:
        labels = [b.label for b in r.visits]
        out.append(charts.lines(labels, {"errors": [b.errors / b.visits for b in r.visits],
                                         "skipped": [b.skipped / b.visits for b in r.visits]},
                                "Errors and skips, share of visits", "", percent=True))
    body = next((m for m in r.health if m.name == "median_body_chars" and m.history), None)
    if body is not None:
        runs, values = zip(*body.history)
        out.append(charts.lines([f"#{run}" for run in runs], {"median body": list(values)},
                                "Median body length of new versions, per run", "characters", baseline=body.baseline))
    return out


def _health(measures: list[HealthMeasure]) -> str:
    if not measures:
        return "<p class=\"muted\">No run has visited this source's articles yet.</p>"
    rows = "".join(f"<tr><td>{escape(m.name)}</td><td class=\"n\">{measure_value(m.name, m.baseline)}</td>"
                   f"<td class=\"n\">{measure_value(m.name, m.value)}</td><td>"
                   + ("<span class=\"bad\">departs from its baseline</span>" if m.flagged else "") + "</td></tr>"
                   for m in measures)
    return ("<table><tr><th>measure</th><th>baseline (median of earlier finished runs)</th><th>latest run</th><th></th></tr>"
            f"{rows}</table><p class=\"muted\">The crawl's measures and thresholds (README \"Health alarms\"): "
            "a run counts towards a baseline when it saw HEALTH_MIN_PAGES such pages of the source "
            "(fewer for a source whose runs are all smaller).</p>")


def _alarms(alarms: list[dict]) -> str:
    if not alarms:
        return ""
    columns = list(alarms[0])
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    rows = "".join("<tr>" + "".join(f"<td>{escape(_cell(a[c]))}</td>" for c in columns) + "</tr>" for a in alarms)
    return f"<h4 class=\"bad\">Alarms recorded by the crawl</h4><table><tr>{head}</tr>{rows}</table>"


def _most_edited(r: SourceReport) -> str:
    if not r.most_edited:
        return "<p class=\"muted\">No article of this source has changed since its first capture.</p>"
    rows = "".join(f"<tr><td><a href=\"{escape(a.url)}\">{escape(a.title or a.url)}</a></td><td class=\"n\">{a.versions}"
                   f"</td><td class=\"n\">{a.words_changed}</td><td><a href=\"#diff-{a.article_id}\">last diff</a></td></tr>"
                   for a in r.most_edited)
    return f"<table><tr><th>article</th><th>versions</th><th>words changed</th><th></th></tr>{rows}</table>"


def _diffs(reports: list[SourceReport], diffs: dict[int, str]) -> str:
    parts = ["<section id=\"diffs\"><h2>Last diff of the most edited articles</h2>"]
    for r in reports:
        for a in r.most_edited:
            if a.article_id in diffs:
                parts.append(f"<article id=\"diff-{a.article_id}\"><h3>{escape(a.title or a.url)} "
                             f"<span class=\"muted\">({escape(r.name)})</span></h3>"
                             f"<p>Every version: <code>archive diff {escape(a.url)} V1 V2</code></p>"
                             f"<pre>{diff_html(diffs[a.article_id])}</pre></article>")
    parts.append("</section>")
    return "\n".join(parts)


def diff_html(diff: str) -> str:
    """`archive diff` output with its [-removed-] and {+added+} words marked up."""
    lines = []
    for line in diff.splitlines():
        text = escape(line)
        text = re.sub(r"\[-(.*?)-\]", r"<del>\1</del>", text)
        text = re.sub(r"\{\+(.*?)\+\}", r"<ins>\1</ins>", text)
        if line.startswith("- "):
            text = f"<span class=\"minus\">{text}</span>"
        elif line.startswith("+ "):
            text = f"<span class=\"plus\">{text}</span>"
        lines.append(text)
    return "\n".join(lines)


def _cell(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else "" if value is None else str(value)
