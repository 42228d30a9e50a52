"""``archive recrawl``: one unattended run for cron or a systemd timer.

Under a lock (a second overlapping run exits at once with EXIT_LOCKED), it runs the
discovery spiders (feeds, sitemaps, listings), then revisits the archived articles that
are due. Each spider is a row in crawl_runs. Exit status: 0 when every spider finished;
1 when one failed (so cron mails the owner), with one line per spider on stderr; 2 when the
run could not start (a bad setting, option or seeds file; an archive or lock file that
cannot be created), in one line; 3 when every spider finished but a source's extraction
departed from its baseline (crawler/archive/health.py), with one line per alarm on stderr;
75 (EX_TEMPFAIL) when another run holds the lock.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError

from .archive.db import archive_url, shown_url
from .lock import AlreadyRunning, LockUnavailable, run_lock

logger = logging.getLogger(__name__)
EXIT_OK, EXIT_FAILED, EXIT_ALARM, EXIT_LOCKED = 0, 1, 3, 75
DISCOVERY_SPIDERS = ("feeds", "sitemaps", "listings")
COMMAND = "archive recrawl"


@dataclass
class RecrawlOptions:
    archive: str | None = None
    sources: str | None = None
    max_articles: int | None = None
    since: str | None = None
    discover: bool = True
    revisit: bool = True
    settings: dict[str, str] = field(default_factory=dict)
    worker: bool = False  # only help with the runs of the shared frontier (crawler/frontier/worker.py)
    wait: float = 60.0


@dataclass(frozen=True)
class SpiderResult:
    """How one spider of the run went: crawl_runs.status and why it did not finish."""

    spider: str
    status: str
    why: str | None = None
    requests: int = 0
    failed: int = 0
    alarms: tuple[str, ...] = ()  # its extraction-health alarms, one line each

    def line(self) -> str:
        return f"{self.spider}: {self.status} — {self.why or f'{self.requests} requests, {self.failed} failed'}"


def run(options: RecrawlOptions) -> int:
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
    from scrapy.utils.project import get_project_settings

    from .commands.startup import StartupError, check_startup, report_startup_error
    from .frontier.run import FrontierUnavailable

    settings = get_project_settings()
    settings.setdict(options.settings, priority="cmdline")
    if options.archive:  # a URL, or as for every archive command, a SQLite file's path
        url = options.archive if "://" in options.archive else f"sqlite:///{options.archive}"
        settings.set("ARCHIVE_URL", url, priority="cmdline")
    spiders = [*(DISCOVERY_SPIDERS if options.discover else ()), *(("revisit",) if options.revisit else ())]
    args = {k: str(v) for k, v in (("sources", options.sources), ("max_articles", options.max_articles),
                                   ("since", options.since)) if v}
    try:
        check_startup(settings, spiders, args)
        url = archive_url(settings.get("ARCHIVE_URL"))
        if options.worker:  # no lock: the seeders hold it, never the workers
            return _work(settings, url, options.wait)
        with run_lock(url, settings.get("RECRAWL_LOCK_FILE")):  # PostgreSQL: in the server
            _open_archive(url)
            return _report(_crawl(settings, spiders, args), spiders)
    except AlreadyRunning as exc:
        print(f"{COMMAND}: {exc}", flush=True)
        return EXIT_LOCKED
    except (StartupError, LockUnavailable, FrontierUnavailable) as exc:  # FRONTIER_URL checked, then gone
        return report_startup_error(COMMAND, exc, settings)


def _work(settings, url: str, wait: float) -> int:  # noqa: ANN001
    from .commands.startup import StartupError
    from .frontier.worker import work

    if not settings.get("FRONTIER_URL"):
        raise StartupError("--worker needs the shared frontier: -s FRONTIER_URL=redis://host:6379/0")
    _open_archive(url)
    results = work(settings, wait)
    return _report(results, [r.spider for r in results])


def _open_archive(url: str) -> None:
    """Create or upgrade the archive before any spider starts: one that cannot be is one line."""
    from .archive.store import Archive
    from .commands.startup import StartupError

    try:
        Archive.open(url).close()
    except SQLAlchemyError as exc:
        cause = " ".join(str(getattr(exc, "orig", None) or exc).split())
        raise StartupError(f"ARCHIVE_URL {shown_url(url)}: cannot open the archive: {cause}") from exc


def _report(results: list[SpiderResult], spiders: list[str]) -> int:
    """EXIT_OK; EXIT_FAILED with one line per spider on stderr; else EXIT_ALARM with one line
    per health alarm (also printed after a failure's lines: cron mails them together)."""
    failed = not all(r.status == "finished" for r in results) or len(results) != len(spiders)
    if failed:
        for result in results:
            print(f"{COMMAND}: {result.line()}", file=sys.stderr, flush=True)
    alarms = [f"{COMMAND}: health alarm: {line}" for result in results for line in result.alarms]
    for line in alarms:
        print(line, file=sys.stderr, flush=True)
    return EXIT_FAILED if failed else EXIT_ALARM if alarms else EXIT_OK


def _crawl(settings, spiders: list[str], args: dict[str, str]) -> list[SpiderResult]:  # noqa: ANN001
    """Run the spiders one after another in one reactor."""
    from scrapy.crawler import AsyncCrawlerRunner
    from scrapy.utils.defer import deferred_from_coro
    from scrapy.utils.log import configure_logging
    from scrapy.utils.reactor import install_reactor

    from .commands.crawl import health_alarms, run_status

    install_reactor(settings.get("TWISTED_REACTOR"))
    from twisted.internet import reactor

    configure_logging(settings)
    results: list[SpiderResult] = []

    async def sequence() -> None:
        runner = AsyncCrawlerRunner(settings)
        for name in spiders:
            crawler = runner.create_crawler(name)
            try:
                await runner.crawl(crawler, **args)
            except Exception as exc:  # noqa: BLE001 - this spider could not start: reported as its failure
                results.append(SpiderResult(name, "failed", f"could not start: {' '.join(str(exc).split())}"))
                logger.debug("recrawl: %s could not start", name, exc_info=True)
                continue
            stats = crawler.stats
            results.append(SpiderResult(name, run_status(crawler), stats.get_value("archive/run_reason"),
                                        stats.get_value("fetch/requests", 0), stats.get_value("fetch/failed", 0),
                                        tuple(health_alarms(crawler))))

    done = deferred_from_coro(sequence())
    done.addBoth(lambda _: reactor.stop())
    reactor.run(installSignalHandlers=True)
    return results
