"""The extraction-health alarm in real crawls: ordinary runs raise none; a source whose pages
change template (body container renamed, date moved) raises one naming the source and the
measure, `archive recrawl` and `scrapy crawl` exit 3 with a line per alarm; the next
ordinary run raises none (issue 12, item 2)."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

from crawler.mirror import MirrorServer
from tests.conftest import query, run_crawl
from tests.test_cron import recrawl

PAGES = 25  # five per host: HEALTH_MIN_PAGES (5) pages of znews per run
# no extraction or WARC writer processes to start: six crawls stay within the tests' time budget
QUICK = ("-s", "EXTRACT_WORKERS=0", "-s", "WARC_ENABLED=False")
EXIT_ALARM = 3


def changed_template(html: str) -> str:
    """The page after a redesign: the body container renamed (the source's body selectors
    find nothing, only generic text is left), the date moved out of the meta tags and
    JSON-LD into a line of text."""
    html = html.replace("the-article-body", "story__content").replace('class="the-article ', 'class="story ')
    html = re.sub(r'<meta property="article:(published|modified)_time"[^>]*>', "", html)
    html = re.sub(r'"date(Published|Modified)": "[^"]*",', "", html)
    html = re.sub(r'<li class="the-article-(publish|friendly-time)[^"]*">.*?</li>', "", html, flags=re.S)
    return html.replace("</h1>", "</h1><p class='story__when'>Đăng ngày thứ tư</p>", 1)


class Site:
    """A generated web of PAGES articles whose znews pages can be redesigned between runs."""

    def __init__(self, root: Path, urls: list[str], server: MirrorServer, archive: Path):
        self.urls, self.server, self.archive = urls, server, archive
        self.znews = [root / u.split("://", 1)[1] for u in urls if "//znews.vn/" in u]
        self.original = {path: path.read_text(encoding="utf-8") for path in self.znews}

    def redesign(self, on: bool) -> None:
        for path, html in self.original.items():
            path.write_text(changed_template(html) if on else html, encoding="utf-8")

    def crawl(self, check: bool = True):
        return run_crawl(self.server.url, self.archive, "-a", f"urls={','.join(self.urls)}", *QUICK, check=check)

    def alarms(self) -> list[tuple]:
        return [tuple(r) for r in query(self.archive, """SELECT h.crawl_run_id, s.name, h.measure, h.value, h.baseline
                                                         FROM health_alarms h JOIN sources s ON s.id = h.source_id
                                                         ORDER BY h.id""")]


def test_a_changed_template_raises_an_alarm_and_ordinary_runs_raise_none(tmp_path):
    from bench.fakeweb import generate_web

    root = tmp_path / "web"
    urls = generate_web(root, PAGES)
    with MirrorServer(root) as server:
        site = Site(root, urls, server, tmp_path / "archive.db")
        assert len(site.znews) == PAGES // 5
        for _ in range(3):  # the baseline: three ordinary runs
            assert "health alarm:" not in site.crawl().stderr
        assert site.alarms() == []
        first = json.loads(query(site.archive, "SELECT report FROM crawl_runs WHERE id = 1")[0][0])
        znews = first["sources"]["znews"]
        assert (znews["fetched"], znews["new"], znews["health"]["site_body_share"]) == (5, 5, 1.0)
        assert znews["bytes"] > 5 * 10_000 and len(first["slowest"]) == 5

        site.redesign(True)
        with sqlite3.connect(site.archive) as db:  # every article due: the cron run revisits them all
            db.execute("UPDATE articles SET next_visit_at = '2000-01-01 00:00:00'")
        result = recrawl(site.archive, "--no-discover", *QUICK, mirror_url=server.url)
        assert result.returncode == EXIT_ALARM, result.stderr[-3000:]
        lines = [line for line in result.stderr.splitlines() if line.startswith("archive recrawl:")]
        assert lines == ["archive recrawl: health alarm: run 4: znews skipped_share 100%, baseline 0% "
                         "(median of 3 runs; 5 pages)"]
        assert "WARNING: health alarm: run 4: znews skipped_share 100%" in result.stderr  # the run's log
        assert site.alarms() == [(4, "znews", "skipped_share", 1.0, 0.0)]

        bad = site.crawl(check=False)  # `scrapy crawl` of the redesigned pages says so too
        assert bad.returncode == EXIT_ALARM, bad.stderr[-3000:]
        assert "scrapy crawl sources: health alarm: run 5: znews skipped_share 100%" in bad.stderr

        site.redesign(False)
        ordinary = site.crawl()
        assert "health alarm:" not in ordinary.stderr
        assert [a[0] for a in site.alarms()] == [4, 5]
    outcomes = query(site.archive, "SELECT outcome, count(*) FROM fetches WHERE crawl_run_id = 6 GROUP BY 1")
    assert [tuple(r) for r in outcomes] == [("unchanged", PAGES)]
