"""`archive report`: on an archive made by two real crawls of the bundled mirror, the second
after the site edited an article, the summary and the HTML page show every source, valid
inline SVG charts, and the edited article with its diff; Chromium draws the page."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from crawler.cli import main
from crawler.mirror import BUNDLED_WEB, MirrorServer
from crawler.archive.health import HealthPolicy
from crawler.report.health import measures_of
from crawler.report.page import _alarms
from tests.conftest import query, run_crawl

ZNEWS = "https://znews.vn/cuoc-choi-lon-cua-mark-zuckerberg-post1556369.html"
ZNEWS_FILE = "znews.vn/cuoc-choi-lon-cua-mark-zuckerberg-post1556369.html"
EDITED_SENTENCE = "Ban lãnh đạo AI của Meta cũng gây bất ngờ"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def edited_archive(tmp_path_factory) -> Path:
    """Every source crawled twice; between the crawls znews edited one sentence."""
    root = tmp_path_factory.mktemp("report")
    web = root / "web"
    shutil.copytree(BUNDLED_WEB, web)
    archive = root / "archive.db"
    with MirrorServer(web) as server:
        run_crawl(server.url, archive)
        page = web / ZNEWS_FILE
        page.write_text(page.read_text(encoding="utf-8").replace(
            EDITED_SENTENCE, "Ban lãnh đạo AI của Meta một lần nữa gây bất ngờ", 1), encoding="utf-8")
        run_crawl(server.url, archive)
    return archive


@pytest.fixture(scope="module")
def page(edited_archive) -> Path:
    out = edited_archive.with_name("report.html")
    assert main(["--archive", str(edited_archive), "report", "--html", str(out)]) == 0
    return out


def sources(archive: Path) -> list[str]:
    return [row[0] for row in query(archive, "SELECT name FROM sources ORDER BY name")]


def test_text_summary_names_every_source_and_the_edited_article(edited_archive, capsys):
    assert main(["--archive", str(edited_archive), "report"]) == 0
    out = capsys.readouterr().out
    names = sources(edited_archive)
    assert len(names) == 5
    for name in names:
        assert re.search(rf"^{name}: \d+ articles, \d+ versions", out, flags=re.M), out
    assert re.search(r"^znews: \d+ articles, \d+ versions, 1 edited", out, flags=re.M), out
    assert f"2 versions, 4 words changed: {ZNEWS}" in out


def test_html_page_has_every_source_valid_svg_and_the_diff(edited_archive, page):
    html = page.read_text(encoding="utf-8")
    for name in sources(edited_archive):
        assert f'<section id="source-{name}">' in html
    svgs = re.findall(r"<svg\b.*?</svg>", html, flags=re.S)
    assert len(svgs) >= 3 * 5  # versions per day, edits per article, error and skip rates
    for svg in svgs:
        root = ET.fromstring(svg)  # well-formed XML, an SVG root
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
    (article_id,) = query(edited_archive, "SELECT id FROM articles WHERE url = ?", ZNEWS)[0]
    assert f'href="#diff-{article_id}"' in html and f'<article id="diff-{article_id}">' in html
    assert "<ins>một lần nữa</ins>" in html and f"archive diff {ZNEWS}" in html


def test_html_page_is_self_contained(page):
    html = page.read_text(encoding="utf-8")
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert not re.search(r'\bsrc=|xlink:href="(?!#)|url\((?!#)', html)  # no image, font or style fetched


def test_recorded_alarms_are_shown_per_source(edited_archive, tmp_path, capsys):
    """The crawl's health_alarms rows are shown under their source."""
    archive = tmp_path / "archive.db"
    shutil.copy(edited_archive, archive)
    with sqlite3.connect(archive) as db:
        db.execute("INSERT INTO health_alarms (crawl_run_id, source_id, measure, value, baseline, baseline_runs, pages) "
                   "SELECT max(crawl_runs.id), sources.id, 'median_body_chars', 310, 4200, 3, 12 "
                   "FROM crawl_runs, sources WHERE sources.name = 'dantri'")
    assert main(["--archive", str(archive), "report"]) == 0
    out = capsys.readouterr().out
    assert "alarm: run=2, measure=median_body_chars, value=310.0, baseline=4200.0, baseline_runs=3, pages=12" in out
    assert out.count("alarm:") == 1
    assert "<td>2</td><td>median_body_chars</td><td>4200.0</td><td>310.0</td>" in _alarms(
        [{"run": 2, "measure": "median_body_chars", "baseline": 4200.0, "value": 310.0}])


def test_a_measure_departing_from_its_baseline_is_flagged_as_the_crawl_would():
    """The report judges a source's newest run with the crawl's baseline and thresholds
    (crawler/archive/health.py): only finished runs make the baseline, a run with too few
    pages is not counted, and a killed newest run is judged too."""
    policy = HealthPolicy.defaults()

    def runs(*values, newest_status="finished"):  # oldest first, as a chart reads them; judged newest first
        listed = [(i, "finished", {"pages": 20 if v is not None else 2, "median_body_chars": v or 4000.0})
                  for i, v in enumerate(values, start=1)]
        listed[-1] = (listed[-1][0], newest_status, listed[-1][2])
        return listed[::-1]

    def body(measured):
        return next(m for m in measured if m.name == "median_body_chars")

    steady = (5000.0, 5200.0, None, 4900.0)
    assert not body(measures_of(runs(*steady, 4800.0), policy)).flagged
    shrunk = body(measures_of(runs(*steady, 900.0, newest_status="interrupted"), policy))
    assert shrunk.flagged and shrunk.baseline == 5000.0 and shrunk.value == 900.0  # run 3 had 2 pages
    assert shrunk.history == ((1, 5000.0), (2, 5200.0), (3, 4000.0), (4, 4900.0), (5, 900.0))
    assert not body(measures_of(runs(5000.0, 900.0), policy)).flagged  # one earlier run: no baseline yet
    assert body(measures_of(runs(5000.0, 900.0), policy)).baseline is None


def test_the_report_shows_the_runs_stored_measures(edited_archive):
    """One definition: the report's value is the one the crawl stored in crawl_runs.report."""
    import json

    from crawler.archive.store import Archive
    from crawler.report.data import gather

    (stored,) = query(edited_archive, "SELECT report FROM crawl_runs ORDER BY id DESC LIMIT 1")[0]
    znews = json.loads(stored)["sources"]["znews"]["health"]
    archive = Archive.open(f"sqlite:///{edited_archive}", readonly=True)
    try:
        with archive.engine.connect() as connection:
            (report,) = [r for r in gather(connection) if r.name == "znews"]
    finally:
        archive.close()
    shown = {m.name: m.value for m in report.health}
    assert shown["median_body_chars"] == znews["median_body_chars"]
    assert shown["skipped_share"] == znews["skipped_share"]


def test_report_on_an_unwritable_path_is_one_line(edited_archive, tmp_path, capsys):
    assert main(["--archive", str(edited_archive), "report", "--html", str(tmp_path / "no" / "r.html")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("archive: cannot write") and err.count("\n") == 1


def test_chromium_draws_the_page(page, tmp_path):
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: the page is not drawn in a browser here")
    image = pytest.importorskip("PIL.Image", reason="Pillow reads the screenshot's pixels")
    shot = tmp_path / "report.png"
    # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={shot}", "--window-size=1200,2000", page.as_uri()],
                   capture_output=True, timeout=180, check=False)
    assert shot.is_file(), "Chromium wrote no screenshot"
    with image.open(shot) as png:
        rgb = png.convert("RGB")
        assert rgb.size == (1200, 2000)
        colours = rgb.getcolors(1 << 24)  # (count, colour) of every colour on screen
    not_white = sum(n for n, colour in colours if colour != (255, 255, 255))
    assert not_white > 1200 * 2000 * 0.03, "the page drew almost nothing"
    # the bars' colour (charts.py) is on screen: the SVG charts were drawn, not only the text
    bars = sum(n for n, (r, g, b) in colours if abs(r - 0x4C) < 8 and abs(g - 0x72) < 8 and abs(b - 0xB0) < 8)
    assert bars > 2000, "no chart bars in the screenshot"


def test_a_flagged_source_shows_in_the_summary_with_its_body_length_chart():
    from crawler.report.data import SourceReport, VisitBucket
    from crawler.report.health import HealthMeasure
    from crawler.report.page import render

    body = HealthMeasure("median_body_chars", 5000.0, 900.0, True,
                         ((7, 5000.0), (8, 5200.0), (9, 4900.0), (10, 900.0)))
    report = SourceReport("dantri", articles=40, versions=60, versions_per_day=[("2026-01-01", 30)],
                          edits_per_article={0: 30, 1: 10}, visits=[VisitBucket("2026-01-01", 50, 1, 2)],
                          health=[body])
    html = render([report], {}, "archive.db")
    assert '<span class="bad">median_body_chars</span>' in html
    assert "departs from its baseline" in html and "Median body length of new versions" in html
    assert len(re.findall(r"<svg\b", html)) == 4


def test_report_on_postgresql(capsys):
    from crawler.archive.migrate import downgrade
    from crawler.archive.store import Archive
    from crawler.report.command import html_report
    from tests.conftest import postgres_url
    from tests.test_cli import fill

    archive = Archive.open(postgres_url())
    try:
        fill(archive)  # znews: v1, v2, then back to v1 as v3
        assert main(["--archive", archive.engine.url.render_as_string(hide_password=False), "report"]) == 0
        out = capsys.readouterr().out
        assert re.search(r"^znews: 1 articles, 3 versions, 1 edited, 0 gone; 3 visits", out, flags=re.M), out
        html = html_report(archive.engine, "postgresql")
        # four sources with articles and visits, three charts each (dantri has none here)
        assert '<section id="source-dantri">' in html and len(re.findall(r"<svg\b", html)) == 4 * 3
    finally:
        downgrade(archive.engine, "base")
        archive.close()
