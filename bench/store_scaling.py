"""Benchmark: per-article store + dedup cost as the archive grows.

Target: the per-article cost of record_fetches (archive/visits.py) at 100k archived articles is
<= 1.2x the cost at 1k.

    /tmp/venv/bin/python bench/store_scaling.py [--sizes 1000,100000] [--new 500] [--batch 50]

For each size K: a fresh SQLite archive (Archive.open + sync_sources) is filled with K
articles by executemany on the real tables in one transaction (articles, article_urls,
article_versions with 3-6 KB texts -- the FTS5 trigger fires --, simhash_bands, fetches).
Then record_fetches stores, in batches of --batch: --new new articles (distinct
~4 KB texts, new URLs, every 5th citing an archived article) and as many unchanged
re-visits of archived articles. Per-article time = batch time / batch size. SQL time per
statement and time per function of archive/visits.py, versions.py and links.py show which
statement scales. Prints figures, the query plans of the store's lookups, and writes
bench/out/store_scaling.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import time
from contextlib import ExitStack
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(PROJECT_ROOT), str(Path(__file__).resolve().parent)]

from sqlalchemy import event, select  # noqa: E402

from crawler.archive import links, versions, visits  # noqa: E402
from crawler.archive.models import ArticleRow, ArticleUrl, ArticleVersion, SimhashBand  # noqa: E402
from crawler.archive.records import FetchRecord  # noqa: E402
from crawler.archive.runs import start_run  # noqa: E402
from crawler.archive.sources import sync_sources  # noqa: E402
from crawler.archive.search import index_pending_versions  # noqa: E402
from crawler.archive.store import Archive  # noqa: E402
from crawler.archive.visits import record_fetches  # noqa: E402
from crawler.dedup import simhash_bands, version_hash  # noqa: E402
from crawler.dedup.fingerprint import fingerprint  # noqa: E402
from crawler.extract import Article  # noqa: E402
from crawler.sources import load_sources  # noqa: E402
from fakeweb import URL_PATTERNS, load_templates  # noqa: E402
from timing import code_state, scratch_dir, function_timer, per_item, sql_timer, statement_key  # noqa: E402

TARGET_RATIO = 1.2
BASE_TIME = datetime(2025, 1, 1, tzinfo=timezone.utc)
CHUNK = 5000  # rows per executemany
# The store's functions timed (inclusive), per module or class; shown as "versions.save_version".
TIMED = ((visits, ["_fetch_row"]),
         (visits._Writer, ["_resolve_batch", "article_for_version", "_same_text_elsewhere_in_source", "remember_urls",
                           "flush"]),
         (versions, ["save_version", "write_authors"]),
         (links, ["link_version", "near_duplicates", "cited_articles", "citation_kind"]))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000", help="archived articles per run (default: 1000,100000)")
    parser.add_argument("--new", type=int, default=500, help="new articles (and re-visits) measured (default: 500)")
    parser.add_argument("--batch", type=int, default=50, help="records per record_fetches call (default: 50)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-fts", action="store_true", help="investigation: drop the FTS5 triggers first")
    parser.add_argument("--cache-mb", type=int, default=0, help="investigation: PRAGMA cache_size in MB (default: "
                        "SQLite's 2 MB, as the crawler runs)")
    parser.add_argument("--fingerprint-in-store", action="store_true",
                        help="time the articles' content hash and SimHash inside record_fetches (by default they "
                             "are computed beforehand, as the crawl's extraction workers do)")
    parser.add_argument("--keep", action="store_true", help="keep the archives and print where")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench" / "out" / "store_scaling.json")
    args = parser.parse_args()
    args.sizes = [int(size) for size in args.sizes.split(",")]
    return args


# -- synthetic content ---------------------------------------------------------

def vocabulary() -> list[str]:
    return sorted({word for template in load_templates() for word in template.vocabulary})


def paragraph(rng: random.Random, words: list[str]) -> str:
    return " ".join(rng.choices(words, k=rng.randint(60, 110))).capitalize() + "."


def new_article(rng: random.Random, words: list[str], number: int, cited_url: str | None) -> Article:
    source = list(URL_PATTERNS)[number % len(URL_PATTERNS)]
    return Article(
        url=URL_PATTERNS[source].format(i=f"new-{number}", n=900_000 + number),
        title=" ".join(rng.sample(words, 9)).capitalize(), authors=(f"Auteur {number % 37}",),
        published_at=BASE_TIME + timedelta(days=400, minutes=number), modified_at=None,
        language="vi" if source in ("znews", "dantri") else "fr", section="Công nghệ", tags=("AI", "Meta"),
        summary=paragraph(rng, words)[:220], text="\n".join(paragraph(rng, words) for _ in range(7)),
        cited_url=cited_url)


def bulk_article(rng: random.Random, words: list[str], pool: list[str], number: int) -> tuple[str, Article]:
    """(source, article) for archived article ``number``: 6-11 paragraphs of a shared pool."""
    source = list(URL_PATTERNS)[number % len(URL_PATTERNS)]
    text = "\n".join(rng.sample(pool, rng.randint(6, 11)))
    return source, Article(
        url=URL_PATTERNS[source].format(i=number, n=1_000_000 + number), title=" ".join(rng.sample(words, 8)),
        authors=(f"Auteur {number % 37}",), published_at=BASE_TIME + timedelta(minutes=number), modified_at=None,
        language="vi" if source in ("znews", "dantri") else "fr", section="Công nghệ", tags=("AI", "Meta"),
        summary=pool[number % len(pool)][:220], text=text)


# -- bulk generation -----------------------------------------------------------

def sql_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def bulk_rows(number: int, source_id: int, article: Article, content_hash: str, fingerprint: int, run_id: int) -> dict:
    at = sql_time(BASE_TIME + timedelta(minutes=number))
    return {
        "articles": (number, source_id, article.url, at, at, at, f'"{number:032x}"', None, f"{number:064x}", None),
        "article_urls": (number, number, article.url, at),
        "article_versions": (number, number, 1, at, article.title, json.dumps(list(article.authors)),
                             sql_time(article.published_at), None, article.language, article.section,
                             json.dumps(list(article.tags), ensure_ascii=False), article.summary, article.text, None,
                             content_hash, None, len(article.text), 0, len(article.text.split()), 0, fingerprint),
        "simhash_bands": [(band, value, number, number) for band, value in enumerate(simhash_bands(fingerprint))],
        "fetches": (number, run_id, article.url, number, number, at, 200, "new", None),
    }


COLUMNS = {
    "articles": "id, source_id, url, first_seen_at, last_fetched_at, last_changed_at, etag, last_modified, raw_hash, "
                "gone_at",
    "article_urls": "id, article_id, url, first_seen_at",
    "article_versions": "id, article_id, version, fetched_at, title, authors, published_at, modified_at, language, "
                        "section, tags, summary, text, cited_url, content_hash, same_as_version, chars_added, "
                        "chars_removed, words_added, words_removed, simhash",
    "simhash_bands": "band, value, version_id, article_id",
    "fetches": "id, crawl_run_id, url, article_id, version_id, fetched_at, http_status, outcome, error",
}
INSERTS = {table: f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * (columns.count(',') + 1))})"
           for table, columns in COLUMNS.items()}


def insert_chunk(connection, rows: list[dict]) -> None:  # noqa: ANN001
    for table, sql in INSERTS.items():
        values = [r for row in rows for r in (row[table] if table == "simhash_bands" else [row[table]])]
        connection.exec_driver_sql(sql, values)


def bulk_generate(archive: Archive, size: int, revisit_ids: set[int], words: list[str],
                  seed: int) -> dict[int, Article]:
    """Insert ``size`` archived articles in one transaction; return the re-visit ones (real hashes)."""
    rng = random.Random(seed)
    pool = [paragraph(rng, words) for _ in range(3000)]
    source_ids = {name: archive_id for name, archive_id in archive_sources(archive).items()}
    run_id = start_run(archive.engine, "bulk")
    revisits, rows = {}, []
    with archive.engine.begin() as connection:
        for number in range(1, size + 1):
            source, article = bulk_article(rng, words, pool, number)
            if number in revisit_ids:
                revisits[number], content_hash = article, version_hash(article)
            else:
                content_hash = "%064x" % rng.getrandbits(256)
            fingerprint = rng.getrandbits(64) - 2**63  # a signed 64-bit SimHash
            rows.append(bulk_rows(number, source_ids[source], article, content_hash, fingerprint, run_id))
            if len(rows) == CHUNK:
                insert_chunk(connection, rows)
                rows = []
        if rows:
            insert_chunk(connection, rows)
        index_pending_versions(connection)  # as the store does before each batch's COMMIT
    return revisits


def archive_sources(archive: Archive) -> dict[str, int]:
    with archive.engine.connect() as connection:
        return dict(connection.exec_driver_sql("SELECT name, id FROM sources").all())


# -- measurement -----------------------------------------------------------------

def records_for(articles: list[Article], run_id: int | None) -> list[FetchRecord]:
    now = datetime.now(timezone.utc)
    return [FetchRecord(url=a.url, source=next(s for s, u in URL_PATTERNS.items() if u.split("/")[2] in a.url),
                        fetched_at=now, http_status=200, article=a, crawl_run_id=run_id, urls=(a.url,),
                        etag=f'"{hashlib.md5(a.url.encode()).hexdigest()}"',
                        raw_hash=hashlib.sha256(a.text.encode()).hexdigest()) for a in articles]


def tune(archive: Archive, args: argparse.Namespace) -> None:
    """Investigation knobs, applied to this benchmark's archive only (default: as the crawler runs)."""
    if args.no_fts:
        with archive.engine.begin() as connection:
            connection.exec_driver_sql("DROP TRIGGER IF EXISTS article_versions_fts_insert")
            connection.exec_driver_sql("DROP TRIGGER IF EXISTS article_versions_fts_delete")
    if args.cache_mb:
        archive.engine.dispose()  # new connections get the pragma
        event.listen(archive.engine, "connect", lambda dbapi, _record: dbapi.execute(
            f"PRAGMA cache_size=-{args.cache_mb * 1024}"))


def build_archive(args: argparse.Namespace, size: int, words: list[str], work: Path) -> dict:
    """A fresh archive with ``size`` articles, ready to measure."""
    path = work / f"archive-{size}.db"
    archive = Archive.open(f"sqlite:///{path}")
    sync_sources(archive.engine, load_sources().values())
    tune(archive, args)
    revisit_ids = set(range(1, size + 1, max(1, size // args.new))[:args.new])
    started = time.perf_counter()
    revisits = bulk_generate(archive, size, revisit_ids, words, args.seed)
    print(f"K={size:>7,}: generated in {time.perf_counter() - started:.1f} s ({path.stat().st_size / 2**20:.0f} MB)",
          flush=True)
    return {"size": size, "archive": archive, "revisits": list(revisits.values()), "run_id": start_run(archive.engine, "bench"),
            "generate_seconds": time.perf_counter() - started, "db_mb": path.stat().st_size / 2**20}


def timed_batch(archive: Archive, chunk: list[FetchRecord], totals: dict) -> None:
    """Store one batch; add its per-article ms, outcomes, SQL and function times to ``totals``."""
    with sql_timer(archive.engine) as sql, ExitStack() as timers:
        functions = {f"{owner.__name__.rsplit('.', 1)[-1]}.{name}": entry for owner, names in TIMED
                     for name, entry in timers.enter_context(function_timer(owner, names)).items()}
        started = time.perf_counter()
        outcomes = record_fetches(archive, chunk)
        totals["per_article"].append(1000 * (time.perf_counter() - started) / len(chunk))
    for outcome in outcomes:
        outcome = getattr(outcome, "outcome", outcome)  # a Stored record, or (before) its outcome string
        totals["outcomes"][outcome] = totals["outcomes"].get(outcome, 0) + 1
    for target, stats in ((totals["sql"], sql), (totals["functions"], functions)):
        for key, (calls, seconds) in stats.items():
            entry = target.setdefault(key, [0, 0.0])
            entry[0] += calls
            entry[1] += seconds


def interleaved(built: list[dict], records: dict[int, list[FetchRecord]], batch: int) -> dict[int, dict]:
    """Batch i on every archive in turn (order alternating), so machine load hits every size alike."""
    totals = {b["size"]: {"per_article": [], "outcomes": {}, "sql": {}, "functions": {}} for b in built}
    for index, start in enumerate(range(0, len(records[built[0]["size"]]), batch)):
        for b in built if index % 2 == 0 else built[::-1]:
            timed_batch(b["archive"], records[b["size"]][start:start + batch], totals[b["size"]])
    return totals


def summary(totals: dict, count: int) -> dict:
    per_article, sql_ms = totals["per_article"], 1000 * sum(s for _, s in totals["sql"].values()) / count
    return {"mean_ms": statistics.mean(per_article), "median_ms": statistics.median(per_article),
            "min_ms": min(per_article), "max_ms": max(per_article), "sql_ms": sql_ms, "batches_ms": per_article,
            "outcomes": totals["outcomes"], "sql": per_item(totals["sql"], count),
            "functions": per_item(totals["functions"], count)}


def measure(args: argparse.Namespace, built: list[dict], words: list[str]) -> list[dict]:
    rng = random.Random(f"{args.seed}-new")
    cited = [rng.randrange(args.new) for _ in range(args.new + args.batch)]  # index into each size's re-visits
    fresh = [new_article(rng, words, n, None) for n in range(args.new + args.batch)]
    fingerprint_ms = []
    for b in built:
        mine = [replace(a, cited_url=b["revisits"][cited[n]].url if n % 5 == 0 else None) for n, a in enumerate(fresh)]
        if not args.fingerprint_in_store:  # as the crawl's extraction workers do (crawler/extract/pool.py)
            started = time.perf_counter()
            for article in mine:
                fingerprint(article)
            fingerprint_ms.append((time.perf_counter() - started) * 1000 / len(mine))
            for article in b["revisits"]:
                fingerprint(article)
        b["warmup"], b["new"] = records_for(mine[:args.batch], b["run_id"]), records_for(mine[args.batch:], b["run_id"])
        b["revisit"] = records_for(b["revisits"], b["run_id"])
    interleaved(built, {b["size"]: b["warmup"] for b in built}, args.batch)  # not counted
    new = interleaved(built, {b["size"]: b["new"] for b in built}, args.batch)
    revisit = interleaved(built, {b["size"]: b["revisit"] for b in built}, args.batch)
    return [{"size": b["size"], "generate_seconds": b["generate_seconds"], "db_mb": b["db_mb"],
             "new": summary(new[b["size"]], len(b["new"])), "revisit": summary(revisit[b["size"]], len(b["revisit"])),
             "fingerprint_ms": statistics.mean(fingerprint_ms) if fingerprint_ms else None,
             "plans": query_plans(b["archive"], fresh[0])} for b in built]


# -- query plans -----------------------------------------------------------------

def explain(connection, sql: str, parameters=()) -> list[str]:  # noqa: ANN001
    return [row[-1] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, parameters).all()]


def explicit_plans(archive: Archive, article: Article) -> dict[str, list[str]]:
    """The near-duplicate candidate query and the URL lookup, built as archive/readers.py and links.py build them."""
    fingerprint = 0x5DEECE66D1234567
    clauses = [(SimhashBand.band == b) & (SimhashBand.value == v) for b, v in enumerate(simhash_bands(fingerprint))]
    near = (select(SimhashBand.article_id, ArticleVersion.simhash)
            .join(ArticleVersion, ArticleVersion.id == SimhashBand.version_id)
            .where(SimhashBand.article_id != 1).where(clauses[0] | clauses[1] | clauses[2] | clauses[3]))
    lookup = (select(ArticleRow).join(ArticleUrl, ArticleUrl.article_id == ArticleRow.id)
              .where(ArticleUrl.url.in_([article.url, article.url + "?utm_source=x"])).limit(1))
    with archive.engine.connect() as connection:
        return {name: explain(connection, str(statement.compile(archive.engine,
                                                                compile_kwargs={"literal_binds": True})))
                for name, statement in (("near-duplicate candidates (links.near_duplicates)", near),
                                        ("URL lookup (_find_article)", lookup))}


def captured_plans(archive: Archive, article: Article) -> dict[str, list[str]]:
    """Every SELECT record_fetches runs for one new (citing) article, with its own parameters."""
    captured: dict[str, tuple] = {}

    def capture(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT"):
            captured.setdefault(statement, parameters)

    event.listen(archive.engine, "before_cursor_execute", capture)
    try:
        record_fetches(archive, records_for([article], None))
    finally:
        event.remove(archive.engine, "before_cursor_execute", capture)
    with archive.engine.connect() as connection:
        return {statement_key(sql): explain(connection, sql, parameters) for sql, parameters in captured.items()}


def query_plans(archive: Archive, template: Article) -> dict:
    probe = Article(**{**template.as_dict(), "url": template.url.replace("new-", "probe-"),
                       "text": template.text + " probe", "title": template.title + " probe"})
    return {"explicit": explicit_plans(archive, probe), "captured": captured_plans(archive, probe)}


# -- report ------------------------------------------------------------------------

def verdicts(results: list[dict]) -> dict:
    small, large = results[0], results[-1]
    verdict = {}
    for kind in ("new", "revisit"):
        for stat in ("mean_ms", "median_ms"):
            ratio = large[kind][stat] / small[kind][stat]
            verdict[f"{kind}_{stat.removesuffix('_ms')}"] = {"ratio": ratio, "pass": ratio <= TARGET_RATIO}
    return verdict


def print_breakdown(results: list[dict], kind: str, field: str, top: int = 12) -> None:
    """ms per article of each SQL statement / function, side by side for every size, largest growth first."""
    tables = [{key: (calls, ms) for key, calls, ms in result[kind][field]} for result in results]
    keys = sorted(set().union(*tables), key=lambda k: -(tables[-1].get(k, (0, 0))[1] - tables[0].get(k, (0, 0))[1]))
    header = "".join(f"{'K=' + format(r['size'], ','):>20}" for r in results)
    print(f"    {'calls/article x ms/article':<30}{header}   {field}")
    for key in keys[:top]:
        cells = "".join(f"{tables[i].get(key, (0, 0))[0]:7.2f} x {tables[i].get(key, (0, 0))[1]:8.3f}"
                        for i in range(len(results)))
        print(f"    {'':<30}{cells}   {key}")


def print_plans(plans: dict) -> None:
    for group in ("explicit", "captured"):
        print(f"  query plans ({group}):")
        for statement, plan in plans[group].items():
            print(f"    {statement}\n        -> {' | '.join(plan)}")


def report(results: list[dict], verdict: dict, args: argparse.Namespace) -> None:
    for result in results:
        print(f"K={result['size']:>7,}:")
        for kind in ("new", "revisit"):
            r = result[kind]
            print(f"    {kind:8} per article: mean {r['mean_ms']:7.3f} ms  median {r['median_ms']:7.3f} ms  "
                  f"(batches of {args.batch}: min {r['min_ms']:.3f}, max {r['max_ms']:.3f}; SQL {r['sql_ms']:.3f}, "
                  f"rest {r['mean_ms'] - r['sql_ms']:.3f})  outcomes {r['outcomes']}")
        if result["fingerprint_ms"] is not None:
            print(f"    (not in the figures above: content hash + SimHash {result['fingerprint_ms']:.3f} ms per new "
                  "article, computed beforehand as the extraction workers do; --fingerprint-in-store counts it)")
    small, large = results[0]["size"], results[-1]["size"]
    for key, value in verdict.items():
        print(f"ratio {large:,}/{small:,} {key:15} {value['ratio']:6.2f}  (target <= {TARGET_RATIO})  "
              f"{'PASS' if value['pass'] else 'FAIL'}")
    for kind in ("new", "revisit"):
        print(f"where the time goes ({kind} articles):")
        print_breakdown(results, kind, "functions")
        print_breakdown(results, kind, "sql")
    print(f"K={large:,}:")
    print_plans(results[-1]["plans"])


def main() -> None:
    args = parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    words = vocabulary()
    with scratch_dir("store", args.keep) as work:
        knobs = (", FTS5 triggers dropped" if args.no_fts else "") + (
            f", cache {args.cache_mb} MB" if args.cache_mb else "")
        print(f"code: {code_state()}; --new {args.new}, --batch {args.batch}{knobs}")
        built = [build_archive(args, size, words, work) for size in args.sizes]
        results = measure(args, built, words)
        for b in built:
            b["archive"].close()
        verdict = verdicts(results)
        report(results, verdict, args)
        args.out.write_text(json.dumps({"code": code_state(), "args": {k: str(v) for k, v in vars(args).items()},
                                        "results": results, "verdict": verdict}, indent=2, default=str))
        print(f"results: {args.out}")


if __name__ == "__main__":
    main()
