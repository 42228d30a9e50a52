"""Scrapy settings for the news archive crawler.

Our own settings carry a prefix per component and are listed, with defaults, in the
README's settings table. Every one can be given on the command line with -s NAME=VALUE.
"""

from scrapy.settings import default_settings

BOT_NAME = "news-archive-crawler"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
# our `scrapy crawl`: one line and exit status 2 for a start-up error, 1 for a failed run
COMMANDS_MODULE = "crawler.commands"

# -- Sources -----------------------------------------------------------------
# The seeds file with the source definitions (None: seeds/sources.toml of this project).
SOURCES_FILE = None

# -- Extraction ----------------------------------------------------------------
# Worker processes that extract articles, off the reactor thread (None: one per core;
# 0: in the crawl's own process, for debugging).
EXTRACT_WORKERS = None

# -- Archive -----------------------------------------------------------------
# SQLAlchemy URL of the archive; None: $ARCHIVE_URL, else sqlite:///archive.db.
ARCHIVE_URL = None
# Items written per transaction (a failing batch is stored again a savepoint per item,
# so one bad item never costs the others).
ARCHIVE_BATCH_SIZE = 50
# Seconds a batch waits for more items before it is written anyway: an item leaves the
# pipelines (to the feed exports) only once stored, and the spider closes only when none waits.
ARCHIVE_BATCH_WAIT = 0.5
# Seconds a batch waits for a database that stopped answering (tried again every second)
# before the crawl stops (finish reason archive_lost, run failed; extensions/archive.py).
ARCHIVE_OUTAGE_LIMIT = 60
# Re-fetch known articles with If-None-Match / If-Modified-Since from the archive.
ARCHIVE_CONDITIONAL_REQUESTS = True
# Article requests whose validators are looked up in one query (0: one query per request).
ARCHIVE_VALIDATORS_BATCH = 100

# -- Cited sources -------------------------------------------------------------
# Crawl the original a page cites ("Source : https://…") when a configured source covers it.
CITED_FOLLOW = True

# -- WARC (the raw web) --------------------------------------------------------
# Write every HTTP exchange to WARC 1.1 files.
WARC_ENABLED = True
# Where (None: warc/ beside a SQLite archive, else ./warc/<host>-<database>).
WARC_DIR = None
# Start a new file past this many bytes.
WARC_MAX_SIZE = 1024 ** 3
# File names: <prefix>-<timestamp>-<serial>-<pid>.warc.gz
WARC_PREFIX = "news-archive"

# -- Offline mirror ----------------------------------------------------------
# Fetch https://host/path from MIRROR_URL/host/path instead; "bundled" serves the
# project's recorded web in-process. Empty: the live web.
MIRROR_URL = ""

# -- Shared frontier (crawler/frontier/) ------------------------------------------------
# Redis URL of a frontier shared by every process started with the same command, on any
# host (redis://host:6379/0). Empty: each process has its own in-memory queue.
FRONTIER_URL = ""
# Prefix of the frontier's Redis keys (one per archive, if several share a Redis).
FRONTIER_PREFIX = "news-archive"
# Seconds a process's leased requests outlive its last heartbeat before others take them over.
FRONTIER_LEASE_TTL = 30
# May seed the start requests: the first such process of a run does (frontier/seeding.py).
# False: a worker, which only helps with runs others started.
FRONTIER_SEED = True
# Seconds the crawl waits for a frontier Redis that stopped answering before it stops (finish
# reason frontier_lost, run failed; crawler/frontier/outage.py).
FRONTIER_OUTAGE_LIMIT = 60
# Per-site politeness across processes: a per-host slot in Redis (CONCURRENT_REQUESTS_PER_DOMAIN,
# the largest delay any process wants for the site).
FRONTIER_HOST_SLOTS = True

# -- Discovery ---------------------------------------------------------------------
# Listing pages followed per listing and run (znews repeats its last page forever).
DISCOVER_MAX_PAGES = 10
# New articles a discovery spider fetches per source and run (0: no cap).
DISCOVER_MAX_PER_SOURCE = 0

# -- Revisit schedule (crawler/schedule.py) -------------------------------------------
# Back-off steps in minutes while an article stays unchanged: 15 min, 1 h, 6 h, 1 d, 7 d, 30 d.
REVISIT_INTERVALS = [15, 60, 360, 1440, 10080, 43200]
# Articles younger than this (hours since publication) never back off past REVISIT_YOUNG_MAX_STEP.
REVISIT_YOUNG_HOURS = 48
REVISIT_YOUNG_MAX_STEP = 1
# A gone (404/410) article is checked again after this many days.
REVISIT_GONE_DAYS = 30
# Due articles revisited per source and run.
REVISIT_MAX_PER_SOURCE = 200

# -- Scheduled runs (archive recrawl) -------------------------------------------------
# Lock file that keeps cron runs of a SQLite archive from overlapping (None: <archive
# file>.lock). A PostgreSQL archive is locked in its server (crawler/advisory_lock.py).
RECRAWL_LOCK_FILE = None

# -- Runs (crawl_runs) ----------------------------------------------------------------
# A run fails when more than this share of its requests failed (all failed: always).
RUN_MAX_ERROR_SHARE = 0.5
# Scrapy's stats are kept in crawl_runs.stats and a run ends with a one-line summary; the
# 60-line dump per spider buried the errors of a run in its log and cron mail.
STATS_DUMP = False

# -- Extraction health (crawler/archive/health.py) ---------------------------------------
# A source's baseline: the median of each measure over its last HEALTH_BASELINE_RUNS finished
# runs with at least HEALTH_MIN_PAGES pages for it; no alarm before HEALTH_MIN_BASELINE_RUNS.
HEALTH_BASELINE_RUNS = 10
HEALTH_MIN_BASELINE_RUNS = 3
HEALTH_MIN_PAGES = 5
# Alarm when the median body length falls below this share of the baseline's,
HEALTH_BODY_RATIO = 0.5
# when the share of pages with a title, authors, published_at, or read by the source's own
# body selectors falls by more than this,
HEALTH_FIELD_DROP = 0.2
# when the share of skipped visits rises by more than this,
HEALTH_SKIPPED_RISE = 0.25
# and when at least this share of revisits made a new version, where the baseline's was under half of it.
HEALTH_CHANGED_SHARE = 0.9

# -- Politeness (these are news sites' servers, not ours) ----------------------
# Where a site operator can reach whoever runs this crawler; fills {contact} below.
CONTACT_URL = "https://github.com/news-archive-crawler/news-archive-crawler"
USER_AGENT = "news-archive-crawler/0.1 (+{contact})"
ROBOTSTXT_USER_AGENT = "news-archive-crawler"
ROBOTSTXT_OBEY = True
# Crawl-delay values above this (seconds) are capped, so one robots.txt cannot stall a run.
ROBOTSTXT_MAX_CRAWL_DELAY = 60
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 30
# An article page is well under 5 MB; anything bigger is not one.
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# Before retrying a 429/503: Retry-After if given, else RETRY_BACKOFF_BASE * 2^n seconds, at most RETRY_BACKOFF_MAX.
RETRY_BACKOFF_BASE = 2.0
RETRY_BACKOFF_MAX = 120.0
# FailuresMiddleware logs every failed request in one line; Scrapy's own line would repeat it.
RETRY_GIVE_UP_LOG_LEVEL = "DEBUG"

# An archive records what anyone would see: no session cookies.
COOKIES_ENABLED = False

DOWNLOAD_HANDLERS = {
    "http": "crawler.mirror.handler.MirrorDownloadHandler",
    "https": "crawler.mirror.handler.MirrorDownloadHandler",
}

DOWNLOADER_MIDDLEWARES = {
    # next to the engine: each request's final answer, after retries and redirects, robots.txt too
    "crawler.middlewares.failures.FailuresMiddleware": 40,
    # every request that waits for robots.txt gets its rules; 5xx/unreachable: host disallowed
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.middlewares.robots.RobotsTxtMiddleware": 100,
    "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware": None,
    "crawler.middlewares.useragent.ContactUserAgentMiddleware": 500,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.politeness.BackoffRetryMiddleware": 550,
    "crawler.middlewares.conditional.ConditionalRequestMiddleware": 560,
    # redirects followed for article requests too, never off the sources or to private addresses
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.middlewares.redirect.SourceMetaRefreshMiddleware": 580,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "crawler.middlewares.redirect.SourceRedirectMiddleware": 600,
    # responses go up from 950 to 0: the body as sent is checked for completeness (595),
    # decompressed (Scrapy, 590), then read in the charset it is really in (585)
    "crawler.middlewares.integrity.CompleteBodyMiddleware": 595,
    "crawler.middlewares.charset.CharsetMiddleware": 585,
    # next to the downloader: every exchange as sent and received, redirects and retries included
    "crawler.middlewares.warc.WarcMiddleware": 950,
    # with FRONTIER_URL: a per-host slot in Redis, held only while the request is out
    "crawler.frontier.slots.HostSlotMiddleware": 960,
}

# FRONTIER_URL switches the scheduler and duplicate filter to the shared frontier
ADDONS = {
    "crawler.frontier.addon.FrontierAddon": 0,
}

# The archive is opened once, by this extension; every component asks it for the archive.
EXTENSIONS = {
    "crawler.extensions.archive.ArchiveExtension": 0,
    # bytes per source and the slowest downloads, for the run's report (crawl_runs.report)
    "crawler.extensions.traffic.TrafficExtension": 10,
    # with FRONTIER_URL: whether its Redis answers; the crawl waits for it, then stops
    "crawler.frontier.outage.FrontierOutage": 20,
}
# RemoteControl is off (REMOTE_CONTROL_ENABLED below) and left out of Scrapy's base list so
# that it is not even imported: its module loads aiohttp, ~0.1 s of every crawl's start, a
# 304 re-crawl's included (issue 11). Naming it None in EXTENSIONS would import it all the same.
EXTENSIONS_BASE = {name: order for name, order in default_settings.EXTENSIONS_BASE.items()
                   if name != "scrapy.extensions.remote_control.RemoteControl"}

SPIDER_MIDDLEWARES = {
    # with FRONTIER_URL, outermost: a process that does not seed its run reads no start request
    # (not even their validators, looked up by the next one)
    "crawler.frontier.seeding.SeedOnceMiddleware": 10,
    # near the engine: only requests that passed the depth/length filters are looked up
    "crawler.middlewares.conditional.PrefetchValidatorsMiddleware": 30,
}

# Our callbacks yield one item per page; Scrapy starts an asyncio task per CONCURRENT_ITEMS
# slot for every response (100 by default), which was a third of a 304 re-crawl's time.
CONCURRENT_ITEMS = 8

# fetch -> extract -> (follow cited) -> dedup + store
ITEM_PIPELINES = {
    "crawler.pipelines.extract.ExtractPipeline": 300,
    "crawler.pipelines.cited.FollowCitedPipeline": 400,
    "crawler.pipelines.archive.ArchivePipeline": 800,
}

# No remote consoles on a machine that runs from cron.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"
