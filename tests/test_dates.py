"""Each site's visible date formats, parsed to UTC."""

from datetime import datetime, timezone

import pytest

from crawler.extract import parse_datetime
from crawler.sources import load_sources

SOURCES = load_sources()


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


@pytest.mark.parametrize(("source", "text", "expected"), [
    # znews: weekday, no zero padding, explicit GMT offset (read the civil way, not POSIX)
    ("znews", "Chủ nhật, 2/2/2025 05:01 (GMT+7)", utc(2025, 2, 1, 22, 1)),
    ("znews", "Thứ tư, 8/10/2025 18:37 (GMT+7)", utc(2025, 10, 8, 11, 37)),
    ("znews", "05:01 2/2/2025", utc(2025, 2, 1, 22, 1)),
    # dantri: local time, no offset
    ("dantri", "Thứ sáu, 17/07/2026 - 22:12", utc(2026, 7, 17, 15, 12)),
    ("dantri", "2026-07-17 22:12", utc(2026, 7, 17, 15, 12)),
    # developpez: Europe/Paris, summer and winter time
    ("developpez", "Le 14/06/2025 à 15:24", utc(2025, 6, 14, 13, 24)),
    ("developpez", "Le 03/01/2025 à 08:53", utc(2025, 1, 3, 7, 53)),
    ("01net", "Publié le 23/06/2025 à 16:05", utc(2025, 6, 23, 14, 5)),
    ("01net", "2025-06-23T14:05:00+00:00", utc(2025, 6, 23, 14, 5)),
    ("vietnamvn", "Báo Dân trí 02/07/2025", utc(2025, 7, 1, 17, 0)),
])
def test_site_formats(source, text, expected):
    rules = SOURCES[source].rules
    assert parse_datetime(text, rules.timezone, rules.date_patterns, rules.dayfirst) == expected


@pytest.mark.parametrize("text", [
    "2025-07-02T05:30:00+07:00", "2025-07-01T22:30:00Z", "2025-07-02 05:30:00+0700",
])
def test_iso_forms_keep_their_offset(text):
    assert parse_datetime(text, "Europe/Paris") == utc(2025, 7, 1, 22, 30)


def test_french_month_names():
    assert parse_datetime("Le 14 juin 2025 à 15h24", "Europe/Paris") == utc(2025, 6, 14, 13, 24)


@pytest.mark.parametrize("text", ["", "   ", "Comment (0)", "18 phút trước", "il y a 3 heures"])
def test_no_date_is_none_not_today(text):
    assert parse_datetime(text, "Asia/Ho_Chi_Minh") is None


def test_results_are_aware_utc():
    parsed = parse_datetime("Thứ sáu, 17/07/2026 - 22:12", "Asia/Ho_Chi_Minh")
    assert parsed.tzinfo is timezone.utc
