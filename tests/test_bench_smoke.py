"""The benchmarks run end to end at a tiny size and print every row. Figures are printed
by bench/, never asserted here (a shared machine makes timings noise)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, REDIS_URL, redis_or_skip

THROUGHPUT_ROWS = ("fetch only (bare Scrapy spider)", "plain trafilatura, 1 process", "our extract_article, 1 process",
                   "news-please from_html", "full crawl (SQLite + WARC)", "304 re-crawl", "archive reextract",
                   "floor: bare Scrapy + trafilatura pool", "floor: bare Scrapy 304 re-crawl")
TARGETS = ("full crawl / plain trafilatura", "full crawl / news-please", "store + dedup at 100k archived",
           "304 re-crawl time / fetch-only time", "304 re-crawl: versions added", "peak RSS of a full crawl")
FLOORS = ("bare Scrapy + trafilatura pool / plain trafilatura", "bare Scrapy 304 re-crawl / fetch-only time")


def bench(script, *args, timeout=180):
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "bench" / script), *args], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_throughput_prints_every_row_and_target(tmp_path):
    out = tmp_path / "throughput.json"
    stdout = bench("throughput.py", "--pages", "20", "--quick", "--rounds", "2", "--out", str(out))
    lines = stdout.splitlines()
    for ratio in ("crawl_vs_trafilatura", "recrawl_vs_fetch_only", "floor_crawl_vs_trafilatura",
                  "floor_recrawl_vs_fetch_only"):  # a second round of the timed ratios and their floors
        assert len(next(line for line in lines if line.startswith(f"{ratio} per round:")).split()[3:]) == 2, stdout
    for row in THROUGHPUT_ROWS:
        line = next(line for line in lines if line.startswith(row))
        assert "failed" not in line, stdout
    assert "skipped: --quick" in next(line for line in lines if line.startswith("news-please"))
    for target in TARGETS:
        line = next(line for line in lines if line.strip().startswith(target))
        assert line.split()[-1] in ("PASS", "FAIL", "n/a"), line
    for floor in FLOORS:  # measured, beside our own ratio
        line = next(line for line in lines if line.strip().startswith(floor))
        assert float(line.split()[-3]) > 0 and "(ours " in line, line
    result = json.loads(out.read_text())
    # each floor did all its work: every page extracted by the pool, every page answered 304
    assert all("why" not in result["rows"][floor] for floor in THROUGHPUT_ROWS[-2:]), result["rows"]
    assert result["rows"]["full crawl (SQLite + WARC)"]["versions_added"] == 20
    assert result["rows"]["304 re-crawl"]["versions_added"] == 0
    assert len(result["rows"]["rounds"]) == 2 and all(r["crawl_vs_trafilatura"] for r in result["rows"]["rounds"])


def test_query_times_every_readme_query(tmp_path):
    sys.path.insert(0, str(PROJECT_ROOT / "bench"))
    from query import readme_queries

    out = tmp_path / "query.json"
    stdout = bench("query.py", "--versions", "3000", "--repeat", "1", "--cache", str(tmp_path), "--out", str(out))
    results = json.loads(out.read_text())["results"]
    assert [r["query"] for r in results] == [title for title, _ in readme_queries()]
    assert len(results) >= 14 and all(f"  {title}" in stdout for title, _ in readme_queries())
    assert all(r["rows"] > 0 for r in results if "All versions of one article" in r["query"])


def test_migrated_indexes_are_the_models_indexes(tmp_path):
    """The indexes bench/query.py needs (migration 0006) are declared on the models too, so
    autogenerate sees no difference between a migrated archive and crawler/archive/models.py."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from crawler.archive.db import create_archive_engine
    from crawler.archive.migrate import upgrade
    from crawler.archive.models import Base

    engine = create_archive_engine(f"sqlite:///{tmp_path / 'archive.db'}")
    upgrade(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert [d for d in differences if isinstance(d, tuple) and d[0] in ("add_index", "remove_index")] == []


def test_scale_prints_the_frontier_rows_and_their_floor(tmp_path):
    """bench/scale.py at 20 pages, 2 rounds: each frontier row fetched every page once, and the
    floor (1 and 2 bare spiders, nothing stored) extracted every page; the second round runs its
    rows in the reverse order; each round's ratios and their medians are printed."""
    redis_or_skip()
    out = tmp_path / "scale.json"
    stdout = bench("scale.py", "--processes", "1,2", "--extract-workers", "0", "--pages", "20", "--redis", REDIS_URL,
                   "--rounds", "2", "--out", str(out))
    result = json.loads(out.read_text())
    assert [(r["round"], r["processes"], r["frontier"], r["pages"], r["twice"], r["statuses"])
            for r in result["rows"]] == [(0, 1, False, 20, 0, [0]), (1, 1, True, 20, 0, [0]), (1, 2, True, 20, 0, [0, 0]),
                                         (2, 2, True, 20, 0, [0, 0]), (2, 1, True, 20, 0, [0])], stdout
    assert [(f["round"], f["processes"], f["extracted"], f["statuses"]) for f in result["floors"]] == \
        [(1, 1, 20, [0]), (1, 2, 20, [0, 0]), (2, 2, 20, [0, 0]), (2, 1, 20, [0])], stdout
    assert len(result["ratios_two"]) == 2 and "round 2: 2 processes / 1 process " in stdout, stdout
    assert result["floor_ratio_two"] > 0 and "floor, 2 bare spiders / 1" in stdout, stdout
    # each round's ratio is printed as what it is made of: cores busy with 2 / with 1 / CPU a page of 2 over 1
    for turn, ratio in enumerate(result["ratios_two"], 1):
        rows = {r["processes"]: r for r in result["rows"] if r["round"] == turn}
        cores = [rows[n]["cpu_seconds"] / rows[n]["seconds"] for n in (2, 1)]
        made_of = f"{ratio:.2f}x = {cores[0]:.2f} cores / {cores[1]:.2f} cores / " \
                  f"{rows[2]['cpu_seconds'] / rows[1]['cpu_seconds']:.2f} CPU a page"
        assert f"round {turn}: 2 processes / 1 process {made_of}" in stdout, stdout
    assert all(f["cpu_seconds"] > 0 for f in result["floors"]), result["floors"]
    # and where each row's time went: the start, the end and the steady rate between them
    for turn in (1, 2):
        assert f"round {turn}: where the time went" in stdout, stdout
    for row in result["rows"]:
        phases = row["phases"]
        assert phases is None or 0 < phases["first_request"] <= phases["last_request"] < row["seconds"], row
    steady = [two["phases"]["steady_pages_per_second"] / one["phases"]["steady_pages_per_second"]
              for one, two in [[next(r for r in result["rows"] if r["frontier"] and r["round"] == turn and
                                      r["processes"] == n) for n in (1, 2)] for turn in (1, 2)]
              if one["phases"] and two["phases"]]
    assert result["steady_ratios_two"] == pytest.approx(steady), result
    # and what the whole machine did meanwhile: its idle cores and those the hypervisor took (Linux)
    if Path("/proc/stat").exists():
        for row in result["rows"] + result["floors"]:
            machine = row["machine"]
            assert 0 <= machine["idle_cores"] <= os.cpu_count() and 0 <= machine["steal_cores"] <= os.cpu_count(), row
            assert f"machine: {machine['idle_cores']:.2f} cores idle, {machine['steal_cores']:.2f} stolen" in stdout
    assert "2 processes / 1 process, every round: " in stdout, stdout
    assert result["judged_ratios_two"] == [result["ratios_two"][turn - 1] for turn in result["judged_rounds"]], result


def test_scale_judges_only_the_rounds_no_row_of_which_lost_cores_to_steal(capsys, tmp_path):
    """A round with a row the hypervisor slowed (steal over STEAL_LIMIT cores) is printed, not
    judged, whichever of its rows it slowed; a machine without /proc/stat judges every round."""
    sys.path.insert(0, str(PROJECT_ROOT / "bench"))
    import argparse

    from scale import STEAL_LIMIT, judged_rounds, report

    def frontier_row(turn, processes, seconds, steal):
        machine = None if steal is None else {"idle_cores": 0.1, "steal_cores": steal}
        return {"round": turn, "processes": processes, "frontier": True, "seconds": seconds, "phases": None,
                "machine": machine}

    rows = [frontier_row(1, 1, 30.0, 0.0), frontier_row(1, 2, 20.0, 0.0),  # 1.50x, undisturbed
            frontier_row(2, 1, 40.0, 0.41), frontier_row(2, 2, 20.0, 0.0),  # 2.00x: the 1-process row slowed
            frontier_row(3, 1, 30.0, 0.0), frontier_row(3, 2, 25.0, STEAL_LIMIT * 2),  # 1.20x: the 2-process one
            frontier_row(4, 1, 33.0, STEAL_LIMIT), frontier_row(4, 2, 20.0, None)]  # 1.65x, at the limit; unknown
    assert judged_rounds(rows, 4) == [1, 4]
    args = argparse.Namespace(rounds=4, pages=1000, out=tmp_path / "scale.json")
    report(rows, [], args)
    printed = capsys.readouterr().out
    result = json.loads(args.out.read_text())
    assert result["ratios_two"] == [1.5, 2.0, 1.2, 1.65] and result["judged_ratios_two"] == [1.5, 1.65]
    assert result["ratio_two"] == pytest.approx(1.575) and result["verdict"] == "FAIL", printed
    assert "every round: 1.57x, median of 4 rounds: 1.50 2.00 1.20 1.65" in printed, printed
    assert "lost over 0.02 cores to steal: 1.57x, median of 2 rounds: 1.50 1.65 (target >= 1.6)  FAIL" in printed
    report([r for r in rows if r["round"] in (2, 3)], [], args)
    assert "no round ran without steal  n/a" in capsys.readouterr().out
    assert json.loads(args.out.read_text())["judged_rounds"] == []
