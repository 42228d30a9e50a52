"""The extraction-health baseline math (crawler/archive/health.py), without a crawl."""

from __future__ import annotations

import pytest

from crawler import settings
from crawler.archive.health import MEASURES, Alarm, HealthPolicy, baseline, departs, departures

POLICY = HealthPolicy(baseline_runs=10, min_baseline_runs=3, min_pages=5, body_ratio=0.5, field_drop=0.2,
                      skipped_rise=0.25, changed_share=0.9)


def healthy(**changes) -> dict:
    """One source's health measures in an ordinary run of 10 pages."""
    return {"pages": 10, "extracted": 10, "visits": 10, "revisits": 8, "median_body_chars": 4000,
            "title_share": 1.0, "authors_share": 0.9, "published_at_share": 1.0, "site_body_share": 1.0,
            "skipped_share": 0.0, "changed_share": 0.125} | changes


def test_the_policy_reads_the_defaults_of_settings_py():
    from scrapy.settings import Settings

    policy = HealthPolicy.from_settings(Settings({k: getattr(settings, k) for k in dir(settings) if k.isupper()}))
    assert policy == HealthPolicy(settings.HEALTH_BASELINE_RUNS, settings.HEALTH_MIN_BASELINE_RUNS,
                                  settings.HEALTH_MIN_PAGES, settings.HEALTH_BODY_RATIO, settings.HEALTH_FIELD_DROP,
                                  settings.HEALTH_SKIPPED_RISE, settings.HEALTH_CHANGED_SHARE)


def test_baseline_is_the_median_of_the_newest_runs_with_enough_pages():
    history = [healthy(median_body_chars=v) for v in (100, 5000, 4000, 3000)] + [healthy(median_body_chars=1)] * 20
    assert baseline(history, "median_body_chars", POLICY) == (1, 10, 5)  # the newest 10 runs only
    assert baseline(history[:4], "median_body_chars", POLICY) == (3500, 4, 5)  # one odd run moves it little
    small_runs = [healthy(pages=4, median_body_chars=9)] * 2
    assert baseline(small_runs + history[1:4], "median_body_chars", POLICY) == (4000, 3, 5)
    # a share whose count is zero is null: such runs do not count
    nulls = [healthy(revisits=0, changed_share=None)] * 5
    assert baseline(nulls + history[:3], "changed_share", POLICY) == (0.125, 3, 5)


def test_a_source_crawled_a_page_at_a_time_is_judged_on_its_one_page():
    """A crawl of start URLs sees one page per source: each run is all there is to judge."""
    history = [healthy(pages=1, extracted=1, visits=1, revisits=1, median_body_chars=v) for v in (4000, 5000, 4500)]
    assert baseline(history, "median_body_chars", POLICY) == (4500, 3, 1)
    broken = healthy(pages=1, extracted=1, visits=1, revisits=1, median_body_chars=300, site_body_share=0.0)
    assert [a.measure for a in departures("znews", broken, history, POLICY)] == ["median_body_chars",
                                                                                 "site_body_share"]
    assert departures("znews", history[0], history, POLICY) == []


def test_no_baseline_below_its_minimum_of_runs():
    assert baseline([healthy()] * 2, "title_share", POLICY) is None
    assert baseline([], "title_share", POLICY) is None
    assert baseline([healthy()] * 3, "title_share", POLICY) == (1.0, 3, 5)


@pytest.mark.parametrize("measure, base, value, alarm", [
    ("median_body_chars", 4000, 2001, False), ("median_body_chars", 4000, 1999, True),
    ("published_at_share", 1.0, 0.8, False), ("published_at_share", 1.0, 0.79, True),  # missing on more than a fifth
    ("authors_share", 0.1, 0.0, False),  # a field the baseline rarely had cannot fall by a fifth
    ("title_share", 1.0, 1.0, False), ("site_body_share", 1.0, 0.5, True),
    ("skipped_share", 0.1, 0.35, False), ("skipped_share", 0.1, 0.36, True),
    ("changed_share", 0.1, 0.89, False), ("changed_share", 0.1, 0.9, True),
    ("changed_share", 0.5, 1.0, False),  # a live blog changes at every visit: that is its baseline
])
def test_departures_by_measure(measure, base, value, alarm):
    assert departs(measure, value, base, POLICY) is alarm


def test_a_changed_template_departs_and_an_ordinary_run_does_not():
    history = [healthy()] * 5
    assert departures("znews", healthy(authors_share=0.8, median_body_chars=3000), history, POLICY) == []
    broken = healthy(median_body_chars=900, published_at_share=0.3, site_body_share=0.0, skipped_share=0.6)
    found = departures("znews", broken, history, POLICY)
    assert [a.measure for a in found] == ["median_body_chars", "published_at_share", "site_body_share",
                                          "skipped_share"]
    assert found[0] == Alarm("znews", "median_body_chars", 900, 4000, 5, 10)


def test_a_run_with_too_few_pages_for_a_measure_is_not_judged_on_it():
    broken = healthy(pages=4, median_body_chars=10, published_at_share=0.0, skipped_share=0.9)
    assert [a.measure for a in departures("znews", broken, [healthy()] * 5, POLICY)] == ["skipped_share"]


def test_a_fresh_archive_raises_nothing():
    broken = healthy(median_body_chars=10, skipped_share=1.0, changed_share=1.0)
    assert departures("znews", broken, [healthy()] * 2, POLICY) == []


def test_every_measure_names_its_count_and_an_alarm_reads_in_one_line():
    assert set(MEASURES.values()) <= set(healthy())
    alarm = Alarm("znews", "skipped_share", 0.6667, 0.0, 3, 6, run_id=12)
    assert alarm.line() == "run 12: znews skipped_share 67%, baseline 0% (median of 3 runs; 6 pages)"
    assert "\n" not in Alarm("dantri", "median_body_chars", 812.0, 4210.5, 10, 40).line()
