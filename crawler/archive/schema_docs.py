"""What each table and column of the archive means: the one place it is written.

The README's "Archive schema" table is rendered from here (``python -m
crawler.archive.schema_docs`` prints it; tests/test_schema_docs.py fails when the README
says something else, or when a model has a table or column not described here), and
`archive datasette-metadata` gives the same words to Datasette.

A column described as ``None`` is a row id or a foreign key: the README shows its name
alone and Datasette gets its target from the model ("→ articles.id").
Consecutive columns with the same words are shown as one group in the README.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table

from .models import Base


@dataclass(frozen=True)
class TableDoc:
    row: str                          # "one row per …"
    columns: dict[str, str | None]    # in the order the README lists them


CHANGE = "change from the previous version"
VALIDATORS = "the server's validators"

TABLES: dict[str, TableDoc] = {
    "sources": TableDoc("configured source", {
        "id": None, "name": "its key in seeds/sources.toml: `znews`, `dantri`, …",
        "description": "free text from the seeds file", "language": "ISO 639-1, for pages that declare none",
        "timezone": "IANA zone of dates printed without an offset", "domains": "its hosts, subdomains included; JSON",
    }),
    "articles": TableDoc("article, by canonical URL", {
        "id": None, "source_id": None, "url": "unique, canonical", "first_seen_at": "its first visit",
        "last_fetched_at": "its last visit", "last_changed_at": "when its newest version was captured",
        "etag": VALIDATORS, "last_modified": VALIDATORS, "raw_hash": "SHA-256 of the last page body",
        "gone_at": "set on 404/410, cleared when the page returns",
        "revisit_step": "its step in `REVISIT_INTERVALS`", "next_visit_at": "when it is due again",
        "capture_record_id": "the WARC-Record-ID of its last full response record, which revisit records refer to",
        "capture_url": "that record's target URI", "capture_date": "its WARC-Date",
        "capture_digest": "its payload digest",
    }),
    "article_versions": TableDoc("distinct state of an article", {
        "id": None, "article_id": None, "version": "1, 2, … in the order captured",
        "fetched_at": "when this state was first captured", "title": "the headline",
        "authors": "JSON array", "published_at": "publication time the page gives",
        "modified_at": "update time the page gives", "language": "ISO 639-1",
        "section": "the site's section or category", "tags": "JSON array", "summary": "the lead or standfirst",
        "text": "the body, one paragraph per line", "cited_url": "the original it names: \"Source : https://…\"",
        "content_hash": "SHA-256 of the normalised title, authors, dates, summary and text: what makes a version",
        "same_as_version": "a return to an earlier state: that version's number",
        "chars_added": CHANGE, "chars_removed": CHANGE, "words_added": CHANGE, "words_removed": CHANGE,
        "simhash": "64-bit SimHash of the text",
        "extractor_version": "extractor revision, trafilatura release and a digest of the source's rules",
        "cause": "`crawl`, or `reextract` when a newer extractor over the archived page made it",
    }),
    "article_urls": TableDoc("URL that led to an article", {
        "id": None, "article_id": None,
        "url": "unique: requested, redirected-to, old-host and tracker-laden forms",
        "first_seen_at": "when it first led there",
    }),
    "article_links": TableDoc("relation between two articles", {
        "id": None, "from_article_id": "the copy, the citing or the translated article",
        "to_article_id": "the original", "kind": "`duplicate_of`, `cites`, `translation_of`",
        "score": "1.0 for citations; 1 − bits/64 for near-duplicates", "detected_at": "when it was found",
    }),
    "fetches": TableDoc("visit of a URL", {
        "id": None, "crawl_run_id": None, "url": "the URL requested", "article_id": None,
        "version_id": "the version it created or confirmed", "fetched_at": "when",
        "http_status": "none when no answer came", "outcome": "what came of it, see below",
        "error": "why it failed or was skipped, or a note", "warc_filename": "its WARC file",
        "warc_offset": "the record's offset in that file", "warc_length": "the record's length",
        "warc_record_id": "its WARC-Record-ID",
        "warc_record_type": "`response`, or `revisit` for a 304 or an identical body",
        "source_id": "the source the visit was for (migration 0008 filled it in from the article, else the URL's host)",
        "body_source": "`site` when the source's own body selectors found the text, `generic` when only the "
                       "generic stages did; empty when the page was not extracted on this visit",
    }),
    "crawl_runs": TableDoc("run of one spider", {
        "id": None, "spider": "`sources`, `feeds`, `sitemaps`, `listings` or `revisit`", "started_at": "start",
        "finished_at": "end", "status": "`running`, `finished`, `failed`, `interrupted`",
        "reason": "why it failed or was interrupted, one line", "args": "its `-a` arguments; JSON",
        "stats": "JSON: Scrapy's stats, with `fetch/requests`, `fetch/failed`",
        "host": "the host that ran it", "pid": "its process id",
        "pid_start": "that process's start time in clock ticks since boot: how the next run tells a killed run "
                     "from a live one",
        "warc_dir": "the WARC directory it wrote to, on `host`: where its fetches' `warc_filename` are",
        "report": "JSON: what the run did per source, see \"Run reports and health alarms\"",
    }),
    "health_alarms": TableDoc("source whose extraction departed from its baseline in a run", {
        "id": None, "crawl_run_id": None, "source_id": None,
        "measure": "`median_body_chars`, `title_share`, `authors_share`, `published_at_share`, "
                   "`site_body_share`, `skipped_share`, `changed_share`",
        "value": "in the run", "baseline": "the median of `baseline_runs` earlier runs",
        "baseline_runs": "how many runs the baseline is over", "pages": "what `value` is over",
    }),
    "discoveries": TableDoc("(URL, place it was found)", {
        "id": None, "source_id": None, "url": "the article URL announced",
        "method": "`feed`, `sitemap`, `listing`, `cited`, `start`",
        "found_on": "the feed, sitemap, listing or citing page", "first_seen_at": "first seen there",
        "last_seen_at": "last seen there", "crawl_run_id": None, "published_at": "the date that place gave",
        "guid": "the feed item's guid", "title": "the title that place gave",
    }),
    "citations": TableDoc("origin a version names", {
        "id": None, "version_id": None, "article_id": None, "name": "a named origin: \"Bloomberg\"",
        "url": "or its URL", "host": "that URL's host",
    }),
    "simhash_bands": TableDoc("(version, band) of the near-duplicate index", {
        "band": "0–3: which 16 bits of the SimHash", "value": "those 16 bits", "version_id": None,
        "article_id": None,
    }),
    "version_authors": TableDoc("(version, author): `article_versions.authors` as rows, indexed by name", {
        "version_id": None, "position": "0: first in the byline", "article_id": None,
        "name": "the author's name as the byline gives it",
    }),
}

# The view and the full-text table (README "Archive schema", below the table): the view's
# columns take the words of the table they come from.
LATEST_VERSIONS = ("article_id", "url", "source", "version", "title", "authors", "published_at", "modified_at",
                   "language", "section", "tags", "summary", "text", "cited_url", "fetched_at", "first_seen_at",
                   "last_fetched_at", "gone_at", "version_id")
VIEW_FROM_ARTICLES = ("url", "first_seen_at", "last_fetched_at", "gone_at")
VIEWS = {"latest_versions": "one row per article with its newest version"}
FTS = {"articles_fts": ("full-text index of each article's newest version (rowid = article_versions.id), "
                        "diacritics ignored", ("title", "summary", "text"))}


def column_description(table: str, column: str) -> str:
    """A column's words: as written above, or its target for an id or foreign key."""
    if table == "latest_versions":
        return _view_column(column)
    if table in FTS:
        return f"article_versions.{column} of the newest version"
    words = TABLES[table].columns.get(column)
    return words if words is not None else _key_description(Base.metadata.tables[table], column)


def _view_column(column: str) -> str:
    if column == "source":
        return "sources.name"
    if column == "version_id":
        return "article_versions.id of the newest version"
    if column == "article_id":
        return "→ articles.id"
    return column_description("articles" if column in VIEW_FROM_ARTICLES else "article_versions", column)


def _key_description(table: Table, column: str) -> str:
    foreign = next(iter(table.c[column].foreign_keys), None)
    if foreign is not None:
        return f"→ {foreign.target_fullname}"
    return "row id"


def readme_table() -> str:
    """The README's schema table, one line per table."""
    lines = ["| table | one row per | columns |", "|---|---|---|"]
    for name, doc in TABLES.items():
        lines.append(f"| `{name}` | {doc.row} | {_columns_cell(doc.columns)} |")
    return "\n".join(lines) + "\n"


def _columns_cell(columns: dict[str, str | None]) -> str:
    """`a`, `b` (words), `c`: consecutive columns with the same words share them."""
    parts: list[str] = []
    names = list(columns)
    for i, name in enumerate(names):
        words = columns[name]
        follows_same = i + 1 < len(names) and words is not None and columns[names[i + 1]] == words
        parts.append(f"`{name}`" + (f" ({words})" if words and not follows_same else ""))
    return ", ".join(parts)


if __name__ == "__main__":
    print(readme_table(), end="")
