"""The run's limits on new articles (``-a max_articles``, DISCOVER_MAX_PER_SOURCE) hold for
every process of a run on the shared frontier together, not for each (crawler/frontier/limits.py).

Before, each process counted the articles it had requested itself: three processes whose
child sitemaps were fetched by different members each requested up to the limit, so a
``-a max_articles=25`` run fetched up to 75. Without a Redis on 127.0.0.1:6379 the tests are
skipped."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from crawler.frontier.limits import RunLimits
from crawler.frontier.run import Run, run_key
from crawler.mirror import mirror_path
from crawler.spiders.limits import GRANTED, OVER_LIMIT, UNANSWERED, ProcessLimits
from tests.mirrorcrawl import CountingMirror, make_web, read_log
from tests.test_frontier import crawl, frontier, rows  # noqa: F401 - frontier: the fixture

redis = pytest.importorskip("redis")

SITEMAPS = {"znews": "https://znews.vn/sitemap/sitemap-news.xml", "dantri": "https://dantri.com.vn/sitemap.xml"}
CHILDREN = 6  # child sitemaps per source: more than one process's lease of them (PREFETCH)


def sitemap_web(root: Path) -> tuple[dict[str, list[str]], Path]:
    """A generated web in which znews and dantri announce their articles in sitemap indexes of
    CHILDREN child sitemaps each: {source: its article URLs}, the seeds file."""
    urls, seeds = make_web(root, 150)
    by_source = {name: [u for u in urls if u.split("/")[2] == index.split("/")[2]] for name, index in SITEMAPS.items()}
    for name, index in SITEMAPS.items():
        children = [f"{index.rsplit('/', 1)[0]}/{name}-part-{n}.xml" for n in range(CHILDREN)]
        write(root, index, '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
              + "".join(f"<sitemap><loc>{child}</loc></sitemap>" for child in children) + "</sitemapindex>")
        for n, child in enumerate(children):
            write(root, child, '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                  + "".join(f"<url><loc>{url}</loc></url>" for url in by_source[name][n::CHILDREN]) + "</urlset>")
    return by_source, seeds


def write(root: Path, url: str, xml: str) -> None:
    path = root / "web" / mirror_path(url).lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n' + xml)
    # slow to answer: the first process to lease some does not read them all before the others start
    path.with_name(path.name + ".headers").write_text("Delay: 0.5\n")


def crawl_sitemaps_in_three(tmp_path: Path, prefix: str, *options: str) -> dict[str, int]:
    """Three ``scrapy crawl sitemaps`` processes on one frontier: how many of each source's
    articles the mirror served (each at most once). Two requests at a time each, so that no
    process leases every child sitemap before the others have joined."""
    by_source, seeds = sitemap_web(tmp_path)
    with CountingMirror(tmp_path / "web") as mirror:
        processes = [crawl(mirror, seeds, tmp_path / "archive.db", prefix, "-s", "CONCURRENT_REQUESTS=2", *options,
                           command=("-m", "scrapy", "crawl", "sitemaps", "-a", "sources=znews,dantri"))
                     for _ in range(3)]
        for process in processes:
            process.wait(timeout=300)
        logs = [read_log(process) for process in processes]
        for process, log in zip(processes, logs):
            assert process.returncode == 0, log[-4000:]
        counts = {name: mirror.article_requests(urls) for name, urls in by_source.items()}
    assert all(n == 1 for c in counts.values() for n in c.values()), counts
    # the work was shared: more than one process fetched articles (their runs are rows of their own)
    runs = rows(tmp_path / "archive.db", "SELECT count(DISTINCT crawl_run_id) FROM fetches WHERE outcome = 'new'")
    assert runs[0][0] >= 2, runs
    return {name: len(c) for name, c in counts.items()}


def test_max_articles_counts_for_the_whole_run(tmp_path, frontier):
    _, prefix = frontier
    counts = crawl_sitemaps_in_three(tmp_path, prefix, "-a", "max_articles=25")
    assert sum(counts.values()) == 25, counts


def test_discover_max_per_source_counts_for_the_whole_run(tmp_path, frontier):
    _, prefix = frontier
    counts = crawl_sitemaps_in_three(tmp_path, prefix, "-s", "DISCOVER_MAX_PER_SOURCE=8")
    assert counts == {"znews": 8, "dantri": 8}


def test_the_runs_members_are_granted_new_articles_from_one_budget(frontier):
    """Run.grant (the Redis side): the run's total and each source's count are shared; an
    article granted to one member is not granted again to another; the keys go with the run."""
    server, prefix = frontier
    base = run_key(prefix, "sitemaps", {})
    one, two = Run(server, base, "one", ttl_ms=60_000), Run(server, base, "two", ttl_ms=60_000)
    assert one.join(True, "sitemaps", {}) == 1 and two.join(True, "sitemaps", {}) == 1
    assert one.grant(5, 3, "znews", ["z1", "z2", "z3", "z4"]) == (3, [1, 1, 1, 0])  # znews's 3
    assert two.grant(5, 3, "znews", ["z5"]) == (3, [0])
    assert two.grant(5, 3, "dantri", ["d1", "z1", "d2", "d3"]) == (5, [1, 2, 1, 0])  # the run's 5
    assert one.grant(0, 0, "dantri", ["d4", "d1"]) == (6, [1, 2])  # no limit: counted all the same
    assert server.exists(one.key("limits"), one.key("granted")) == 2
    assert one.leave() == "left" and two.leave() == "done"
    assert server.exists(one.key("limits"), one.key("granted")) == 0


def test_members_granting_at_once_never_pass_the_limit_or_share_an_article(frontier):
    server, prefix = frontier
    base = run_key(prefix, "sitemaps", {})
    members = [Run(server, base, f"member-{n}", ttl_ms=60_000) for n in range(4)]
    for member in members:
        member.join(True, "sitemaps", {})
    granted: list[list[str]] = [[] for _ in members]

    articles = [f"https://znews.vn/a-post{k}.html" for k in range(300)]

    def discover(n: int) -> None:  # every member finds the same 300 articles, 20 a page, half of them backwards
        urls = articles if n % 2 else articles[::-1]
        for page in range(0, 300, 20):
            batch = urls[page:page + 20]
            _, flags = members[n].grant(150, 0, "znews", batch)
            granted[n] += [url for url, flag in zip(batch, flags) if flag == 1]

    threads = [threading.Thread(target=discover, args=(n,)) for n in range(len(members))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [url for urls in granted for url in urls]
    assert len(every) == 150 and len(set(every)) == 150


def test_one_process_counts_its_own_limits():
    limits = ProcessLimits(most=4, per_source=3)
    assert not limits.reached()
    assert limits.grant("znews", ["z1", "z2", "z3", "z4"]) == {"z1": GRANTED, "z2": GRANTED, "z3": GRANTED,
                                                              "z4": OVER_LIMIT}
    assert limits.grant("dantri", ["d1", "d2"]) == {"d1": GRANTED, "d2": OVER_LIMIT}
    assert limits.reached()
    assert ProcessLimits(None, 0).grant("znews", ["z1", "z2"]) == {"z1": GRANTED, "z2": GRANTED}


def test_the_run_limits_of_a_frontier_that_does_not_answer_request_nothing(frontier, caplog):
    """Redis away: the articles a page announced are not requested (uncounted, they could take
    the run past its limits; they are still new, so the next run finds them), said once."""
    from scrapy.utils.test import get_crawler

    from crawler.frontier.outage import FrontierOutage

    server, prefix = frontier
    run = Run(server, run_key(prefix, "sitemaps", {}), "one", ttl_ms=60_000)
    run.join(True, "sitemaps", {})
    outage = FrontierOutage(get_crawler(), "redis://127.0.0.1:6379/0", 60)
    limits = RunLimits(run, outage, 10, 0)

    def away(*_: object) -> None:
        raise redis.ConnectionError("Connection refused")

    run.grant = away
    with caplog.at_level("WARNING"):
        assert limits.grant("znews", ["z1", "z2"]) == {"z1": UNANSWERED, "z2": UNANSWERED}
        assert limits.grant("znews", ["z3"]) == {"z3": UNANSWERED}
    told = [r.getMessage() for r in caplog.records if "not requested" in r.getMessage()]
    assert len(told) == 1 and "2 new articles of znews" in told[0], told
    assert RunLimits(run, outage, None, 0).grant("znews", ["z4"]) == {"z4": GRANTED}  # no limit: no Redis


def test_a_discovery_page_requests_what_its_run_grants(monkeypatch):
    """spiders/base.py announced(): one grant for the page's new articles; granted ones are
    requested, and so are those another member found first (the run's duplicate filter drops
    them, unless that member died before queueing them); over the limit or uncounted, not.
    Each announced article is recorded as a discovery either way."""
    from scrapy.utils.test import get_crawler

    from crawler.discover import Announced
    from crawler.items import DiscoveryItem
    from crawler.spiders.feeds import FeedsSpider
    from crawler.spiders.limits import ELSEWHERE

    crawler = get_crawler(FeedsSpider, {"MIRROR_URL": "bundled"})
    spider = FeedsSpider.from_crawler(crawler)
    urls = [f"https://znews.vn/a-{n}-post{n}.html" for n in range(4)]
    asked = []

    class Verdicts:
        def grant(self, source: str, new: list[str]) -> dict[str, str]:
            asked.append((source, new))
            return dict(zip(new, (GRANTED, ELSEWHERE, OVER_LIMIT, UNANSWERED)))

    spider.limits = Verdicts()
    monkeypatch.setattr(spider, "_known", lambda found: {})
    entries = [Announced(url=url) for url in [*urls, urls[0]]]  # the first one twice
    out = list(spider.announced(entries, spider.sources["znews"], "feed", "https://znews.vn/rss/cong-nghe.rss"))
    assert asked == [("znews", urls)]
    assert [item.url for item in out if not isinstance(item, DiscoveryItem)] == urls[:2]
    assert sum(isinstance(item, DiscoveryItem) for item in out) == 5
    stats = crawler.stats.get_stats()
    assert (stats["discover/feed_article"], stats["discover/elsewhere"], stats["discover/over_limit"],
            stats["discover/limits_unanswered"]) == (1, 1, 1, 1)
