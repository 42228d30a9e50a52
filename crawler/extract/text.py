"""Plain-text clean-up shared by every extracted field."""

from __future__ import annotations

import re
import unicodedata

SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
# the spaces SPACES rewrites besides " " (a line that has none, nor "  ", is left as it is)
ODD_SPACES = re.compile(r"[\t\u00a0\u2000-\u200b\u202f\u205f\u3000]")
LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")
# trafilatura renders a one-cell layout table (znews photo captions) as "| caption |"
ONE_CELL_ROW = re.compile(r"^\|\s*([^|]*?)\s*\|$")


def clean_line(value: str) -> str:
    """NFC, one line, one space between words, no zero-width or non-breaking spaces."""
    # Each substitution only where it changes something: a sub that rewrites every " " to
    # " " was 90 % of the time (issue 11: clean_line was 8 % of an extraction worker).
    value = unicodedata.normalize("NFC", value)
    if "\u00ad" in value:
        value = value.replace("\u00ad", "")
    if "\n" in value or "\r" in value:
        value = LINE_BREAKS.sub(" ", value)
    if "  " in value or ODD_SPACES.search(value):
        value = SPACES.sub(" ", value)
    return value.strip()


def clean_text(value: str) -> str:
    """Normalise a multi-paragraph text: one paragraph per line, no blank runs."""
    lines = []
    for raw in value.splitlines():
        line = clean_line(raw)  # one line at a time, so line breaks survive
        match = ONE_CELL_ROW.match(line)
        if match:
            line = match.group(1)
        if line:
            lines.append(line)
    return "\n".join(lines)
