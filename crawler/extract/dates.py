"""Dates as the sites print them, parsed with python-dateutil into aware UTC datetimes.

Sites give ISO 8601 in meta tags and JSON-LD, and visible forms such as
"Chủ nhật, 2/2/2025 05:01 (GMT+7)" (znews), "Thứ sáu, 17/07/2026 - 22:12" (dantri)
or "Le 14/06/2025 à 15:24" (developpez). A source's ``date_patterns`` find the
date in such text; a time without an offset is in the source's timezone.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from dateutil import parser as dateutil_parser

ISO_PREFIX = re.compile(r"^\s*\d{4}-\d{2}-\d{2}")
# "(GMT+7)", "GMT+07:00", "UTC-3": dateutil reads "GMT+7" the POSIX way (as UTC-7),
# so the offset is taken out and applied here.
GMT_OFFSET = re.compile(r"\(?\b(?:GMT|UTC)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?\)?", re.IGNORECASE)
# Without a source pattern, a visible date needs a day, a month and a year:
# "05:01 2/2/2025", "2/2/2025 05:01", "Le 14 juin 2025 à 15h24".
DEFAULT_PATTERNS = (
    r"\d{1,2}[:hH]\d{2}\D{1,6}\d{1,2}[/.-]\d{1,2}[/.-]\d{4}",
    r"\d{1,2}[/.-]\d{1,2}[/.-]\d{4}(?:\D{1,6}\d{1,2}[:hH]\d{2})?",
    r"\d{1,2}(?:er)? [^\W\d]{3,9}\.? \d{4}(?:\D{1,6}\d{1,2}[:hH]\d{2})?",
)
EARLIEST_PLAUSIBLE = datetime(1990, 1, 1, tzinfo=timezone.utc)


class FrenchVietnameseParserInfo(dateutil_parser.parserinfo):
    """dateutil's English words plus French month names and the words around dates."""

    JUMP = [*dateutil_parser.parserinfo.JUMP, "le", "à", "a", "lúc", "ngày", "publié", "mis", "jour"]
    MONTHS = [
        ("Jan", "January", "janvier", "janv"),
        ("Feb", "February", "février", "févr", "fevrier"),
        ("Mar", "March", "mars"),
        ("Apr", "April", "avril", "avr"),
        ("May", "mai"),
        ("Jun", "June", "juin"),
        ("Jul", "July", "juillet", "juil"),
        ("Aug", "August", "août", "aout"),
        ("Sep", "Sept", "September", "septembre"),
        ("Oct", "October", "octobre"),
        ("Nov", "November", "novembre"),
        ("Dec", "December", "décembre", "decembre"),
    ]


PARSER_INFO = FrenchVietnameseParserInfo(dayfirst=True)


def parse_datetime(
    value: str | None,
    tz: str = "UTC",
    patterns: tuple[str, ...] = (),
    dayfirst: bool = True,
) -> datetime | None:
    """Parse one date string into an aware UTC datetime, or None if it holds no date."""
    if not value or not value.strip():
        return None
    local = ZoneInfo(tz)
    text = value.strip()
    if ISO_PREFIX.match(text):
        parsed = _parse(text, dayfirst=False, fuzzy=False)
        return _to_utc(parsed, local)
    offset = None
    match = GMT_OFFSET.search(text)
    if match:
        sign = 1 if match.group(1) == "+" else -1
        offset = timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3) or 0)))
        text = GMT_OFFSET.sub(" ", text)
    for pattern in patterns or DEFAULT_PATTERNS:
        found = re.search(pattern, text)
        if found:
            parsed = _parse(" ".join(g for g in found.groups() if g) or found.group(0), dayfirst, fuzzy=True)
            if parsed is not None:
                return _to_utc(parsed, offset or local)
    return None


def _parse(text: str, dayfirst: bool, fuzzy: bool) -> datetime | None:
    try:
        return dateutil_parser.parse(text, parserinfo=PARSER_INFO, dayfirst=dayfirst, fuzzy=fuzzy)
    except (ValueError, OverflowError):
        return None


def _to_utc(parsed: datetime | None, local) -> datetime | None:
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=local)
    parsed = parsed.astimezone(timezone.utc)
    return parsed if parsed >= EARLIEST_PLAUSIBLE else None
