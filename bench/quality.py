"""Benchmark: article-body quality and speed on the article-extraction benchmark (AEB).

    .venv/bin/python bench/quality.py [--aeb ../shared/aeb] [--limit N] [--no-rules]

Runs, page by page and interleaved, timing each call in CPU time of this process
(time.process_time: other processes on a shared machine do not count):
  * plain trafilatura: ``trafilatura.extract(html, url=url, include_comments=False)``;
  * our generic mode: ``extract_article(html, url, rules)`` with the seeds' ``[defaults]``
    rules, i.e. a source with no rules of its own (``--no-rules``: ``extract_article(html, url)``).
Prints F1 / precision / recall side by side, which stage produced each of our bodies, how
often the metadata fields were found, the 10 pages we lose most on against plain
trafilatura, and the time per page of both. Writes bench/out/quality.json. Exit status 0
whatever the figures: the floors that may not drop are tests/quality_floors.json
(tests/test_quality.py).

Scoring is the AEB's (its README; ``evaluate.py``): ``\\w+`` tokens, case kept, 4-token
shingles (a text under 4 tokens is one shingle), per-page true/false positives and false
negatives as multisets, normalised to sum 1; precision and recall averaged over all pages,
F1 of the two averages. A page we return nothing for scores precision 0 and recall 0.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(PROJECT_ROOT)]

import re  # noqa: E402

DEFAULT_AEB = PROJECT_ROOT.parent / "shared" / "aeb"
TOKEN = re.compile(r"\w+")
SHINGLE = 4


# -- the AEB's scoring -----------------------------------------------------------------


def shingles(text: str) -> Counter:
    tokens = TOKEN.findall(text or "")
    return Counter(tuple(tokens[i:i + SHINGLE]) for i in range(max(1, len(tokens) - SHINGLE + 1))
                   if tokens[i:i + SHINGLE])


def page_scores(truth: str, predicted: str) -> tuple[float, float]:
    """(precision, recall) of one page: shingle multisets, counts normalised to sum 1."""
    true, pred = shingles(truth), shingles(predicted)
    tp = sum((true & pred).values())
    fp = sum((pred - true).values())
    fn = sum((true - pred).values())
    if fp == fn == 0:
        return 1.0, 1.0
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall


def f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def corpus_scores(pairs: list[tuple[float, float]]) -> dict[str, float]:
    precision = statistics.fmean(p for p, _ in pairs)
    recall = statistics.fmean(r for _, r in pairs)
    return {"f1": f1(precision, recall), "precision": precision, "recall": recall}


# -- the pages -------------------------------------------------------------------------


@dataclass
class Page:
    id: str
    url: str
    html: str
    truth: str


def load_pages(aeb: Path, limit: int | None = None) -> list[Page]:
    truth = json.loads((aeb / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id in sorted(truth)[:limit]:
        raw = gzip.decompress((aeb / "html" / f"{page_id}.html.gz").read_bytes())
        pages.append(Page(page_id, truth[page_id]["url"], raw.decode("utf-8", errors="replace"),
                          truth[page_id]["articleBody"]))
    return pages


def defaults_rules(seeds: Path | None = None):
    """The [defaults] rules of the seeds file: what a new source with no rules of its own gets."""
    from crawler.cli import seed_defaults
    from crawler.sources import DEFAULT_SEEDS_PATH

    return seed_defaults(seeds or DEFAULT_SEEDS_PATH)


# -- the runs --------------------------------------------------------------------------


@dataclass
class Result:
    text: str = ""
    seconds: float = 0.0
    stage: str = "none"
    fields: dict[str, bool] = field(default_factory=dict)
    error: str | None = None


def run_ours(page: Page, rules) -> Result:
    from crawler.extract import NotAnArticle, extract_article

    started = time.process_time()
    try:
        article = extract_article(page.html, page.url, rules) if rules is not None else extract_article(page.html, page.url)
    except NotAnArticle as exc:
        return Result(seconds=time.process_time() - started, stage="not an article", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - a crash is a result here: counted, not fatal
        return Result(seconds=time.process_time() - started, stage=f"crash: {exc.__class__.__name__}", error=str(exc))
    seconds = time.process_time() - started
    found = {name: bool(getattr(article, name)) for name in ("title", "authors", "published_at", "language")}
    return Result(article.text, seconds, getattr(article, "body_stage", article.body_source), found)


def run_plain(page: Page) -> Result:
    import trafilatura

    started = time.process_time()
    text = trafilatura.extract(page.html, url=page.url, include_comments=False) or ""
    return Result(text, time.process_time() - started, "trafilatura")


def evaluate(pages: list[Page], rules, plain: bool = True) -> dict:
    """Run both extractors over the pages; per-page and corpus scores."""
    rows = []
    for page in pages:
        ours = run_ours(page, rules)
        base = run_plain(page) if plain else Result()
        rows.append({"id": page.id, "url": page.url, "ours": ours, "plain": base,
                     "ours_scores": page_scores(page.truth, ours.text),
                     "plain_scores": page_scores(page.truth, base.text)})
    return {"rows": rows, "ours": corpus_scores([r["ours_scores"] for r in rows]),
            "plain": corpus_scores([r["plain_scores"] for r in rows])}


# -- the report ------------------------------------------------------------------------


def report(result: dict, plain: bool = True) -> dict:
    rows, ours, base = result["rows"], result["ours"], result["plain"]
    n = len(rows)
    print(f"AEB: {n} pages\n")
    print(f"{'':22}{'F1':>7}{'P':>7}{'R':>7}{'empty':>7}")
    if plain:
        print(f"{'plain trafilatura':22}{base['f1']:7.3f}{base['precision']:7.3f}{base['recall']:7.3f}"
              f"{sum(not r['plain'].text for r in rows):7d}")
    print(f"{'ours (generic mode)':22}{ours['f1']:7.3f}{ours['precision']:7.3f}{ours['recall']:7.3f}"
          f"{sum(not r['ours'].text for r in rows):7d}")
    if plain:
        lost = [r["id"][:12] for r in rows if r["plain"].text and not r["ours"].text]
        print(f"\nempty where plain trafilatura is not: {len(lost)} {lost}")
    stages = Counter(r["ours"].stage for r in rows)
    print("\nstage that produced our body:")
    for stage, count in stages.most_common():
        print(f"  {count:4d}  {stage}")
    print("\nmetadata found (of pages with a body):")
    with_body = [r for r in rows if r["ours"].text]
    coverage = {}
    for name in ("title", "authors", "published_at", "language"):
        found = sum(r["ours"].fields.get(name, False) for r in with_body)
        coverage[name] = found / max(1, len(with_body))
        print(f"  {name:14}{found:4d} / {len(with_body)}  ({coverage[name]:.1%})")
    if plain:
        print("\n10 pages we lose most on (page F1 ours - plain):")
        worst = sorted(rows, key=lambda r: f1(*r["ours_scores"]) - f1(*r["plain_scores"]))[:10]
        for r in worst:
            print(f"  {f1(*r['ours_scores']) - f1(*r['plain_scores']):+.3f}  ours {f1(*r['ours_scores']):.3f}"
                  f"  plain {f1(*r['plain_scores']):.3f}  {r['ours'].stage:18} {r['url'][:90]}")
    ours_s = [r["ours"].seconds for r in rows]
    timing = {"ours_mean_ms": 1000 * statistics.fmean(ours_s), "ours_median_ms": 1000 * statistics.median(ours_s)}
    print("\ntime per page:")
    if plain:
        base_s = [r["plain"].seconds for r in rows]
        timing |= {"plain_mean_ms": 1000 * statistics.fmean(base_s), "plain_median_ms": 1000 * statistics.median(base_s),
                   "ratio_of_totals": sum(ours_s) / sum(base_s),
                   "median_page_ratio": statistics.median(o / b for o, b in zip(ours_s, base_s) if b)}
        print(f"  plain trafilatura  mean {timing['plain_mean_ms']:6.1f} ms  median {timing['plain_median_ms']:6.1f} ms")
    print(f"  ours               mean {timing['ours_mean_ms']:6.1f} ms  median {timing['ours_median_ms']:6.1f} ms")
    if plain:
        verdict = "PASS" if timing["ratio_of_totals"] <= 1.2 else "FAIL"
        print(f"  ours / plain: {timing['ratio_of_totals']:.2f}x total, {timing['median_page_ratio']:.2f}x median page"
              f"  (target <= 1.2x: {verdict})")
    return {"pages": n, "ours": ours, "plain": base if plain else None, "stages": dict(stages),
            "metadata_coverage": coverage, "timing": timing,
            "per_page": [{"id": r["id"], "url": r["url"], "stage": r["ours"].stage,
                          "ours_f1": f1(*r["ours_scores"]), "plain_f1": f1(*r["plain_scores"]),
                          "ours_pr": r["ours_scores"], "plain_pr": r["plain_scores"], "error": r["ours"].error,
                          "ours_ms": 1000 * r["ours"].seconds, "plain_ms": 1000 * r["plain"].seconds}
                         for r in rows]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--aeb", type=Path, default=DEFAULT_AEB, help="the AEB copy (default ../shared/aeb)")
    parser.add_argument("--limit", type=int, help="only the first N pages (by id)")
    parser.add_argument("--no-rules", action="store_true", help="extract_article(html, url): no rules at all")
    parser.add_argument("--no-plain", action="store_true", help="skip plain trafilatura (quicker)")
    args = parser.parse_args()
    pages = load_pages(args.aeb, args.limit)
    rules = None if args.no_rules else defaults_rules()
    for page in pages[:3]:  # warm-up: imports and first-call caches are not a page's cost
        run_ours(page, rules), run_plain(page)
    summary = report(evaluate(pages, rules, plain=not args.no_plain), plain=not args.no_plain)
    out = PROJECT_ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "quality.json").write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
