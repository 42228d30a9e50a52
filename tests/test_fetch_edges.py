"""The fetch layer's edges (issue 9): robots.txt for requests that wait together and for a
robots.txt that fails, redirects, bodies cut short, a charset header that cannot be right,
and messages that say what happened, about the article's URL.

Crawls run against tests/faultserver.py; every case checks the ``fetches`` row and what the
archive kept. Several cases share one crawl where their settings allow it.
"""

from __future__ import annotations

import gzip
import socket
import time
import zlib
from pathlib import Path

import brotli
import pytest
from scrapy.exceptions import (
    DownloadCancelledError, DownloadConnectionRefusedError, DownloadFailedError, DownloadTimeoutError, IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import HtmlResponse, Response, TextResponse
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.python.failure import Failure
from twisted.web._newclient import _DataLoss
from twisted.web.client import ResponseFailed, ResponseNeverReceived
from warcio.archiveiterator import ArchiveIterator

from crawler.failures import RedirectRefused, RobotsTxtRefused, describe_failure
from crawler.middlewares.charset import page_encoding
from crawler.middlewares.integrity import STREAM_ENDS, zstd
from crawler.middlewares.redirect import off_limits
from crawler.mirror import BUNDLED_WEB
from crawler.spiders.base import not_html
from tests.conftest import expected_pages, query, run_crawl
from tests.faultserver import FaultServer, mirror_route

ZNEWS = "https://znews.vn/cuoc-choi-lon-cua-mark-zuckerberg-post1556369.html"
DANTRI = ("https://dantri.com.vn/cong-nghe/"
          "meta-bao-chi-san-nao-ai-mark-zuckerberg-khoi-mao-cuoc-chien-20250702002436713.htm")
DEVELOPPEZ = next(p for p in expected_pages() if p["source"] == "developpez")
ROBOTS = "User-agent: *\nCrawl-delay: 2\nDisallow: /private/\n"


def bundled(url: str) -> bytes:
    path = BUNDLED_WEB / mirror_route(url).lstrip("/")
    return (path / "index.html" if path.is_dir() else path).read_bytes()


def serve(body: bytes, content_type: str = "text/html; charset=utf-8", status: int = 200, headers=()):
    return lambda handler: handler.send_page(body, status=status, content_type=content_type, headers=list(headers))


def redirect(location: str | None, status: int = 301):
    return lambda handler: handler.send_page(b"", status=status, headers=[("Location", location)] if location else [])


def fetches(archive: Path) -> dict[str, dict]:
    return {row["url"]: dict(row) for row in query(archive, "SELECT * FROM fetches ORDER BY id")}


def versions(archive: Path) -> int:
    return query(archive, "SELECT count(*) FROM article_versions")[0][0]


# -- robots.txt ---------------------------------------------------------------------------

@pytest.mark.parametrize("allowed, private", [(3, 1), (9, 3)], ids=["4-urls", "12-urls"])
def test_robots_txt_answers_every_request_that_waited_for_it(tmp_path, allowed, private):
    """Scrapy 2.19 gave the parser to the first waiter only: the others passed unchecked."""
    urls = [f"https://znews.vn/bai-{i}-post{i}.html" for i in range(allowed)]
    secret = [f"https://znews.vn/private/bi-mat-{i}-post{100 + i}.html" for i in range(private)]
    routes = {mirror_route(url): serve(bundled(ZNEWS)) for url in urls + secret}
    routes["/znews.vn/robots.txt"] = serve(ROBOTS.encode(), "text/plain")
    # the first request fetches robots.txt and the first one to wait got the parser too:
    # a disallowed URL third in line was what Scrapy let through
    order = urls[:2] + secret[:1] + urls[2:] + secret[1:]
    archive = tmp_path / "archive.db"
    # the 12-URL crawl caps Crawl-delay, or it would take 20 s: the cap is obeyed as the delay
    cap = ["-s", "ROBOTSTXT_MAX_CRAWL_DELAY=0.2"] if allowed > 3 else []
    with FaultServer(routes) as server:
        result = run_crawl(server.url, archive, "-a", "urls=" + ",".join(order), *cap)
        assert [server.count(mirror_route(url)) for url in secret] == [0] * private
        assert [server.count(mirror_route(url)) for url in urls] == [1] * allowed
    rows = fetches(archive)
    for url in secret:
        assert rows[url]["outcome"] == "skipped" and rows[url]["version_id"] is None
        assert rows[url]["error"] == f"{url}: disallowed by https://znews.vn/robots.txt"
    assert all(rows[url]["outcome"] in ("new", "unchanged") for url in urls)
    archived = {row[0] for row in query(archive, "SELECT url FROM article_urls")}
    assert not archived & set(secret)
    waiting = "2.0" if not cap else "0.2"
    assert "politeness: robots.txt Crawl-delay for https://znews.vn/" in result.stderr
    assert f"waiting {waiting} s between requests" in result.stderr


def robots_reset(handler) -> None:
    handler.reset()


ROBOTS_CASES = {
    # host: (robots.txt route, article, fetched?, reason in the fetches row)
    "znews.vn": (serve(b"not here", "text/plain", status=404), ZNEWS, True, None),
    "dantri.com.vn": (serve(b"oops", "text/plain", status=500), DANTRI, False,
                      "https://dantri.com.vn/robots.txt answered HTTP 500"),
    "www.developpez.com": (serve(b"busy", "text/plain", status=503), DEVELOPPEZ["url"], False,
                           "https://www.developpez.com/robots.txt answered HTTP 503"),
    "www.01net.com": (robots_reset, "https://www.01net.com/actualites/mark-zuckerberg-depense-sans-compter-pour-"
                      "muscler-son-nouveau-labo-ia.html", False,
                      "https://www.01net.com/robots.txt could not be fetched (connection reset before any response)"),
}


@pytest.fixture(scope="module")
def robots_failing(tmp_path_factory):
    archive = tmp_path_factory.mktemp("robots") / "archive.db"
    routes = {f"/{host}/robots.txt": case[0] for host, case in ROBOTS_CASES.items()}
    with FaultServer(routes) as server:
        result = run_crawl(server.url, archive, "-a", "urls=" + ",".join(c[1] for c in ROBOTS_CASES.values()),
                           "-s", "RETRY_TIMES=1", "-s", "RETRY_BACKOFF_BASE=0.1", check=False)
        counts = {url: server.count(mirror_route(url)) for _, url, _, _ in ROBOTS_CASES.values()}
        robots = {host: server.count(f"/{host}/robots.txt") for host in ROBOTS_CASES}
    # three of four hosts unreachable: the run failed, and says so with its exit status
    assert result.returncode == 1, result.stderr[-2000:]
    return archive, result, counts, robots


@pytest.mark.parametrize("host", list(ROBOTS_CASES), ids=["404-allows-all", "500-disallows", "503-disallows",
                                                           "reset-disallows"])
def test_robots_txt_4xx_allows_and_5xx_or_unreachable_disallows_the_host(robots_failing, host):
    """RFC 9309 §2.3.1.3-4."""
    archive, result, counts, robots = robots_failing
    _, url, fetched, reason = ROBOTS_CASES[host]
    row = fetches(archive)[url]
    assert counts[url] == int(fetched)
    if fetched:
        assert row["outcome"] == "new"
        assert robots[host] == 1  # a 404 is not retried
    else:
        assert row["outcome"] == "skipped" and row["version_id"] is None
        assert row["error"] == f"{url}: {reason}: the host counts as disallowed for this run (RFC 9309)"
        # retried (RETRY_TIMES=1) before giving up; Twisted itself retries a reset on a
        # reused connection once more
        assert robots[host] >= 2
        assert f"robots.txt: {reason}" in result.stderr


def test_robots_txt_on_a_refused_connection_disallows_the_host(tmp_path):
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    archive = tmp_path / "archive.db"
    result = run_crawl(f"http://127.0.0.1:{port}", archive, "-a", f"urls={ZNEWS}", "-s", "RETRY_TIMES=0", check=False)
    assert result.returncode == 1  # robots.txt, the only request made, failed
    (row,) = query(archive, "SELECT outcome, error FROM fetches WHERE url = ?", ZNEWS)
    assert row["outcome"] == "skipped"
    assert row["error"] == (f"{ZNEWS}: https://znews.vn/robots.txt could not be fetched (connection refused): "
                            "the host counts as disallowed for this run (RFC 9309)")
    assert "127.0.0.1" not in row["error"]


# -- redirects ------------------------------------------------------------------------------

OLD = "https://znews.vn/bai-cu-post1.html"
TO_DANTRI = "https://znews.vn/chuyen-sang-dantri-post2.html"
OFFSITE = "https://znews.vn/ra-ngoai-post3.html"
LOOP_A, LOOP_B = "https://znews.vn/vong-a-post4.html", "https://znews.vn/vong-b-post5.html"
PRIVATE = "https://znews.vn/noi-bo-post6.html"
LOCALHOST = "https://znews.vn/localhost-post7.html"
NO_LOCATION = "https://znews.vn/khong-dia-chi-post8.html"
HOPS = [f"https://znews.vn/buoc-{i}-post{90 + i}.html" for i in range(5)]
META_OFFSITE = "https://znews.vn/lam-moi-ra-ngoai-post9.html"
META_SELF = "https://znews.vn/lam-moi-chinh-no-post10.html"
GONE_META = "https://znews.vn/da-xoa-post11.html"


def refreshing(to: str, status: int = 200):
    head = f'<head><meta http-equiv="refresh" content="0;url={to}">'.encode()
    return serve(bundled(ZNEWS).replace(b"<head>", head, 1), status=status)

REDIRECT_ROUTES = {
    mirror_route(OLD): redirect(ZNEWS),
    mirror_route(TO_DANTRI): redirect(DANTRI, 308),
    mirror_route(OFFSITE): redirect("https://other.example/x", 302),
    mirror_route(LOOP_A): redirect(LOOP_B),
    mirror_route(LOOP_B): redirect("/vong-a-post4.html", 302),  # relative, as servers often do
    mirror_route(PRIVATE): redirect("http://127.0.0.1/admin", 302),
    mirror_route(LOCALHOST): redirect("http://localhost:8080/", 307),
    mirror_route(NO_LOCATION): redirect(None),
    **{mirror_route(url): redirect(HOPS[i + 1]) for i, url in enumerate(HOPS[:-1])},
    mirror_route(HOPS[-1]): serve(bundled(ZNEWS)),
    mirror_route(META_OFFSITE): refreshing("https://other.example/meta"),
    mirror_route(META_SELF): refreshing(META_SELF),
    mirror_route(GONE_META): refreshing("https://znews.vn/", status=404),
}


@pytest.fixture(scope="module")
def redirected(tmp_path_factory):
    archive = tmp_path_factory.mktemp("redirects") / "archive.db"
    starts = [OLD, TO_DANTRI, OFFSITE, LOOP_A, PRIVATE, LOCALHOST, NO_LOCATION, HOPS[0], META_OFFSITE, META_SELF,
              GONE_META]
    with FaultServer(REDIRECT_ROUTES) as server:
        result = run_crawl(server.url, archive, "-a", "urls=" + ",".join(starts), "-s", "REDIRECT_MAX_TIMES=3",
                           check=False)
        requested = list(server.requested)
    # most of these pages were asked for and not obtained: the run failed and says so
    assert result.returncode == 1, result.stderr[-2000:]
    assert "requests failed (redirect refused" in result.stderr
    return archive, requested


def test_a_same_site_301_is_followed_and_both_urls_lead_to_the_article(redirected):
    archive, requested = redirected
    rows = fetches(archive)
    # other pages of this crawl carry the same article (its canonical link): it may be theirs first
    assert OLD not in rows and rows[ZNEWS]["outcome"] in ("new", "unchanged") and rows[ZNEWS]["http_status"] == 200
    (article,) = query(archive, "SELECT article_id FROM article_urls WHERE url = ?", ZNEWS)
    urls = {row[0] for row in query(archive, "SELECT url FROM article_urls WHERE article_id = ?", article[0])}
    assert {OLD, ZNEWS} <= urls
    # each hop is in WARC: the 301 and the page it led to
    statuses = {}
    for path in (archive.parent / "warc").glob("*.warc.gz"):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type == "response":
                    statuses[record.rec_headers.get_header("WARC-Target-URI")] = record.http_headers.get_statuscode()
    assert statuses[OLD] == "301" and statuses[ZNEWS] == "200"


def test_a_page_that_refreshes_itself_is_a_page_and_a_404_stays_a_404(redirected):
    archive, requested = redirected
    rows = fetches(archive)
    assert rows[META_SELF]["outcome"] in ("new", "unchanged") and requested.count(mirror_route(META_SELF)) == 1
    assert (rows[GONE_META]["outcome"], rows[GONE_META]["http_status"]) == ("error", 404)
    assert "/znews.vn/" not in requested  # the home page the 404 pointed at


def test_a_redirect_to_another_configured_source_is_archived_as_that_source(redirected):
    archive, _ = redirected
    row = fetches(archive)[DANTRI]
    assert row["outcome"] == "new"
    (source,) = query(archive, "SELECT s.name FROM articles a JOIN sources s ON s.id = a.source_id "
                               "JOIN article_urls u ON u.article_id = a.id WHERE u.url = ?", TO_DANTRI)
    assert source[0] == "dantri"


@pytest.mark.parametrize("start, error", [
    (OFFSITE, f"{OFFSITE}: redirect to https://other.example/x leaves the configured sources"),
    (LOOP_A, f"{LOOP_B}: redirect loop: {LOOP_A} -> {LOOP_B} -> {LOOP_A}"),
    (PRIVATE, f"{PRIVATE}: redirect to http://127.0.0.1/admin refused: 127.0.0.1 is a private, loopback, "
              "link-local or reserved address"),
    (LOCALHOST, f"{LOCALHOST}: redirect to http://localhost:8080/ refused: localhost"),
    (HOPS[0], f"{HOPS[3]}: more than 3 redirects (REDIRECT_MAX_TIMES): " + " -> ".join(HOPS)),
    (NO_LOCATION, f"{NO_LOCATION}: HTTP 301 not followed (Location: none)"),
    (META_OFFSITE, f"{META_OFFSITE}: redirect to https://other.example/meta leaves the configured sources"),
], ids=["offsite", "loop", "private-address", "localhost", "too-many", "no-location", "meta-refresh-offsite"])
def test_a_refused_redirect_is_an_error_and_the_target_is_never_fetched(redirected, start, error):
    archive, requested = redirected
    rows = [row for row in fetches(archive).values() if row["error"] == error]
    assert len(rows) == 1, [r["error"] for r in fetches(archive).values()]
    assert rows[0]["outcome"] == "error" and rows[0]["version_id"] is None
    assert not [path for path in requested if path.startswith(("/other.example", "/127.0.0.1", "/localhost"))]
    if start == LOOP_A:
        assert requested.count(mirror_route(LOOP_A)) == 1
    if start == HOPS[0]:
        assert mirror_route(HOPS[-1]) not in requested


# -- bodies cut short -----------------------------------------------------------------------

def gzip_cut(handler) -> None:
    body = gzip.compress(bundled(ZNEWS) + b"<!-- a different byte -->")
    handler.send_raw(200, [("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip")],
                     body[: len(body) * 6 // 10], content_length=True)


def fewer_bytes_than_content_length(handler) -> None:
    body = bundled(ZNEWS) + b"<!-- a different byte -->"
    handler.send_raw(200, [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
                     body[: len(body) * 6 // 10])


@pytest.mark.parametrize("route, settings, error", [
    (gzip_cut, [], "body cut short: the gzip stream stops before its end"),
    (fewer_bytes_than_content_length, [],
     "the server closed the connection before the whole body (its Content-Length) arrived"),
    (fewer_bytes_than_content_length, ["-s", "DOWNLOAD_FAIL_ON_DATALOSS=False"],
     "body cut short: fewer bytes than its Content-Length"),
], ids=["gzip-cut-at-60%", "content-length", "content-length-dataloss-allowed"])
def test_a_body_cut_short_is_an_error_never_a_version(tmp_path, route, settings, error):
    archive = tmp_path / "archive.db"
    with FaultServer() as server:
        run_crawl(server.url, archive, "-a", f"urls={ZNEWS}")
        server.routes[mirror_route(ZNEWS)] = route
        result = run_crawl(server.url, archive, "-a", f"urls={ZNEWS}", *settings, check=False)
        tries = server.count(mirror_route(ZNEWS))
    assert result.returncode == 1  # its only article failed
    assert versions(archive) == 1
    rows = query(archive, "SELECT outcome, error FROM fetches WHERE url = ? ORDER BY id", ZNEWS)
    assert [r["outcome"] for r in rows] == ["new", "error"]
    assert rows[1]["error"].startswith(f"{ZNEWS}: {error}")
    assert tries == 2 + 2  # the first crawl, then RETRY_TIMES=2 retries of a transport failure


def test_scrapy_decompresses_a_cut_gzip_stream_silently():
    """Why CompleteBodyMiddleware exists: pinned, so an upgrade that fixes it is noticed."""
    from scrapy.utils.gz import gunzip

    body = gzip.compress(bundled(ZNEWS))
    assert 0 < len(gunzip(body[: len(body) * 6 // 10])) < len(bundled(ZNEWS))


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize("coding, compress", [
    ("gzip", gzip.compress), ("deflate", zlib.compress), ("deflate", raw_deflate), ("br", brotli.compress),
    ("zstd", zstd.compress),
], ids=["gzip", "deflate", "raw-deflate", "br", "zstd"])
def test_each_content_coding_knows_whether_its_stream_ends(coding, compress):
    whole = compress(bundled(ZNEWS))
    assert STREAM_ENDS[coding](whole, 0) is True
    assert STREAM_ENDS[coding](whole[: len(whole) * 6 // 10], 0) is False
    assert STREAM_ENDS[coding](whole[:-1], 0) is False


# -- charsets ---------------------------------------------------------------------------------

def test_a_latin1_header_on_utf8_bytes_is_not_a_new_version(tmp_path):
    page = bundled(ZNEWS)
    archive = tmp_path / "archive.db"
    with FaultServer() as server:
        run_crawl(server.url, archive, "-a", f"urls={ZNEWS}")
        # other bytes (so the raw-body shortcut does not hide it), the same text
        server.routes[mirror_route(ZNEWS)] = serve(page + b"<!-- -->", "text/html; charset=ISO-8859-1")
        run_crawl(server.url, archive, "-a", f"urls={ZNEWS}")
    assert [r[0] for r in query(archive, "SELECT outcome FROM fetches ORDER BY id")] == ["new", "unchanged"]
    assert versions(archive) == 1


def test_developpez_cp1252_reads_right_under_either_header(tmp_path):
    """Declared ISO-8859-1 (header and page), sent cp1252: kept; and a utf-8 header on those
    bytes, which cannot be right, gives way to the page's own declaration."""
    url = DEVELOPPEZ["url"]
    archive = tmp_path / "archive.db"
    with FaultServer() as server:
        run_crawl(server.url, archive, "-a", f"urls={url}")
        server.routes[mirror_route(url)] = serve(bundled(url) + b"<!-- -->", "text/html; charset=utf-8")
        run_crawl(server.url, archive, "-a", f"urls={url}")
    assert [r[0] for r in query(archive, "SELECT outcome FROM fetches ORDER BY id")] == ["new", "unchanged"]
    (title,) = query(archive, "SELECT title FROM latest_versions")
    assert title[0] == DEVELOPPEZ["title"]


UTF8_PAGE = '<html><head><meta charset="utf-8"></head><body>Thế giới, élève</body></html>'.encode("utf-8")
CP1252_PAGE = ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"></head>'
               '<body>élève – « déjà » €</body></html>').encode("cp1252")


@pytest.mark.parametrize("header, declared, body, expected", [
    ("cp1252", "utf-8", UTF8_PAGE, "utf-8"),          # header latin-1, meta utf-8, valid UTF-8
    ("cp1252", None, UTF8_PAGE.replace(b'<meta charset="utf-8">', b""), "utf-8"),  # no meta, valid UTF-8
    ("cp1252", "cp1252", CP1252_PAGE, None),          # developpez: header and page say latin-1, cp1252 bytes
    ("cp1252", "utf-8", CP1252_PAGE, None),           # meta utf-8 but not UTF-8: the header stands
    ("cp1252", None, b"<html>plain ASCII</html>", None),
    ("utf-8", "cp1252", CP1252_PAGE, "cp1252"),       # header utf-8, invalid UTF-8: the page's own
    ("utf-8", None, "<p>élève</p>".encode("cp1252"), "cp1252"),   # no UTF-8 at all: the web's default
    ("utf-8", None, UTF8_PAGE + b"\xff", None),       # UTF-8 with one stray byte stays UTF-8
    ("utf-8", "utf-8", UTF8_PAGE, None),
    (None, "utf-8", UTF8_PAGE, None),                 # no header: Scrapy's own order (BOM, meta, detection)
    ("cp1252", None, b"\xef\xbb\xbf" + UTF8_PAGE, None),  # a BOM: Scrapy already reads it first
])
def test_page_encoding(header, declared, body, expected):
    assert page_encoding(header, declared, body) == expected


def test_the_chosen_encoding_reads_the_page():
    response = HtmlResponse("https://znews.vn/a.html", body=UTF8_PAGE,
                            headers={"Content-Type": "text/html; charset=ISO-8859-1"})
    assert "Ã" in response.text  # what Scrapy alone stores
    from scrapy.utils.test import get_crawler

    from crawler.middlewares.charset import CharsetMiddleware

    crawler = get_crawler()
    crawler.stats.open_spider()
    fixed = CharsetMiddleware.from_crawler(crawler).process_response(None, response)
    assert "Thế giới, élève" in fixed.text


# -- messages that say what happened ---------------------------------------------------------

PAGE = bundled(ZNEWS)
RESET_MID_BODY = "https://znews.vn/dut-giua-chung-post11.html"
RESET_AT_ONCE = "https://znews.vn/dut-ngay-post12.html"
TOO_BIG = "https://znews.vn/qua-lon-post13.html"
SLOW = "https://znews.vn/cham-post14.html"
PDF = "https://znews.vn/tai-lieu-post15.html"
PDF_AS_HTML = "https://znews.vn/tai-lieu-html-post16.html"
IMAGE = "https://znews.vn/anh-post17.html"
IMAGE_AS_HTML = "https://znews.vn/anh-html-post18.html"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)


def reset_mid_body(handler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html; charset=utf-8")
    handler.send_header("Content-Length", str(len(PAGE)))
    handler.end_headers()
    handler.wfile.write(PAGE[:5000])
    handler.reset()


def slow(handler) -> None:
    time.sleep(3)
    try:
        handler.send_page(PAGE)
    except ConnectionError:
        pass  # the crawler gave up waiting, as it should


MESSAGE_CASES = {
    RESET_MID_BODY: (reset_mid_body, "error", "connection reset in the middle of the body"),
    RESET_AT_ONCE: (lambda handler: handler.reset(), "error", "connection reset before any response"),
    # no Content-Length: Scrapy only finds out while reading
    TOO_BIG: (lambda handler: handler.send_raw(200, [("Content-Type", "text/html")], PAGE * 4), "error",
              "download cancelled: the body is larger than DOWNLOAD_MAXSIZE (100000 bytes)"),
    PDF: (serve(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "application/pdf"), "skipped",
          "not an HTML page (Content-Type: application/pdf)"),
    PDF_AS_HTML: (serve(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), "skipped",
                  "not an HTML page (Content-Type: text/html; charset=utf-8; the body is a PDF document)"),
    IMAGE: (serve(PNG, "image/png"), "skipped", "not an HTML page (Content-Type: image/png)"),
    IMAGE_AS_HTML: (serve(PNG), "skipped",
                    "not an HTML page (Content-Type: text/html; charset=utf-8; the body is a PNG image)"),
}


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    archive = tmp_path_factory.mktemp("messages") / "archive.db"
    routes = {mirror_route(url): case[0] for url, case in MESSAGE_CASES.items()}
    with FaultServer(routes) as server:
        result = run_crawl(server.url, archive, "-a", "urls=" + ",".join(MESSAGE_CASES), "-s", "RETRY_TIMES=0",
                           "-s", "DOWNLOAD_MAXSIZE=100000")
        mirror = server.url
    return archive, result, mirror


@pytest.mark.parametrize("url", list(MESSAGE_CASES), ids=lambda url: url.rsplit("/", 1)[1].rsplit("-post", 1)[0])
def test_each_failure_says_what_happened_about_the_articles_url(faulty, url):
    archive, result, mirror = faulty
    _, outcome, message = MESSAGE_CASES[url]
    row = fetches(archive)[url]
    assert (row["outcome"], row["error"]) == (outcome, f"{url}: {message}")
    assert row["version_id"] is None


def test_a_timeout_names_the_article_not_the_mirror(tmp_path):
    """Scrapy's message named the URL it fetched: the mirror's. (Alone in its crawl: a 1 s
    timeout would also catch requests queued behind the first page's extraction.)"""
    archive = tmp_path / "archive.db"
    with FaultServer({mirror_route(SLOW): slow}) as server:
        result = run_crawl(server.url, archive, "-a", f"urls={SLOW}", "-s", "RETRY_TIMES=0", "-s", "DOWNLOAD_TIMEOUT=1",
                           check=False)
        mirror = server.url
    assert result.returncode == 1
    (row,) = query(archive, "SELECT outcome, error FROM fetches WHERE url = ?", SLOW)
    assert tuple(row) == ("error", f"{SLOW}: timed out: took longer than 1 s (DOWNLOAD_TIMEOUT)")
    assert mirror not in result.stderr


def test_no_fetch_error_and_no_error_line_names_the_mirror(faulty):
    archive, result, mirror = faulty
    assert not [r for r in fetches(archive).values() if mirror in (r["error"] or "")]
    # Scrapy's own warnings too ("Got data loss in …", "… larger than download max size …")
    errors = [line for line in result.stderr.splitlines()
              if "ERROR" in line or "WARNING" in line or "crawler.spiders" in line]
    assert errors and not [line for line in errors if mirror in line]


# -- the small functions ---------------------------------------------------------------------

@pytest.mark.parametrize("url, refusal", [
    ("https://znews.vn/a.html", None),
    ("https://www.zingnews.vn/a.html", None),  # a configured source's other domain, and a subdomain
    ("https://other.example/x", "leaves the configured sources"),
    ("https://znews.vn.evil.example/x", "leaves the configured sources"),
    ("http://127.0.0.1/x", "refused: 127.0.0.1 is a private, loopback, link-local or reserved address"),
    ("http://10.0.0.8/x", "refused: 10.0.0.8 is a private, loopback, link-local or reserved address"),
    ("http://169.254.169.254/latest/meta-data", "refused: 169.254.169.254 is a private, loopback, link-local "
                                                "or reserved address"),
    ("http://[::1]:8080/", "refused: ::1 is a private, loopback, link-local or reserved address"),
    ("http://[fe80::1]/", "refused: fe80::1 is a private, loopback, link-local or reserved address"),
    ("http://93.184.215.14/", "refused: 93.184.215.14 is an IP address, not a configured source's host"),
    ("http://localhost/", "refused: localhost"),
    ("http://api.localhost./", "refused: localhost"),
])
def test_where_a_redirect_may_go(url, refusal):
    assert off_limits(url, ["znews.vn", "zingnews.vn", "dantri.com.vn"]) == refusal


def test_robots_txt_may_redirect_to_another_host_but_not_to_a_private_address():
    assert off_limits("https://cdn.example/robots.txt", ["znews.vn"], allow_offsite=True) is None
    assert off_limits("http://127.0.0.1/robots.txt", ["znews.vn"], allow_offsite=True) is not None


def response(body: bytes, content_type: str | None, cls=HtmlResponse) -> Response:
    headers = {"Content-Type": content_type} if content_type else {}
    return cls("https://znews.vn/a.html", body=body, headers=headers)


@pytest.mark.parametrize("body, content_type, cls, reason", [
    (UTF8_PAGE, "text/html; charset=utf-8", HtmlResponse, None),
    (UTF8_PAGE, "application/xhtml+xml", HtmlResponse, None),
    (UTF8_PAGE, None, HtmlResponse, None),
    (b"\xef\xbb\xbf\n <!doctype html><p>x", "application/octet-stream", TextResponse, None),
    (b"%PDF-1.4", "application/pdf", Response, "not an HTML page (Content-Type: application/pdf)"),
    (b"%PDF-1.4", "text/html", HtmlResponse, "not an HTML page (Content-Type: text/html; the body is a PDF document)"),
    (b"\xff\xd8\xff\xe0JFIF", "text/html", HtmlResponse,
     "not an HTML page (Content-Type: text/html; the body is a JPEG image)"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", None, HtmlResponse,
     "not an HTML page (Content-Type: none; the body is a WebP image)"),
    (b"\x00\x00\x00\x1cftypavif", "text/html", HtmlResponse,
     "not an HTML page (Content-Type: text/html; the body is an MP4, AVIF or HEIC file)"),
    (b"just words", "text/plain", TextResponse, "not an HTML page (Content-Type: text/plain)"),
    (b'{"a": 1}', "application/json", TextResponse, "not an HTML page (Content-Type: application/json)"),
])
def test_not_html(body, content_type, cls, reason):
    assert not_html(response(body, content_type, cls)) == reason


def caused(exc: Exception, cause: Exception) -> Exception:
    exc.__cause__ = cause
    return exc


@pytest.mark.parametrize("exc, line", [
    (caused(DownloadFailedError("[<twisted.python.failure.Failure …>]"),
            ResponseNeverReceived([Failure(ConnectionDone())])),
     "https://znews.vn/a: the server closed the connection without answering"),
    (caused(ResponseDataLossError(), ResponseFailed([Failure(ConnectionLost()), Failure(_DataLoss())])),
     "https://znews.vn/a: connection reset in the middle of the body"),
    (RobotsTxtRefused("disallowed by https://znews.vn/robots.txt"),
     "https://znews.vn/a: disallowed by https://znews.vn/robots.txt"),
    (RedirectRefused("redirect loop: a -> b -> a"), "https://znews.vn/a: redirect loop: a -> b -> a"),
    (DownloadTimeoutError("Getting https://znews.vn/a took longer than 30.0 seconds."),
     "https://znews.vn/a: timed out: took longer than 30 s (DOWNLOAD_TIMEOUT)"),
    (DownloadConnectionRefusedError("Connection was refused by other side: 111: Connection refused."),
     "https://znews.vn/a: connection refused"),
    (DownloadTimeoutError("User timeout caused connection failure."),
     "https://znews.vn/a: timed out: no connection within DOWNLOAD_TIMEOUT"),
    (DownloadCancelledError(""), "https://znews.vn/a: download cancelled"),
    (IgnoreRequest("Filtered offsite request to 'x.example'"),
     "https://znews.vn/a: not fetched: Filtered offsite request to 'x.example'"),
])
def test_describe_failure(exc, line):
    assert describe_failure(exc, "https://znews.vn/a") == line
