"""Settings given on the command line (``-s NAME=VALUE``), checked before a crawl starts.

Scrapy takes any name and any string: ``-s EXTRACT_WORKRS=0`` ran a normal crawl that
ignored it, and ``-s EXTRACT_WORKERS=two`` stopped with "invalid literal for int() with base
10: 'two'", naming neither the setting nor the value. Here a name that is a near miss of a
known one, and a value that the setting's type cannot read or its range does not allow, is
one line naming the setting (the crawl exits 2, see commands/startup.py). A name that is no
near miss of anything is let through with a warning: an add-on's own setting looks like that.
"""

from __future__ import annotations

import difflib
import logging
from typing import Any

from scrapy.settings import BaseSettings, SETTINGS_PRIORITIES, default_settings

from . import settings as project_settings

logger = logging.getLogger(__name__)

# scrapy-redis reads these (crawler/frontier/ sets them from FRONTIER_URL; a user may too)
SCRAPY_REDIS_SETTINGS = (
    "REDIS_URL", "REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_PARAMS", "REDIS_ENCODING",
    "REDIS_DECODE_RESPONSES", "REDIS_ITEMS_KEY", "REDIS_ITEMS_SERIALIZER", "REDIS_START_URLS_KEY",
    "REDIS_START_URLS_AS_SET", "REDIS_START_URLS_AS_ZSET", "REDIS_START_URLS_BATCH_SIZE",
    "SCHEDULER_PERSIST", "SCHEDULER_QUEUE_CLASS", "SCHEDULER_QUEUE_KEY", "SCHEDULER_DUPEFILTER_KEY",
    "SCHEDULER_DUPEFILTER_CLASS", "SCHEDULER_FLUSH_ON_START", "SCHEDULER_IDLE_BEFORE_CLOSE",
    "SCHEDULER_SERIALIZER", "DUPEFILTER_KEY", "MAX_IDLE_TIME_BEFORE_CLOSE", "STATS_KEY",
)

# Counts, read as whole numbers (a default's type says little: Scrapy's DOWNLOAD_DELAY = 0 is a float).
WHOLE_NUMBERS = {"EXTRACT_WORKERS", "ARCHIVE_BATCH_SIZE", "ARCHIVE_VALIDATORS_BATCH", "CONCURRENT_REQUESTS",
                 "CONCURRENT_REQUESTS_PER_DOMAIN", "CONCURRENT_ITEMS", "DISCOVER_MAX_PAGES", "DISCOVER_MAX_PER_SOURCE",
                 "DOWNLOAD_MAXSIZE", "DOWNLOAD_WARNSIZE", "HEALTH_BASELINE_RUNS", "HEALTH_MIN_BASELINE_RUNS",
                 "HEALTH_MIN_PAGES", "REVISIT_MAX_PER_SOURCE", "REVISIT_YOUNG_MAX_STEP", "WARC_MAX_SIZE", "RETRY_TIMES",
                 "REDIRECT_MAX_TIMES", "DEPTH_LIMIT"}
# Numbers that must be above 0 (0 stalls the crawl or every write), and shares (0 to 1).
POSITIVE = {"CONCURRENT_REQUESTS", "CONCURRENT_REQUESTS_PER_DOMAIN", "CONCURRENT_ITEMS", "ARCHIVE_BATCH_SIZE",
            "WARC_MAX_SIZE", "FRONTIER_LEASE_TTL", "HEALTH_BASELINE_RUNS", "DOWNLOAD_TIMEOUT"}
SHARES = {"RUN_MAX_ERROR_SHARE", "HEALTH_BODY_RATIO", "HEALTH_FIELD_DROP", "HEALTH_SKIPPED_RISE",
          "HEALTH_CHANGED_SHARE"}

NEAR_MISS = 0.8  # difflib ratio: EXTRACT_WORKRS, CONCURENT_REQUESTS, ARCHIVEURL are above it


def _module_settings(module: Any) -> dict[str, Any]:
    return {name: getattr(module, name) for name in dir(module) if name.isupper()}


PROJECT_DEFAULTS = frozenset(_module_settings(project_settings))


def known_defaults() -> dict[str, Any]:
    """Every setting name this crawler, Scrapy or scrapy-redis reads, with its default."""
    return {**dict.fromkeys(SCRAPY_REDIS_SETTINGS), **_module_settings(default_settings),
            **_module_settings(project_settings)}


def command_line_settings(settings: BaseSettings) -> dict[str, Any]:
    """The settings given with -s (Scrapy's "cmdline" priority)."""
    cmdline = SETTINGS_PRIORITIES["cmdline"]
    return {name: settings[name] for name in settings if settings.getpriority(name) == cmdline}


def check_settings(settings: BaseSettings) -> None:
    """Raise ValueError naming the first -s setting that is a near-miss name or a bad value;
    log a warning for a name nobody here reads."""
    known = known_defaults()
    for name in sorted(command_line_settings(settings)):
        if name not in known:
            _check_name(name, known)
            continue
        _check_value(settings, name, known[name])


def _check_name(name: str, known: dict[str, Any]) -> None:
    if name.upper() in known:
        raise ValueError(f"setting {name}: setting names are upper case, did you mean {name.upper()}?")
    close = difflib.get_close_matches(name.upper(), known, n=1, cutoff=NEAR_MISS)
    if close:
        raise ValueError(f"setting {name}: no such setting, did you mean {close[0]}?")
    logger.warning("setting %s is not one Scrapy, scrapy-redis or this crawler reads: "
                   "it does nothing unless an add-on of yours reads it", name)


def _check_value(settings: BaseSettings, name: str, default: Any) -> None:
    if settings.get(name) is None:
        return
    if name in WHOLE_NUMBERS:
        read, expected = settings.getint, "a whole number"
    elif isinstance(default, bool):
        read, expected = settings.getbool, "true/false or 1/0"
    elif isinstance(default, (int, float)):
        read, expected = settings.getfloat, "a number"
    else:
        return  # strings, paths, URLs and lists have checks of their own; Scrapy itself refuses a dict that is no JSON
    try:
        value = read(name)
    except (TypeError, ValueError):
        raise ValueError(f"setting {name}={settings.get(name)!r}: {expected} expected"
                         + ("" if default is None else f" (default: {default!r})")) from None
    if isinstance(value, bool):
        return
    if name in POSITIVE and value <= 0:
        raise ValueError(f"setting {name}={value!r}: must be more than 0")
    if name in PROJECT_DEFAULTS and value < 0:  # none of ours, nor Scrapy's that we set, means anything below 0
        raise ValueError(f"setting {name}={value!r}: must be 0 or more")
    if name in SHARES and value > 1:
        raise ValueError(f"setting {name}={value!r}: a share from 0 to 1 expected")
