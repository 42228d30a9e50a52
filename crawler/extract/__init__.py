"""Extraction: pure functions from (HTML text, URL, source rules) to plain data."""

from .article import Article, NotAnArticle, extract_article, extract_short_article, extractor_version
from .dates import parse_datetime
from ..urls import canonicalize_url

__all__ = ["Article", "NotAnArticle", "extract_article", "extract_short_article", "extractor_version", "parse_datetime", "canonicalize_url"]
