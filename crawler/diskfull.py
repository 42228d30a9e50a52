"""Out of space: one ERROR line naming what could not be written and where, and the crawl
closes with finish reason ``disk_full`` (so its run is ``failed``, issue 9 item 10).

Continuing would fetch pages that can be neither kept raw nor stored; the sites' servers
would carry that load for nothing.
"""

from __future__ import annotations

import errno
import logging
from typing import Any

logger = logging.getLogger(__name__)
FINISH_REASON = "disk_full"
OUT_OF_SPACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
SQLITE_FULL = 13  # "database or disk is full" (sqlite3 exceptions carry it from Python 3.11)
POSTGRES_DISK_FULL = "53100"  # SQLSTATE disk_full


def is_out_of_space(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps: SQLAlchemy's ``orig``, a cause) is a full disk or quota."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in OUT_OF_SPACE_ERRNOS:
            return True
        if getattr(exc, "sqlite_errorcode", None) == SQLITE_FULL or getattr(exc, "sqlstate", None) == POSTGRES_DISK_FULL:
            return True
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
    return False


def stop_for_full_disk(crawler: Any, what: str, where: Any, exc: BaseException) -> None:
    """Log the one line and close the spider, once per crawl whoever notices first (call on
    the reactor's thread). ``what``/``where``: "WARC records" / the WARC directory."""
    if crawler.stats.get_value("disk_full/what") is not None:
        return
    crawler.stats.set_value("disk_full/what", what)
    reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
    logger.error("out of space: could not write %s (%s): %s; the crawl stops (%s)", what, where, reason,
                 FINISH_REASON)
    if crawler.engine is not None and crawler.engine.spider is not None:
        from scrapy.utils.defer import deferred_from_coro  # here: the archive layer imports this module

        # not awaited by whoever noticed (a pipeline mid-item): closing waits for items in progress
        deferred_from_coro(crawler.engine.close_spider_async(reason=FINISH_REASON))
