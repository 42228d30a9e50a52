"""Full-text search over each article's newest version.

On SQLite the FTS5 table ``articles_fts`` (migration 0002) answers: bm25 ranking (title
weighs most), ``snippet()`` excerpts, and the ``unicode61 remove_diacritics 2`` tokenizer,
so "the gioi" finds "thế giới" and "eleve" finds "élève". Every SQLite-specific bit of
the archive's search lives in this module.

On PostgreSQL the table ``articles_search`` (migration 0009) answers: the ``tsvector`` of
each article's newest version in a GIN index, words folded by the ``unaccent`` dictionary
(``archive_search``, a copy of the ``simple`` configuration), ``ts_rank`` with the same
title/summary/text weights and ``ts_headline`` snippets. PostgreSQL's unaccent folds "đ"
to "d" itself, so no đ variants are needed there.

Any other database gets a portable fallback: a case-insensitive LIKE over
``latest_versions`` (title, summary, text), newest publications first. It is **not**
diacritics-insensitive: there "the gioi" does not find "thế giới".

Query syntax, on both: words separated by spaces, all of which must occur (in any
column); "double quotes" make a phrase; a trailing ``*`` makes a prefix (``zucker*``).
Anything else is taken literally: user input never reaches FTS5 as syntax.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Integer, String, Text, and_, column, or_, select, table, text

from .models import UTCDateTime
from .store import Archive

SNIPPET_OPEN, SNIPPET_CLOSE, SNIPPET_ELLIPSIS = "[", "]", "…"
SNIPPET_TOKENS = 16  # words in an FTS5 snippet
SNIPPET_CHARS = 160  # characters in a fallback snippet
BM25_WEIGHTS = (10.0, 3.0, 1.0)  # title, summary, text
# Vietnamese "đ" is a letter of its own, not d plus a diacritic: unicode61 keeps it, so a
# query typed without diacritics also tries đ for each d (up to this many d's per term).
MAX_D_VARIANTS = 3

# The latest_versions view (README "Archive schema"), as much of it as search reads.
latest_versions = table(
    "latest_versions",
    column("article_id", Integer), column("url", Text), column("source", String), column("version", Integer),
    column("title", Text), column("summary", Text), column("text", Text),
    column("published_at", UTCDateTime()), column("fetched_at", UTCDateTime()),
    column("gone_at", UTCDateTime()), column("version_id", Integer),
)

FTS_QUERY = text(f"""
    SELECT a.url AS url, s.name AS source, v.title AS title, v.published_at AS published_at,
           snippet(articles_fts, -1, :open, :close, :ellipsis, {SNIPPET_TOKENS}) AS snippet
    FROM articles_fts
    JOIN article_versions AS v ON v.id = articles_fts.rowid
    JOIN articles AS a ON a.id = v.article_id
    JOIN sources AS s ON s.id = a.source_id
    WHERE articles_fts MATCH :match AND (:source IS NULL OR s.name = :source)
    ORDER BY bm25(articles_fts, {", ".join(map(str, BM25_WEIGHTS))}), a.id
    LIMIT :limit
""").columns(url=Text, source=String, title=Text, published_at=UTCDateTime(), snippet=Text)

TERM = re.compile(r'"([^"]+)"(\*?)|(\S+)')


@dataclass(frozen=True)
class SearchHit:
    url: str
    source: str
    title: str
    published_at: datetime | None
    snippet: str


@dataclass(frozen=True)
class Term:
    """One thing the user asked for: a word or a phrase, maybe a prefix."""

    words: str
    prefix: bool = False


def parse_terms(terms: str) -> list[Term]:
    """Split user input into words and "quoted phrases"; a trailing * asks for a prefix.

    Terms without a letter or digit ("-", "(", '""') are dropped: no word could match them.
    """
    parsed = []
    for phrase, phrase_star, word in TERM.findall(terms):
        words, prefix = (phrase, bool(phrase_star)) if phrase else (word.rstrip("*"), word.endswith("*"))
        if re.search(r"\w", words):
            parsed.append(Term(" ".join(words.split()), prefix))
    return parsed


def search(archive: Archive, terms: str, source: str | None = None, limit: int = 20) -> list[SearchHit]:
    """Articles whose newest version matches every term, best first.

    Raises ValueError when ``terms`` holds nothing to search for.
    """
    parsed = parse_terms(terms)
    if not parsed:
        raise ValueError(f"nothing to search for in {terms!r}")
    if archive.engine.dialect.name == "sqlite":
        return _search_fts5(archive, parsed, source, limit)
    if archive.engine.dialect.name == "postgresql":
        return _search_tsvector(archive, parsed, source, limit)
    return _search_like(archive, parsed, source, limit)


# -- SQLite: FTS5 --------------------------------------------------------------

# The versions a transaction stores wait in articles_fts_pending (its trigger, migration 0013) and
# join the index here, in two statements: FTS5 writes a segment of its index at each statement
# savepoint, so indexing each version from its own INSERT made a segment a page, and merging them
# was most of the index's cost. Rows in ascending rowid order: FTS5 also starts a segment when
# the rowids it is given go down. CROSS JOIN is SQLite's way to fix the join order: the few pending
# rows drive the loop (left to itself the planner scanned every version, to skip the sort).
INDEX_PENDING = (
    # each pending version's predecessor leaves the index, unless it is pending too (never indexed)
    """INSERT INTO articles_fts(articles_fts, rowid, title, summary, text)
       SELECT 'delete', old.id, old.title, old.summary, old.text
       FROM articles_fts_pending AS p
       CROSS JOIN article_versions AS new ON new.id = p.version_id
       CROSS JOIN article_versions AS old ON old.article_id = new.article_id AND old.version = new.version - 1
       WHERE old.id NOT IN (SELECT version_id FROM articles_fts_pending)
       ORDER BY old.id""",
    # and each article's newest pending version joins it
    """INSERT INTO articles_fts(rowid, title, summary, text)
       SELECT new.id, new.title, new.summary, new.text
       FROM articles_fts_pending AS p CROSS JOIN article_versions AS new ON new.id = p.version_id
       WHERE NOT EXISTS (SELECT 1 FROM article_versions AS newer
                         WHERE newer.article_id = new.article_id AND newer.version = new.version + 1
                           AND newer.id IN (SELECT version_id FROM articles_fts_pending))
       ORDER BY p.version_id""",
    "DELETE FROM articles_fts_pending",
)


def index_pending_versions(connection: Connection) -> None:
    """Index the versions stored in this transaction so far (SQLite; PostgreSQL's trigger
    keeps its index itself). The store calls it at the end of each batch, before COMMIT."""
    if connection.dialect.name == "sqlite":
        for statement in INDEX_PENDING:
            connection.exec_driver_sql(statement)


def fts5_query(terms: list[Term]) -> str:
    """An FTS5 MATCH expression in which every term is a quoted string: no user syntax.

    Terms are joined by an explicit AND: FTS5's implicit AND does not combine with the
    parenthesised đ alternatives ('"a" ("b" OR "c")' is a syntax error).
    """
    return " AND ".join(_fts5_term(term) for term in terms)


def _fts5_term(term: Term) -> str:
    star = "*" if term.prefix else ""
    variants = [f'"{words.replace(chr(34), chr(34) * 2)}"{star}' for words in _d_variants(term.words)]
    return variants[0] if len(variants) == 1 else "(" + " OR ".join(variants) + ")"


def _d_variants(words: str) -> list[str]:
    """``words`` and, for each d in it, the same with đ ("doan" -> "doan", "đoan")."""
    positions = [i for i, char in enumerate(words) if char in "dD"]
    if not positions or len(positions) > MAX_D_VARIANTS:
        return [words]
    variants = []
    for choice in itertools.product((False, True), repeat=len(positions)):
        chars = list(words)
        for position, use_dj in zip(positions, choice):
            chars[position] = "đ" if use_dj else chars[position]
        variants.append("".join(chars))
    return variants


def _search_fts5(archive: Archive, terms: list[Term], source: str | None, limit: int) -> list[SearchHit]:
    params = {"match": fts5_query(terms), "source": source, "limit": limit,
              "open": SNIPPET_OPEN, "close": SNIPPET_CLOSE, "ellipsis": SNIPPET_ELLIPSIS}
    with archive.engine.connect() as connection:
        rows = connection.execute(FTS_QUERY, params).mappings().all()
    return [SearchHit(**{**row, "snippet": " ".join(row["snippet"].split())}) for row in rows]


# -- PostgreSQL: tsvector ----------------------------------------------------------

# ts_rank's weights for {D, C, B, A}: text, -, summary, title, in the ratio of BM25_WEIGHTS
TS_RANK_WEIGHTS = "{%s, 0, %s, %s}" % tuple(w / BM25_WEIGHTS[0] for w in reversed(BM25_WEIGHTS))
# rank / (1 + log(length)): a long text repeating a word beats a short one less (FTS5's bm25
# normalises by length too)
TS_RANK_NORMALISATION = 1
HEADLINE_OPTIONS = (f"StartSel={SNIPPET_OPEN}, StopSel={SNIPPET_CLOSE}, MaxWords={SNIPPET_TOKENS}, "
                    f"MinWords={SNIPPET_TOKENS // 2}, MaxFragments=1")
TSVECTOR_QUERY = """
    WITH q AS (SELECT {query} AS query),
    best AS (
        SELECT f.article_id, f.version_id, ts_rank(:weights, f.document, q.query, :normalisation) AS rank
        FROM q, articles_search AS f
        JOIN articles AS a ON a.id = f.article_id
        JOIN sources AS s ON s.id = a.source_id
        WHERE f.document @@ q.query {source}
        ORDER BY rank DESC, f.article_id
        LIMIT :limit)
    SELECT a.url AS url, s.name AS source, v.title AS title, v.published_at AS published_at,
           ts_headline('archive_search', concat_ws(' ', v.summary, v.text), q.query, :options) AS snippet,
           concat_ws(' ', v.summary, v.text) AS body
    FROM q, best
    JOIN article_versions AS v ON v.id = best.version_id
    JOIN articles AS a ON a.id = best.article_id
    JOIN sources AS s ON s.id = a.source_id
    ORDER BY best.rank DESC, best.article_id
"""


def tsquery_sql(terms: list[Term]) -> tuple[str, dict[str, str]]:
    """A tsquery expression with one bound parameter per term: every term is parsed by
    ``phraseto_tsquery`` (user input is never tsquery syntax), a prefix term's last word
    gets ``:*``, and the terms are ANDed."""
    parts, params = [], {}
    for i, term in enumerate(terms):
        phrase = f"phraseto_tsquery('archive_search', :term{i})"
        if term.prefix:  # a term with no word in it (numnode 0) stays empty, not ':*'
            phrase = f"(CASE WHEN numnode({phrase}) = 0 THEN {phrase} ELSE ({phrase}::text || ':*')::tsquery END)"
        parts.append(phrase)
        params[f"term{i}"] = term.words
    return " && ".join(parts), params


def _search_tsvector(archive: Archive, terms: list[Term], source: str | None, limit: int) -> list[SearchHit]:
    query, params = tsquery_sql(terms)
    sql = text(TSVECTOR_QUERY.format(query=query, source="AND s.name = :source" if source is not None else ""))
    params |= {"weights": TS_RANK_WEIGHTS, "normalisation": TS_RANK_NORMALISATION, "limit": limit,
               "options": HEADLINE_OPTIONS} | ({"source": source} if source is not None else {})
    with archive.engine.connect() as connection:
        rows = connection.execute(sql.columns(published_at=UTCDateTime()), params).mappings().all()
    return [SearchHit(row["url"], row["source"], row["title"], row["published_at"],
                      _with_ellipses(row["snippet"], row["body"])) for row in rows]


def _with_ellipses(headline: str, body: str) -> str:
    """``ts_headline``'s excerpt with … where it cuts the body, as FTS5's snippet()."""
    headline = " ".join(headline.split())

    def plain(value: str) -> str:  # the words only: the excerpt drops the body's last full stop
        return " ".join(re.findall(r"\w+", value.replace(SNIPPET_OPEN, "").replace(SNIPPET_CLOSE, "")))

    excerpt, whole = plain(headline), plain(body)
    return ((SNIPPET_ELLIPSIS if not whole.startswith(excerpt) else "") + headline
            + (SNIPPET_ELLIPSIS if not whole.endswith(excerpt) else ""))


# -- elsewhere: portable LIKE ------------------------------------------------------


def _search_like(archive: Archive, terms: list[Term], source: str | None, limit: int) -> list[SearchHit]:
    """Every term in the title, summary or text (case-insensitive, diacritics-sensitive)."""
    lv = latest_versions.c
    matches = [or_(*(col.icontains(term.words, autoescape=True) for col in (lv.title, lv.summary, lv.text)))
               for term in terms]
    query = (select(lv.url, lv.source, lv.title, lv.published_at, lv.summary, lv.text)
             .where(and_(*matches))
             .order_by(lv.published_at.desc().nulls_last(), lv.article_id).limit(limit))
    if source is not None:
        query = query.where(lv.source == source)
    with archive.engine.connect() as connection:
        rows = connection.execute(query).all()
    return [SearchHit(row.url, row.source, row.title, row.published_at,
                      like_snippet(f"{row.summary or ''}\n{row.text}", terms)) for row in rows]


def like_snippet(body: str, terms: list[Term], width: int = SNIPPET_CHARS) -> str:
    """About ``width`` characters of ``body`` around the first term found, terms marked."""
    body = " ".join(body.split())
    pattern = re.compile("|".join(re.escape(term.words) for term in terms), re.IGNORECASE)
    found = pattern.search(body)
    start = max(0, (found.start() if found else 0) - width // 3)
    end = min(len(body), start + width)
    excerpt = pattern.sub(lambda m: f"{SNIPPET_OPEN}{m.group(0)}{SNIPPET_CLOSE}", body[start:end])
    return (SNIPPET_ELLIPSIS if start else "") + excerpt + (SNIPPET_ELLIPSIS if end < len(body) else "")
