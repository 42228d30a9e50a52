"""The archive handle: an engine with the settings its verbs need (the sources' URL
rules, the revisit policy, where the raw web lives). ``Archive.open`` opens (and
migrates) a database; ``close`` disposes of its engines. It has no other behaviour:
the verbs are functions in small modules, each one transaction:

- runs.py: start_run, finish_run, interrupt_stale_runs
- sources.py: sync_sources (the seeds into the ``sources`` table)
- discoveries.py: record_discoveries
- schedule.py: due_articles
- visits.py: record_fetch, record_fetches, save_reextraction (the versioning rules)
  (in their transaction, versions.py writes a version's rows and links.py its links)
- validators.py: validators, validators_of (what a conditional re-fetch needs)
- readers.py: article_for, versions_of, links_of, count
- search.py: search

Verbs that only read or write rows take an Engine; those that resolve URLs or schedule
revisits take the handle, which carries the URL rules and the policy with the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Sequence

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from ..schedule import RevisitPolicy
from ..sources import Source, load_sources, source_for_url
from ..urls import canonicalize_url
from .db import create_archive_engine, create_readonly_engine, default_warc_dir
from .migrate import check_current, upgrade


@dataclass(eq=False)  # one archive is itself: compared and hashed by identity
class Archive:
    """An archive database: open it with :meth:`open`, which also migrates it."""

    engine: Engine
    # each source's URL rules (host aliases, slashes) apply when looking URLs up
    sources: dict[str, Source] | None = None
    policy: RevisitPolicy | None = None
    # where this archive's raw web (WARC files) lives
    warc_dir: Path | None = None
    session: sessionmaker = field(init=False, repr=False)
    # A second engine whose transactions begin deferred: lookups during a crawl never take
    # the write lock (and never wait for it). Connects only when first used.
    reader: Engine = field(init=False, repr=False)
    # the lookup forms of a URL, computed once per URL (every request and visit asks)
    url_forms: Callable[[str], Sequence[str]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        url = self.engine.url.render_as_string(hide_password=False)
        self.sources = load_sources() if self.sources is None else self.sources
        self.policy = self.policy or RevisitPolicy()
        self.warc_dir = Path(self.warc_dir) if self.warc_dir else default_warc_dir(url)
        self.session = sessionmaker(self.engine, expire_on_commit=False)
        self.reader = create_archive_engine(url, writer=False)
        self.url_forms = lru_cache(maxsize=65536)(lambda url: tuple(url_forms(url, self.sources)))

    @classmethod
    def open(cls, url: str | None = None, readonly: bool = False, sources: dict[str, Source] | None = None,
             policy: RevisitPolicy | None = None, warc_dir: str | Path | None = None) -> Archive:
        """Open an archive. A writer (a crawl) creates or migrates it; ``readonly`` opens it
        so that nothing can be written, and raises SchemaNotCurrent (never migrates) when
        its schema is not this code's."""
        if not readonly:
            engine = create_archive_engine(url)
            upgrade(engine)  # a no-op read when the schema is current
            return cls(engine, sources, policy, warc_dir)
        engine = create_readonly_engine(url)
        try:
            check_current(engine, display_name(engine))
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, sources, policy, warc_dir)

    def close(self) -> None:
        self.engine.dispose()
        self.reader.dispose()


def display_name(engine: Engine) -> str:
    """How messages name an archive: its file, or its URL without the password."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database:
        return url.database
    return url.render_as_string(hide_password=True)


def url_forms(url: str, sources: dict[str, Source]) -> list[str]:
    """The forms a URL is archived under: as given, canonical, and canonical by the owning
    source's rules (zingnews.vn -> znews.vn)."""
    source = source_for_url(sources, url)
    return [url, canonicalize_url(url)] + ([source.canonical(url)] if source else [])


def pick_article(forms: Sequence[str], found: Iterable[dict]) -> dict | None:
    """The one tie-break when several archived articles match a URL's forms: the article
    whose own URL is among the forms (the canonical match) wins, then the oldest."""
    return min(found, key=lambda a: (a["url"] not in forms, a["id"]), default=None)


def own_url(sources: dict[str, Source], url: str) -> str:
    """The URL a new article is archived under: canonical by its source's rules."""
    source = source_for_url(sources, url)
    return source.canonical(url) if source else canonicalize_url(url)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
