"""The revisit policy, with a fake clock."""

from datetime import datetime, timedelta, timezone

import pytest

from crawler.schedule import DEFAULT_INTERVALS, RevisitPolicy

NOW = datetime(2025, 7, 10, 12, 0, tzinfo=timezone.utc)
OLD = NOW - timedelta(days=30)
POLICY = RevisitPolicy()


def test_unchanged_backs_off_step_by_step_and_stays_at_the_last():
    step, due = 0, None
    seen = []
    for _ in range(len(DEFAULT_INTERVALS) + 2):
        step, due = POLICY.next_visit(NOW, step, "unchanged", OLD)
        seen.append(due - NOW)
    assert seen[:6] == [timedelta(hours=1), timedelta(hours=6), timedelta(days=1), timedelta(days=7),
                        timedelta(days=30), timedelta(days=30)]
    assert step == len(DEFAULT_INTERVALS) - 1


@pytest.mark.parametrize("outcome", ["new", "changed"])
def test_a_change_starts_over_at_fifteen_minutes(outcome):
    assert POLICY.next_visit(NOW, 4, outcome, OLD) == (0, NOW + timedelta(minutes=15))


def test_not_modified_counts_as_unchanged():
    assert POLICY.next_visit(NOW, 2, "not_modified", OLD) == POLICY.next_visit(NOW, 2, "unchanged", OLD)


def test_young_articles_never_back_off_past_an_hour():
    young = NOW - timedelta(hours=5)
    assert POLICY.next_visit(NOW, 4, "unchanged", young) == (1, NOW + timedelta(hours=1))
    # two days later the same article backs off normally
    later = NOW + timedelta(days=3)
    assert POLICY.next_visit(later, 1, "unchanged", young) == (2, later + timedelta(hours=6))


def test_gone_is_checked_rarely_and_keeps_its_step():
    assert POLICY.next_visit(NOW, 3, "gone", OLD) == (3, NOW + timedelta(days=30))


def test_errors_retry_at_the_current_pace():
    assert POLICY.next_visit(NOW, 2, "error", OLD) == (2, NOW + timedelta(hours=6))


def test_policy_from_settings_names_bad_values():
    policy = RevisitPolicy.from_minutes(["5", 10], young_hours=1, young_max_step=0, gone_days=7)
    assert policy.intervals == (timedelta(minutes=5), timedelta(minutes=10))
    with pytest.raises(ValueError, match="REVISIT_INTERVALS"):
        RevisitPolicy.from_minutes(["soon"], 1, 0, 7)
    with pytest.raises(ValueError, match="REVISIT_INTERVALS"):
        RevisitPolicy.from_minutes([], 1, 0, 7)
