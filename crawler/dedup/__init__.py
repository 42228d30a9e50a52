"""Dedup: pure functions that decide when two texts are the same, nearly the same,
or how much one changed. Nothing here touches the database or Scrapy."""

from .changes import ChangeSize, change_size, word_diff
from .fingerprint import hamming, normalize_for_hash, simhash, simhash_bands, version_hash

__all__ = ["ChangeSize", "change_size", "word_diff", "hamming", "normalize_for_hash", "simhash",
           "simhash_bands", "version_hash"]
