"""Spiders, one per discovery method (start URLs now; feeds, sitemaps, listings next)."""
