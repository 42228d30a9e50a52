"""Storage target: total archive bytes (WARC + database) per crawled page <= 0.35x the raw
HTML bytes, over a re-crawled mirror of >= 1,000 pages.

    /tmp/venv/bin/python bench/storage.py [--articles 1000]

Generates the same mirrored web as recrawl.py, crawls it, re-crawls it twice (a server
that answers 304s, and one that ignores validators and resends identical bodies), and
after each step prints the archive's bytes (WARC files + SQLite file with its WAL
checkpointed) against the raw HTML bytes of every page crawled so far.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fakeweb import generate_web, mirror_file  # noqa: E402
from recrawl import crawl_command, timed_crawl  # noqa: E402

from crawler.mirror import MirrorServer  # noqa: E402

TARGET = 0.35


def sizes(archive: Path) -> dict[str, int]:
    with sqlite3.connect(archive) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    warc = sum(p.stat().st_size for p in (archive.parent / "warc").glob("*.warc.gz"))
    return {"warc_bytes": warc, "db_bytes": archive.stat().st_size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out" / "storage.json")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-storage-"))
    web, archive = work / "web", work / "archive.db"
    urls = generate_web(web, args.articles)
    page_bytes = sum(mirror_file(web, url).stat().st_size for url in urls)
    steps, crawled = [], 0
    for step, etags in (("first", True), ("recrawl_304", True), ("recrawl_identical_body", False)):
        with MirrorServer(web, etags=etags) as server:
            seconds = timed_crawl(crawl_command(urls, server.url, archive, "WARNING"), args.out.parent / f"storage-{step}.log")
        crawled += len(urls)
        stored = sizes(archive)
        raw = page_bytes * (crawled // len(urls))
        ratio = (stored["warc_bytes"] + stored["db_bytes"]) / raw
        steps.append({"step": step, "seconds": seconds, "pages_crawled": crawled, "raw_html_bytes": raw, **stored,
                      "ratio": ratio})
        print(f"{step:24} pages {crawled:5}  raw HTML {raw / 1e6:7.1f} MB  WARC {stored['warc_bytes'] / 1e6:6.1f} MB"
              f"  DB {stored['db_bytes'] / 1e6:6.1f} MB  ratio {ratio:.3f}")
    verdict = {"ratio_after_recrawl": steps[1]["ratio"], "pass": steps[1]["ratio"] <= TARGET,
               "ratio_after_both_recrawls": steps[2]["ratio"]}
    print(f"target: (WARC + DB) / raw HTML <= {TARGET} over a re-crawled mirror: "
          f"{verdict['ratio_after_recrawl']:.3f} {'PASS' if verdict['pass'] else 'FAIL'}")
    args.out.write_text(json.dumps({"articles": args.articles, "page_bytes": page_bytes, "steps": steps,
                                    "verdict": verdict}, indent=2))
    print(f"results: {args.out}  (work dir {work})")


if __name__ == "__main__":
    main()
