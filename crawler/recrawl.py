"""``archive recrawl``: one unattended run for cron or a systemd timer.

Under a lock (a second overlapping run exits at once with EXIT_LOCKED), it runs the
discovery spiders (feeds, sitemaps, listings), then revisits the archived articles that
are due. Each spider is a row in crawl_runs. Exit status: 0 when every spider finished,
1 when one failed (so cron mails the owner), 75 (EX_TEMPFAIL) when another run holds the lock.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from .archive.db import archive_url
from .lock import AlreadyRunning, RunLock

logger = logging.getLogger(__name__)
EXIT_OK, EXIT_FAILED, EXIT_LOCKED = 0, 1, 75
DISCOVERY_SPIDERS = ("feeds", "sitemaps", "listings")


@dataclass
class RecrawlOptions:
    archive: str | None = None
    sources: str | None = None
    max_articles: int | None = None
    since: str | None = None
    discover: bool = True
    revisit: bool = True
    settings: dict[str, str] = field(default_factory=dict)


def lock_path(settings_value: str | None, url: str) -> Path:
    """RECRAWL_LOCK_FILE, else <archive file>.lock, else ./archive.lock."""
    if settings_value:
        return Path(settings_value)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        return Path(parsed.database + ".lock")
    return Path("archive.lock")


def run(options: RecrawlOptions) -> int:
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    settings.setdict(options.settings, priority="cmdline")
    if options.archive:
        settings.set("ARCHIVE_URL", options.archive, priority="cmdline")
    url = archive_url(settings.get("ARCHIVE_URL"))
    try:
        with RunLock(lock_path(settings.get("RECRAWL_LOCK_FILE"), url)):
            return _run_locked(settings, url, options)
    except AlreadyRunning as exc:
        print(f"archive recrawl: {exc}", flush=True)
        return EXIT_LOCKED


def _run_locked(settings, url: str, options: RecrawlOptions) -> int:  # noqa: ANN001
    from .archive.store import Archive

    archive = Archive.open(url)
    stale = archive.interrupt_stale_runs()
    archive.close()
    if stale:
        logger.warning("recrawl: %d run(s) left 'running' by a killed process marked interrupted", stale)
    spiders = [*(DISCOVERY_SPIDERS if options.discover else ()), *(("revisit",) if options.revisit else ())]
    args = {k: str(v) for k, v in (("sources", options.sources), ("max_articles", options.max_articles),
                                   ("since", options.since)) if v}
    results = _crawl(settings, spiders, args)
    failed = [name for name, reason in results if reason != "finished"]
    for name, reason in results:
        logger.info("recrawl: %s %s", name, reason)
    return EXIT_FAILED if failed or len(results) < len(spiders) else EXIT_OK


def _crawl(settings, spiders: list[str], args: dict[str, str]) -> list[tuple[str, str]]:  # noqa: ANN001
    """Run the spiders one after another in one reactor; (name, finish_reason) each."""
    from scrapy.crawler import AsyncCrawlerRunner
    from scrapy.utils.defer import deferred_from_coro
    from scrapy.utils.log import configure_logging
    from scrapy.utils.reactor import install_reactor

    install_reactor(settings.get("TWISTED_REACTOR"))
    from twisted.internet import reactor

    configure_logging(settings)
    results: list[tuple[str, str]] = []

    async def sequence() -> None:
        runner = AsyncCrawlerRunner(settings)
        for name in spiders:
            crawler = runner.create_crawler(name)
            try:
                await runner.crawl(crawler, **args)
                results.append((name, crawler.stats.get_value("finish_reason") or "unknown"))
            except Exception as exc:  # noqa: BLE001 - reported as this spider's failure
                logger.error("recrawl: %s failed: %s", name, exc)
                results.append((name, f"failed: {exc}"))

    done = deferred_from_coro(sequence())
    done.addBoth(lambda _: reactor.stop())
    reactor.run(installSignalHandlers=True)
    return results
