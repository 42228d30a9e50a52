"""Benchmark: re-crawl of an unchanged archive.

Target: a re-crawl of an unchanged archive of >= 1,000 mirrored articles takes <= 0.15x
the first crawl's time and adds 0 versions.

    /tmp/venv/bin/python bench/recrawl.py [--articles 1000] [--repeat 2] [--keep]

Generates N distinct articles over the five hosts (bench/fakeweb.py), serves them with
MirrorServer(etags=True) in this process and runs `scrapy crawl sources -a urls=...` as a
subprocess, three times against one fresh archive:
  1. first crawl (every page new: fetched, extracted, stored);
  2. the identical command again: the server answers the archived ETag with 304;
  3. the same against MirrorServer(etags=False): 200s whose raw body hashes as archived,
     so extraction is skipped ("identical body" path).
--repeat runs the whole sequence again on a fresh archive; the verdict uses the fastest
run of each step (the machine may be shared). Afterwards the archive calls a re-crawl
makes per page are timed in this process, to show where a re-crawl's time goes.
Prints the figures and writes bench/out/recrawl.json. Exit status 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(PROJECT_ROOT), str(Path(__file__).resolve().parent)]

from crawler.archive import visits  # noqa: E402
from crawler.archive.records import FetchRecord  # noqa: E402
from crawler.archive.store import Archive  # noqa: E402
from crawler.archive.validators import validators  # noqa: E402
from crawler.archive.visits import record_fetches  # noqa: E402
from crawler.mirror import MirrorServer  # noqa: E402
from crawler.sources import load_sources, source_for_url  # noqa: E402
from fakeweb import generate_web  # noqa: E402
from timing import code_state, scratch_dir, function_timer, per_item, sql_timer  # noqa: E402

TARGET_RATIO = 0.15
STEPS = ("first", "recrawl_304", "recrawl_identical_body")
MAX_ARG_BYTES = 131_072  # Linux MAX_ARG_STRLEN: the longest single argv string
STATS_KEYS = ("elapsed_time_seconds", "downloader/response_status_count/200", "downloader/response_status_count/304",
              "extract/article", "extract/skipped_identical_body", "conditional/request_known", "cited/followed",
              "archive/new", "archive/not_modified", "archive/unchanged", "archive/error", "archive/skipped")
STORE_FUNCTIONS = ["_take_validators", "_fetch_row"]
WRITER_METHODS = ["_resolve_batch", "visit", "visit_without_article", "flush"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=1000, help="mirrored articles (default: 1000)")
    parser.add_argument("--repeat", type=int, default=2, help="sequences, each on a fresh archive (default: 2)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default: 1)")
    parser.add_argument("--log-level", default="WARNING", help="the crawls' LOG_LEVEL (default: WARNING)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (web + archives) and print its path")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench" / "out" / "recrawl.json")
    return parser.parse_args()


# -- crawling ----------------------------------------------------------------------

def crawl_command(urls: list[str], mirror_url: str, archive: Path, log_level: str) -> list[str]:
    joined = ",".join(urls)
    if len(joined.encode()) >= MAX_ARG_BYTES:
        sys.exit(f"-a urls= would be {len(joined.encode())} bytes; Linux allows {MAX_ARG_BYTES} per argument: "
                 f"use fewer --articles")
    return [sys.executable, "-m", "scrapy", "crawl", "sources", "-a", f"urls={joined}",
            "-s", f"MIRROR_URL={mirror_url}", "-s", f"ARCHIVE_URL=sqlite:///{archive}",
            "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8",
            "-s", f"LOG_LEVEL={log_level}"]


def timed_crawl(command: list[str], log: Path) -> float:
    """Run one crawl as a user would (cwd = project root); wall-clock seconds."""
    env = {k: v for k, v in os.environ.items() if k not in ("ARCHIVE_URL", "MIRROR_URL")}
    started = time.perf_counter()
    with log.open("w") as stderr:
        result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"crawl failed ({result.returncode}); see {log}:\n{log.read_text()[-3000:]}")
    return seconds


def query(archive: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(archive) as db:
        return db.execute(sql).fetchall()


def archive_state(archive: Path) -> dict:
    """What a re-crawl must not change, and the last run's Scrapy stats."""
    count = lambda table: query(archive, f"SELECT count(*) FROM {table}")[0][0]  # noqa: E731
    stats = json.loads(query(archive, "SELECT stats FROM crawl_runs ORDER BY id DESC LIMIT 1")[0][0] or "{}")
    return {"articles": count("articles"), "versions": count("article_versions"), "links": count("article_links"),
            "duplicate_links": query(archive, "SELECT count(*) FROM article_links WHERE kind = 'duplicate_of'")[0][0],
            "stats": {k: stats[k] for k in STATS_KEYS if k in stats}}


def outcome_counts(archive: Path) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = {}
    for run, outcome, n in query(archive, "SELECT crawl_run_id, outcome, count(*) FROM fetches GROUP BY 1, 2"):
        counts.setdefault(run, {})[outcome] = n
    return counts


def sequence(root: Path, urls: list[str], archive: Path, args: argparse.Namespace, number: int) -> dict:
    """First crawl, 304 re-crawl, identical-body re-crawl, on one fresh archive."""
    log = lambda step: args.out.parent / f"recrawl-{number}-{step}.log"  # noqa: E731
    result = {}
    with MirrorServer(root, etags=True) as server:
        command = crawl_command(urls, server.url, archive, args.log_level)
        for step in STEPS[:2]:
            result[step] = {"seconds": timed_crawl(command, log(step)), **archive_state(archive)}
    with MirrorServer(root, etags=False) as server:
        seconds = timed_crawl(crawl_command(urls, server.url, archive, args.log_level), log(STEPS[2]))
        result[STEPS[2]] = {"seconds": seconds, **archive_state(archive)}
    result["outcomes_per_run"] = outcome_counts(archive)
    for earlier, step in zip(STEPS, STEPS[1:]):
        result[step]["versions_before"] = result[earlier]["versions"]
        result[step]["versions_added"] = result[step]["versions"] - result[earlier]["versions"]
    print(f"  sequence {number}: " + ", ".join(f"{s} {result[s]['seconds']:.2f} s" for s in STEPS), flush=True)
    return result


# -- where a re-crawl's time goes (in process, on the crawled archive) --------------

def revisit_records(urls: list[str], outcome: str) -> list[FetchRecord]:
    """What ArchivePipeline hands the archive for a 304 / identical-body page."""
    sources, now = load_sources(), datetime.now(timezone.utc)
    records = []
    for url in urls:
        source = source_for_url(sources, url)
        records.append(FetchRecord(url=url, source=source.name, fetched_at=now,
                                   http_status=200 if outcome == "unchanged" else 304, outcome=outcome,
                                   urls=tuple(dict.fromkeys((url, source.canonical(url))))))
    return records


def time_validators(archive: Archive, urls: list[str]) -> dict:
    """ConditionalRequestMiddleware: one validators() lookup per request."""
    sources = load_sources()
    with sql_timer(archive.engine) as sql:
        started = time.perf_counter()
        for url in urls:
            validators(archive, url, source_for_url(sources, url).canonical(url))
        seconds = time.perf_counter() - started
    return {"ms_per_page": 1000 * seconds / len(urls), "sql": per_item(sql, len(urls))}


def time_store(archive: Archive, records: list[FetchRecord], batch: int = 50) -> dict:
    """ArchivePipeline: record_fetches in batches of ARCHIVE_BATCH_SIZE."""
    with sql_timer(archive.engine) as sql, function_timer(visits, STORE_FUNCTIONS) as functions, \
            function_timer(visits._Writer, WRITER_METHODS) as methods:
        started = time.perf_counter()
        for start in range(0, len(records), batch):
            record_fetches(archive, records[start:start + batch])
        seconds = time.perf_counter() - started
    return {"ms_per_page": 1000 * seconds / len(records), "sql": per_item(sql, len(records)),
            "functions": per_item({**methods, **functions}, len(records))}


def archive_costs(archive_path: Path, urls: list[str]) -> dict:
    archive = Archive.open(f"sqlite:///{archive_path}")
    try:
        time_validators(archive, urls[:50])  # warm-up
        return {"validators": time_validators(archive, urls),
                "store_not_modified": time_store(archive, revisit_records(urls, "not_modified")),
                "store_unchanged": time_store(archive, revisit_records(urls, "unchanged"))}
    finally:
        archive.close()


# -- report ------------------------------------------------------------------------

def best(sequences: list[dict], step: str) -> dict:
    return min((s[step] for s in sequences), key=lambda run: run["seconds"])


def verdicts(sequences: list[dict], articles: int) -> dict:
    first = best(sequences, "first")["seconds"]
    verdict = {"first_crawl_complete": all(s["first"]["articles"] == s["first"]["versions"] == articles
                                           for s in sequences)}
    for step in STEPS[1:]:
        ratio = best(sequences, step)["seconds"] / first
        verdict[step] = {"ratio": ratio, "ratio_pass": ratio <= TARGET_RATIO,
                         "versions_added": max(s[step]["versions_added"] for s in sequences)}
        verdict[step]["versions_pass"] = verdict[step]["versions_added"] == 0
    return verdict


def print_step(label: str, run: dict, articles: int, verdict: dict | None) -> None:
    elapsed = run["stats"].get("elapsed_time_seconds", 0)
    line = (f"{label:22} {run['seconds']:7.2f} s wall = {1000 * run['seconds'] / articles:5.1f} ms/article "
            f"(scrapy elapsed {elapsed:6.2f} s, process start+stop {run['seconds'] - elapsed:4.2f} s)")
    if verdict:
        line += (f"  ratio {verdict['ratio']:.3f} (<= {TARGET_RATIO}: {'PASS' if verdict['ratio_pass'] else 'FAIL'})"
                 f"  versions {run['versions_before']} -> {run['versions']}, max added {verdict['versions_added']} "
                 f"(0: {'PASS' if verdict['versions_pass'] else 'FAIL'})")
    print(line)


def print_costs(costs: dict) -> None:
    print("where a re-crawl's time goes (archive calls timed in this process, per page):")
    for name, cost in costs.items():
        sql_ms = sum(ms for _, _, ms in cost["sql"])
        print(f"  {name:20} {cost['ms_per_page']:6.3f} ms/page  (SQL {sql_ms:.3f} ms in {len(cost['sql'])} kinds of "
              f"statement; Python/SQLAlchemy {cost['ms_per_page'] - sql_ms:.3f} ms)")
        for key, calls, ms in cost.get("functions", []):
            print(f"      {calls:4.1f} x {key:24} {ms:6.3f} ms (inclusive)")
        for key, calls, ms in cost["sql"][:4]:
            print(f"      {calls:4.1f} x {ms:6.3f} ms SQL: {key}")


def report(sequences: list[dict], verdict: dict, costs: dict, articles: int) -> None:
    print(f"articles: {articles} over 5 hosts; best of {len(sequences)} sequence(s)")
    first = best(sequences, "first")
    print_step("first crawl:", first, articles, None)
    print(f"  archive after the first crawl: articles={first['articles']} versions={first['versions']} "
          f"duplicate_of links={first['duplicate_links']} links={first['links']}  "
          f"[{'PASS' if verdict['first_crawl_complete'] else 'FAIL'}: one article and one version per page]")
    for step, label in zip(STEPS[1:], ("re-crawl, 304:", "re-crawl, same body:")):
        print_step(label, best(sequences, step), articles, verdict[step])
    last = sequences[-1]
    print("fetch outcomes per crawl run (last sequence):")
    for run_id, counts in sorted(last["outcomes_per_run"].items()):
        print(f"  run {run_id}: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    for step in STEPS:
        print(f"  stats ({step}): " + ", ".join(f"{k}={v}" for k, v in last[step]["stats"].items()
                                                if k != "elapsed_time_seconds"))
    print_costs(costs)


def main() -> None:
    args = parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with scratch_dir("recrawl", args.keep) as work:
        print(f"code: {code_state()}")
        urls = generate_web(work / "web", args.articles, args.seed)
        sequences = [sequence(work / "web", urls, work / f"archive-{n}.db", args, n) for n in range(1, args.repeat + 1)]
        costs = archive_costs(work / f"archive-{args.repeat}.db", urls)
        verdict = verdicts(sequences, args.articles)
        report(sequences, verdict, costs, args.articles)
        args.out.write_text(json.dumps({"code": code_state(), "articles": args.articles, "verdict": verdict,
                                        "sequences": sequences, "archive_costs": costs}, indent=2, default=str))
        print(f"results: {args.out}  crawl logs: {args.out.parent}/recrawl-*.log")


if __name__ == "__main__":
    main()
