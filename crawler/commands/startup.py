"""Whether a crawl can start, checked before Scrapy starts anything, and how a crawl that
cannot start says so: one line naming the setting, argument or seeds entry and what is
wrong, exit status 2, the traceback only at ``LOG_LEVEL=DEBUG`` (issue 9: a bad
ARCHIVE_URL used to print 136 lines, a bad MIRROR_URL a traceback per request).

Settings given with -s are checked first (``crawler/settings_check.py``). Each other check is the one the component itself makes when it is built (``load_sources``,
``check_archive_url``, ``check_mirror_url``, the spider's own argument parsing), run early.
"""

from __future__ import annotations

import logging
import sys
import traceback
from typing import Iterable

from scrapy.exceptions import UsageError
from scrapy.settings import BaseSettings
from scrapy.spiderloader import get_spider_loader

from ..archive.db import archive_url, check_archive_url
from ..frontier.run import check_frontier
from ..mirror.handler import check_mirror_url
from ..settings_check import check_settings
from ..sources import sources_from_settings

EXIT_STARTUP = 2


class StartupError(Exception):
    """The crawl cannot start; the message names what is wrong."""


def check_startup(settings: BaseSettings, spiders: Iterable[str], spider_args: dict[str, str]) -> None:
    """Raise StartupError for a -s setting, seeds file, ARCHIVE_URL, MIRROR_URL, spider name
    or spider argument a crawl could not start with."""
    try:
        check_settings(settings)
        sources = sources_from_settings(settings)
        check_archive_url(archive_url(settings.get("ARCHIVE_URL")))
        check_mirror_url(settings.get("MIRROR_URL") or "")
        check_frontier(settings.get("FRONTIER_URL"))
        loader = get_spider_loader(settings)
        for name in spiders:
            try:
                spider_class = loader.load(name)
            except KeyError:
                raise StartupError(f"no spider {name!r}: the spiders are {', '.join(sorted(loader.list()))}") from None
            spider_class.check_arguments(sources, **spider_args)
    except (ValueError, UsageError) as exc:  # SourcesError, ArchiveUrlError, MirrorUrlError are ValueErrors
        raise StartupError(str(exc)) from exc


def report_startup_error(command: str, exc: BaseException, settings: BaseSettings) -> int:
    """Print why ``command`` could not start in one line (after the traceback at DEBUG)."""
    if is_debug(settings):
        traceback.print_exception(exc, file=sys.stderr)
    known = isinstance(exc, (StartupError, UsageError, ValueError, OSError))
    message = " ".join(str(exc).split()) or type(exc).__name__
    print(f"{command}: {message if known else f'{type(exc).__name__}: {message}'}", file=sys.stderr, flush=True)
    return EXIT_STARTUP


def is_debug(settings: BaseSettings) -> bool:
    return logging.getLevelName(str(settings.get("LOG_LEVEL")).upper()) == logging.DEBUG
