"""Fingerprints: an exact hash that ignores cosmetic differences, and a 64-bit SimHash
for near-duplicates with a banded index (no table scan)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
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
# str.translate with a dict looks every character up (0.26 ms on a 5 KB text); a regex
# over the few characters concerned is 15x faster and gives the same string.
_TYPOGRAPHY_CHARS = re.compile("[" + re.escape("".join(map(chr, TYPOGRAPHY))) + "]")
_TYPOGRAPHY_MAP = {chr(k): v or "" for k, v in TYPOGRAPHY.items()}
# French spacing ("mot : « x »") vs English ("mot: "x""): a space before a quote or a
# closing punctuation mark, or after a quote or an opening bracket, is not content.
SPACE_BEFORE = "\"',.;:!?%)]"
SPACE_AFTER = "\"'(["
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
    value = unicodedata.normalize("NFC", value or "")
    value = _TYPOGRAPHY_CHARS.sub(lambda m: _TYPOGRAPHY_MAP[m.group()], value)
    value = " ".join(value.split())  # str.split() splits on exactly what re's \s matches
    return _drop_spaces_around_punctuation(value)


def _drop_spaces_around_punctuation(value: str) -> str:
    """Remove each space of ``value`` (single spaces between non-spaces) that follows a
    SPACE_AFTER character or precedes a SPACE_BEFORE one. A space's neighbours are never
    spaces, so removing one does not change whether another goes: one ``str.replace`` per
    character gives the string the former regex gave (tests/test_dedup.py compares them),
    in 40 % of its time (issue 11: the regex was two thirds of normalising a 5 KB text)."""
    for char in SPACE_BEFORE:
        value = value.replace(" " + char, char)
    for char in SPACE_AFTER:
        value = value.replace(char + " ", char)
    return value


def version_hash(article: Versionable) -> str:
    """SHA-256 over what makes a new version: title, authors, dates, summary, text."""
    return _version_hash(article, normalize_for_hash(article.text))


def _version_hash(article: Versionable, normalized_text: str) -> str:
    dates = [d.isoformat() if d else "" for d in (article.published_at, article.modified_at)]
    parts = [article.title, "\n".join(article.authors), *dates, article.summary]
    digest = hashlib.sha256()
    for part in parts:
        digest.update(normalize_for_hash(part).encode("utf-8"))
        digest.update(b"\x1f")
    digest.update(normalized_text.encode("utf-8"))
    digest.update(b"\x1f")
    return digest.hexdigest()


def simhash(text: str) -> int:
    """64-bit SimHash of a text's word 3-shingles, as a signed 64-bit integer (SQL BIGINT):
    bit i is set when more than half the shingles' BLAKE2b-64 hashes (little-endian) have it."""
    return _simhash(normalize_for_hash(text))


def _simhash(normalized: str) -> int:
    words = WORD.findall(normalized.casefold())
    if not words:
        return 0
    # word 3-shingles (a text of fewer words is one shingle of them all)
    shingles = (map(" ".join, zip(*(words[i:] for i in range(SHINGLE_WORDS)))) if len(words) >= SHINGLE_WORDS
                else [" ".join(words)])
    blake2b = hashlib.blake2b
    hashes = b"".join([blake2b(shingle.encode("utf-8"), digest_size=8).digest() for shingle in shingles])
    count = len(hashes) // 8
    import numpy as np  # here: 0.18 s of import a 304 re-crawl's process never needs (it fingerprints nothing)
    # The per-bit vote in numpy (issue 11: 3.6 ms of Python per 5 KB text, now ~0.1 ms):
    # one row of 64 bits per shingle, bit i of the hash in column i.
    bits = np.unpackbits(np.frombuffer(hashes, dtype=np.uint8).reshape(count, 8), axis=1, bitorder="little")
    majority = bits.sum(axis=0, dtype=np.int32) > count / 2
    value = int.from_bytes(np.packbits(majority, bitorder="little").tobytes(), "little")
    return value - (1 << 64) if value >= 1 << 63 else value


@dataclass(frozen=True)
class Fingerprint:
    """An article's content hash (version_hash) and SimHash (simhash of its text)."""

    content_hash: str
    simhash: int


def fingerprint(article: Versionable) -> Fingerprint:
    """version_hash and simhash of an article, normalising its text once. Remembered on the
    (frozen) article with the fields they were computed from: the extraction worker computes
    them (crawler/extract/pool.py), they travel pickled with the article and through
    ``dataclasses.replace`` (FollowCitedPipeline canonicalises the citations), and the
    store's process does not pay for them again unless a hashed field differs."""
    key = (article.title, article.authors, article.published_at, article.modified_at, article.summary, article.text)
    memo = getattr(article, "fingerprint_memo", None)
    if memo is not None and memo[0] == key:  # the same objects, mostly: an identity check per field
        return memo[1]
    normalized = normalize_for_hash(article.text)
    found = Fingerprint(_version_hash(article, normalized), _simhash(normalized))
    if hasattr(article, "fingerprint_memo"):
        object.__setattr__(article, "fingerprint_memo", (key, found))  # frozen: a cache, not a field's value
    return found


def simhash_bands(fingerprint: int) -> list[int]:
    """The 16-bit bands of a fingerprint, band 0 first."""
    unsigned = fingerprint & ((1 << 64) - 1)
    return [(unsigned >> (band * BAND_BITS)) & ((1 << BAND_BITS) - 1) for band in range(SIMHASH_BANDS)]


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & ((1 << 64) - 1)).bit_count()
