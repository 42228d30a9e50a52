"""Benchmark: the README's example queries on an archive of 1,000,000 versions.

Target (issue 11): each example query takes <= 50 ms on SQLite.

    .venv/bin/python bench/query.py [--versions 1000000] [--rebuild] [--repeat 5]

Builds (once; cached in bench/.cache/) a SQLite archive at the schema head with
--versions generated versions over a quarter as many articles, spread over the year
before the build: articles, article_urls, article_versions (FTS5-indexed as the
triggers would: newest version per article), fetches (one per version, plus errors and
skips, one crawl run per hour), article_links, citations, discoveries, crawl_runs.
simhash_bands is left empty: no example query reads it. Bulk inserts through sqlite3,
triggers off, FTS filled in one statement afterwards.

Then runs every query of README "Example queries" exactly as written (the one URL they
name is replaced by an archived URL with several versions; the other parameters exist in
the generated data), fetching every row, and prints per query: the median wall time of
--repeat runs after one warm-up run, rows, PASS/FAIL, and EXPLAIN QUERY PLAN when it fails.
A cached archive is brought to the schema head on open (new indexes are built then), or
down to --revision (0005: before the indexes of issue 11), to compare.
Writes bench/out/query.json. Exit status 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sqlite3
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(PROJECT_ROOT), str(Path(__file__).resolve().parent)]

from crawler.archive.db import create_archive_engine  # noqa: E402
from crawler.archive.migrate import current_revision, downgrade, upgrade  # noqa: E402
from crawler.datasette import readme_examples  # noqa: E402
from crawler.sources import load_sources  # noqa: E402
from fakeweb import URL_PATTERNS, load_templates  # noqa: E402
from timing import code_state  # noqa: E402

TARGET_MS = 50.0
README_URL = "https://znews.vn/cuoc-choi-lon-cua-mark-zuckerberg-post1556369.html"
SPAN = timedelta(days=365)
CHUNK = 20_000  # versions per executemany round
AUTHORS = ["Alex", *(f"Auteur {n}" for n in range(499))]
ORIGINS = ["Bloomberg", "Reuters", "AFP", "The Verge", "TechCrunch", None, None]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=1_000_000, help="versions to generate (default: 1000000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per query after a warm-up (default: 5)")
    parser.add_argument("--revision", default="head", help="schema revision to time (e.g. 0005: before the "
                        "query indexes; default: head)")
    parser.add_argument("--rebuild", action="store_true", help="regenerate even if the cached archive exists")
    parser.add_argument("--cache", type=Path, default=PROJECT_ROOT / "bench" / ".cache")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench" / "out" / "query.json")
    return parser.parse_args()


# -- the README's queries ------------------------------------------------------------

def readme_queries(readme: Path = PROJECT_ROOT / "README.md") -> list[tuple[str, str]]:
    """(comment, SQL) of each query in README "Example queries", as written: read as Datasette's
    canned queries are (crawler/datasette.py)."""
    return readme_examples(readme.read_text(encoding="utf-8"))


# -- generation ------------------------------------------------------------------

def sql_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


class Words:
    """Zipf-distributed words from the bundled pages' vocabulary, as in real text."""

    def __init__(self, rng: random.Random):
        self.words = sorted({w for t in load_templates() for w in t.vocabulary})
        rng.shuffle(self.words)
        weights, total = [], 0.0
        for rank in range(len(self.words)):
            total += 1 / (rank + 1)
            weights.append(total)
        self.cumulative, self.rng = weights, rng

    def text(self, low: int, high: int) -> str:
        return " ".join(self.rng.choices(self.words, cum_weights=self.cumulative, k=self.rng.randint(low, high)))


def version_times(rng: random.Random, first: datetime, count: int, now: datetime) -> list[datetime]:
    """First capture, then edits a few hours to a few days apart, none after now."""
    times = [first]
    for _ in range(count - 1):
        edit = times[-1] + timedelta(hours=rng.expovariate(1 / 30))
        if edit > now:
            break
        times.append(edit)
    return times


def article_rows(number: int, rng: random.Random, words: Words, sources: dict[str, int], now: datetime,
                 run_of: callable) -> dict[str, list]:
    """Every row of archived article ``number`` (its id), and its versions (ids assigned later)."""
    name = list(URL_PATTERNS)[number % len(URL_PATTERNS)]
    url = URL_PATTERNS[name].format(i=number, n=2_000_000 + number)
    times = version_times(rng, now - SPAN * rng.random(), min(7, 1 + int(rng.expovariate(1 / 3))), now)
    count = len(times)
    authors = json.dumps(rng.sample(AUTHORS, rng.choice((1, 1, 2))))
    published = sql_time(times[0] - timedelta(minutes=rng.randint(5, 600)))
    rows = {"articles": [(number, sources[name], url, sql_time(times[0]), sql_time(times[-1]), sql_time(times[-1]),
                          None, None, None, sql_time(times[-1]) if rng.random() < 0.01 else None, count - 1,
                          sql_time(times[-1] + timedelta(days=rng.randint(1, 30))))],
            "article_urls": [(url, number, sql_time(times[0]))],
            "discoveries": [(sources[name], url, rng.choice(("feed", "sitemap", "listing")),
                             f"https://{url.split('/')[2]}/feed-{rng.randrange(4)}.rss", sql_time(times[0]),
                             sql_time(times[0]), run_of(times[0]), published)],
            "versions": []}
    if rng.random() < 0.3:
        rows["article_urls"].append((url + "?utm_source=rss", number, sql_time(times[0])))
    title, text = words.text(6, 12).capitalize(), words.text(50, 110)
    for version, at in enumerate(times, 1):
        if version > 1:  # an edit: a few words changed
            text = text + " " + words.text(3, 15)
        rows["versions"].append((number, version, sql_time(at), title, authors, published, None, "vi", "Công nghệ",
                                 '["AI"]', None, text, None, f"{rng.getrandbits(256):064x}",
                                 1 if version == 3 and rng.random() < 0.05 else None, 60, 0, 10, 0,
                                 rng.getrandbits(63)))
    return rows


INSERTS = {
    "articles": "INSERT INTO articles (id, source_id, url, first_seen_at, last_fetched_at, last_changed_at, etag, "
                "last_modified, raw_hash, gone_at, revisit_step, next_visit_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
    "article_urls": "INSERT INTO article_urls (url, article_id, first_seen_at) VALUES (?,?,?)",
    "discoveries": "INSERT INTO discoveries (source_id, url, method, found_on, first_seen_at, last_seen_at, "
                   "crawl_run_id, published_at) VALUES (?,?,?,?,?,?,?,?)",
    "article_versions": "INSERT INTO article_versions (id, article_id, version, fetched_at, title, authors, "
                        "published_at, modified_at, language, section, tags, summary, text, cited_url, content_hash, "
                        "same_as_version, chars_added, chars_removed, words_added, words_removed, simhash) "
                        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "fetches": "INSERT INTO fetches (crawl_run_id, url, article_id, version_id, fetched_at, http_status, outcome, "
               "error) VALUES (?,?,?,?,?,?,?,?)",
    "citations": "INSERT INTO citations (version_id, article_id, name, url, host) VALUES (?,?,?,?,?)",
    "article_links": "INSERT OR IGNORE INTO article_links (from_article_id, to_article_id, kind, score, detected_at) "
                     "VALUES (?,?,?,?,?)",
}


def flush(db: sqlite3.Connection, pending: dict[str, list]) -> None:
    for table, sql in INSERTS.items():
        if pending.get(table):
            db.executemany(sql, pending[table])
    pending.clear()


def runs(db: sqlite3.Connection, now: datetime) -> callable:
    """One finished crawl run per hour of the year; returns time -> its run id."""
    start = now - SPAN
    hours = int(SPAN.total_seconds() // 3600) + 1
    db.executemany("INSERT INTO crawl_runs (id, spider, started_at, finished_at, status, args, stats) "
                   "VALUES (?,?,?,?,?,?,?)",
                   [(h + 1, "recrawl", sql_time(start + timedelta(hours=h)),
                     sql_time(start + timedelta(hours=h, minutes=4)), "finished", "{}",
                     json.dumps({"archive/new": h % 50, "fetch/requests": 200})) for h in range(hours)])
    return lambda at: 1 + int((at - start).total_seconds() // 3600)


def sync_sources(db: sqlite3.Connection) -> dict[str, int]:
    for number, source in enumerate(load_sources().values(), 1):
        db.execute("INSERT INTO sources (id, name, description, language, timezone, domains) VALUES (?,?,?,?,?,?)",
                   (number, source.name, None, source.language, source.timezone, json.dumps(list(source.domains))))
    return dict(db.execute("SELECT name, id FROM sources"))


def generate(path: Path, versions: int, seed: int) -> None:
    """Fill a fresh archive at ``path`` (already migrated) with ``versions`` versions."""
    rng, now = random.Random(seed), datetime.now(timezone.utc)
    words = Words(rng)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    triggers = [sql for (sql,) in db.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger'")]
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        db.execute(f"DROP TRIGGER {name}")
    db.execute("BEGIN")
    sources, run_of = sync_sources(db), runs(db, now)
    pending: dict[str, list] = {}
    version_id, article = 0, 0
    while version_id < versions:
        article += 1
        rows = article_rows(article, rng, words, sources, now, run_of)
        for table in ("articles", "article_urls", "discoveries"):
            pending.setdefault(table, []).extend(rows[table])
        for values in rows["versions"][:versions - version_id]:
            version_id += 1
            at = datetime.fromisoformat(values[2]).replace(tzinfo=timezone.utc)
            pending.setdefault("article_versions", []).append((version_id, *values))
            pending.setdefault("fetches", []).append((run_of(at), rows["articles"][0][2], article, version_id,
                                                     values[2], 200, "new" if values[1] == 1 else "changed", None))
            if rng.random() < 0.05:
                origin = rng.choice(ORIGINS)
                pending.setdefault("citations", []).append(
                    (version_id, article, origin, None if origin else f"https://example{rng.randrange(300)}.com/a",
                     None if origin else f"example{rng.randrange(300)}.com"))
        if rng.random() < 0.02:
            pending.setdefault("fetches", []).append((run_of(now), rows["articles"][0][2], article, None,
                                                     sql_time(now), 500, "error", "HTTP 500"))
        if article > 10 and rng.random() < 0.03:
            pending.setdefault("article_links", []).append(
                (article, rng.randrange(1, article), rng.choice(("duplicate_of", "cites", "translation_of")),
                 1.0, rows["articles"][0][3]))
        if len(pending.get("article_versions", ())) >= CHUNK:
            flush(db, pending)
            print(f"  {version_id:,} versions", end="\r", flush=True)
    flush(db, pending)
    # each version's authors as rows, as the store writes them (migration 0007's backfill)
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'version_authors'").fetchone():
        db.execute("INSERT INTO version_authors (version_id, position, article_id, name) "
                   "SELECT v.id, j.key, v.article_id, j.value FROM article_versions v, json_each(v.authors) j")
    # the FTS index holds each article's newest version, as the insert trigger leaves it
    db.execute("INSERT INTO articles_fts (rowid, title, summary, text) SELECT v.id, v.title, v.summary, v.text "
               "FROM article_versions v JOIN articles a ON a.id = v.article_id "
               "WHERE v.version = a.revisit_step + 1")
    for sql in triggers:
        db.execute(sql)
    db.execute("COMMIT")
    db.execute("ANALYZE")
    db.close()


def archive_for(args: argparse.Namespace) -> Path:
    """The cached archive for these arguments, built if missing, migrated to head."""
    args.cache.mkdir(parents=True, exist_ok=True)
    path = args.cache / f"query-{args.versions}-{args.seed}.db"
    if args.rebuild or not path.exists():
        for stale in path.parent.glob(path.name + "*"):
            stale.unlink()
        started = time.perf_counter()
        engine = create_archive_engine(f"sqlite:///{path}")
        upgrade(engine)
        engine.dispose()
        generate(path, args.versions, args.seed)
        print(f"built {path} in {time.perf_counter() - started:.1f} s ({path.stat().st_size / 2**20:.0f} MB)")
    else:
        print(f"cached: {path} ({path.stat().st_size / 2**20:.0f} MB, built "
              f"{datetime.fromtimestamp(path.stat().st_mtime):%Y-%m-%d %H:%M}; --rebuild to regenerate)")
    started = time.perf_counter()
    engine = create_archive_engine(f"sqlite:///{path}")
    upgrade(engine)  # a cache built before a new revision gets its indexes here
    if args.revision != "head":
        downgrade(engine, args.revision)
    revision = current_revision(engine)
    engine.dispose()
    with sqlite3.connect(path) as db:
        db.execute("ANALYZE")
    print(f"schema at {revision}, analyzed, in {time.perf_counter() - started:.1f} s")
    return path


# -- timing ------------------------------------------------------------------------

def filled(sql: str, db: sqlite3.Connection) -> str:
    """The query with the one URL it names replaced by an archived URL with several versions."""
    url = db.execute("SELECT url FROM articles WHERE revisit_step >= 3 ORDER BY id LIMIT 1").fetchone()[0]
    return sql.replace(README_URL, url)


def time_query(db: sqlite3.Connection, sql: str, repeat: int) -> dict:
    rows = len(db.execute(sql).fetchall())  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        db.execute(sql).fetchall()
        times.append(1000 * (time.perf_counter() - started))
    result = {"ms": statistics.median(times), "min_ms": min(times), "rows": rows}
    result["pass"] = result["ms"] <= TARGET_MS
    if not result["pass"]:
        result["plan"] = [row[-1] for row in db.execute("EXPLAIN QUERY PLAN " + sql)]
    return result


def main() -> None:
    args = parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    print(f"code: {code_state()}; --versions {args.versions:,}")
    path = archive_for(args)
    db = sqlite3.connect(path)
    counts = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("articles", "article_versions", "fetches", "article_urls", "article_links", "citations",
                        "discoveries", "crawl_runs")}
    print("archive: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
    results = []
    for title, sql in readme_queries():
        result = {"query": title, "sql": filled(sql, db), **time_query(db, filled(sql, db), args.repeat)}
        results.append(result)
        print(f"{result['ms']:9.2f} ms (min {result['min_ms']:7.2f})  {result['rows']:>7,} rows  {'PASS' if result['pass'] else 'FAIL'}  {title}")
        for line in result.get("plan", []):
            print(f"{'':14}plan: {line}")
    passed = sum(r["pass"] for r in results)
    print(f"{passed}/{len(results)} queries <= {TARGET_MS:.0f} ms (median of {args.repeat} after a warm-up)")
    args.out.write_text(json.dumps({"code": code_state(), "versions": args.versions, "counts": counts,
                                    "results": results}, indent=2))
    print(f"results: {args.out}")


if __name__ == "__main__":
    main()
