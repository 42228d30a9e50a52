"""Fingerprints: an exact hash that ignores cosmetic differences, and a 64-bit SimHash
for near-duplicates with a banded index (no table scan)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Protocol

# Cosmetic differences that must not make a version: typographic quotes and dashes,
# ellipsis, exotic spaces, zero-width characters, soft hyphens, re-flowed paragraphs.
TYPOGRAPHY = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u02bc": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2033": '"', "\u2039": "'", "\u203a": "'",
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u2026": "...", "\u00ad": None, "\u200b": None, "\u200c": None, "\u200d": None, "\ufeff": None,
})
WHITESPACE = re.compile(r"\s+")
# French spacing ("mot : « x »") vs English ("mot: "x""): spaces around quotes, before
# closing punctuation and after opening brackets are not content.
SPACE_AROUND_PUNCT = re.compile(r"\s*([\"'])\s*|\s+([,.;:!?%)\]])|([(\[])\s+")
WORD = re.compile(r"\w+", re.UNICODE)

SIMHASH_BITS = 64
SHINGLE_WORDS = 3
# 4 bands of 16 bits: two fingerprints within 3 bits share at least one band (pigeonhole).
SIMHASH_BANDS = 4
BAND_BITS = SIMHASH_BITS // SIMHASH_BANDS
# At most this many differing bits counts as "the same text" (Manku et al., WWW 2007, k=3).
NEAR_DUPLICATE_BITS = 3


class Versionable(Protocol):
    title: str
    authors: tuple[str, ...]
    published_at: object
    modified_at: object
    summary: str | None
    text: str


def normalize_for_hash(value: str | None) -> str:
    """The text as compared for changes: NFC, plain quotes/dashes, one space everywhere."""
    value = unicodedata.normalize("NFC", value or "").translate(TYPOGRAPHY)
    value = WHITESPACE.sub(" ", value).strip()
    return SPACE_AROUND_PUNCT.sub(lambda m: m.group(1) or m.group(2) or m.group(3), value)


def version_hash(article: Versionable) -> str:
    """SHA-256 over what makes a new version: title, authors, dates, summary, text."""
    dates = [d.isoformat() if d else "" for d in (article.published_at, article.modified_at)]
    parts = [article.title, "\n".join(article.authors), *dates, article.summary, article.text]
    digest = hashlib.sha256()
    for part in parts:
        digest.update(normalize_for_hash(part).encode("utf-8"))
        digest.update(b"\x1f")
    return digest.hexdigest()


# SimHash sums +1/-1 per bit over every shingle. Python loops over 64 bits per shingle
# are slow, so the per-bit counters are packed into one big integer, LANE bits per bit,
# and each shingle's hash is spread into lanes with a 256-entry table per byte.
LANE = 24  # counts up to 2**23 shingles per text
_SPREAD = [sum(((b >> i) & 1) << (i * LANE) for i in range(8)) for b in range(256)]


def simhash(text: str) -> int:
    """64-bit SimHash of a text's word 3-shingles, as a signed 64-bit integer (SQL BIGINT)."""
    words = WORD.findall(normalize_for_hash(text).casefold())
    if not words:
        return 0
    shingles = [" ".join(words[i:i + SHINGLE_WORDS]) for i in range(max(1, len(words) - SHINGLE_WORDS + 1))]
    packed = 0
    for shingle in shingles:
        h = int.from_bytes(hashlib.blake2b(shingle.encode("utf-8"), digest_size=8).digest(), "little")
        for byte_index in range(8):
            packed += _SPREAD[(h >> (8 * byte_index)) & 0xFF] << (byte_index * 8 * LANE)
    half, mask, value = len(shingles) / 2, (1 << LANE) - 1, 0
    for bit in range(SIMHASH_BITS):
        if ((packed >> (bit * LANE)) & mask) > half:
            value |= 1 << bit
    return value - (1 << 64) if value >= 1 << 63 else value


def simhash_bands(fingerprint: int) -> list[int]:
    """The 16-bit bands of a fingerprint, band 0 first."""
    unsigned = fingerprint & ((1 << 64) - 1)
    return [(unsigned >> (band * BAND_BITS)) & ((1 << BAND_BITS) - 1) for band in range(SIMHASH_BANDS)]


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & ((1 << 64) - 1)).bit_count()
