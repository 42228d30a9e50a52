"""The raw web: WARC 1.1 records of every exchange, linked from the archive, re-read
without the network, and never left broken by a killed writer."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.archive.store import Archive
from crawler.cli import main as archive_cli
from crawler.mirror import MirrorServer
from crawler.reextract import rebuild
from crawler.warc.reader import read_record
from tests.conftest import PROJECT_ROOT, query, run_crawl
from tests.test_warc_concurrency import exchange

ZNEWS = "https://znews.vn/cuoc-choi-lon-cua-mark-zuckerberg-post1556369.html"


def records(warc_dir: Path) -> Counter:
    counts: Counter = Counter()
    for path in sorted(warc_dir.glob("*.warc.gz")):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                profile = record.rec_headers.get_header("WARC-Profile") or ""
                counts[(record.rec_type, profile.rsplit("/", 1)[-1])] += 1
    return counts


def warcio_check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(path)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def crawled_twice(tmp_path_factory):
    """A crawl, a re-crawl serving identical bodies, and a re-crawl answering 304 for znews."""
    root = tmp_path_factory.mktemp("warc")
    web = root / "web"
    shutil.copytree(PROJECT_ROOT / "crawler" / "mirror" / "web", web)
    archive = root / "archive.db"
    with MirrorServer(web) as server:
        run_crawl(server.url, archive)
        run_crawl(server.url, archive)
        page = web / "znews.vn" / ZNEWS.rsplit("/", 1)[1]
        page.with_name(page.name + ".headers").write_text('ETag: "z1"\n')
        run_crawl(server.url, archive, "-a", f"urls={ZNEWS}")  # 200 with the ETag: stored
        run_crawl(server.url, archive, "-a", f"urls={ZNEWS}")  # If-None-Match -> 304
    return archive


def test_every_file_passes_warcio_check(crawled_twice):
    files = sorted((crawled_twice.parent / "warc").glob("*.warc.gz"))
    assert len(files) == 4 and not list((crawled_twice.parent / "warc").glob("*.open"))
    for path in files:
        result = warcio_check(path)
        assert result.returncode == 0, result.stdout + result.stderr


def test_records_by_type(crawled_twice):
    counts = records(crawled_twice.parent / "warc")
    pages = 6
    assert counts[("warcinfo", "")] == 4
    # run 1: 6 pages and 5 robots.txt; run 2: the robots.txt again (only articles keep a prior
    # capture), the pages as identical-payload revisits; run 3: znews's robots.txt, the page
    # (new ETag, same bytes: a revisit); run 4: robots.txt, and a 304 -> server-not-modified
    assert counts[("revisit", "identical-payload-digest")] == pages + 1
    assert counts[("revisit", "server-not-modified")] == 1
    assert counts[("response", "")] == (pages + 5) + 5 + 1 + 1
    assert counts[("request", "")] == sum(n for (kind, _), n in counts.items() if kind in ("response", "revisit"))


def test_each_fetch_points_at_its_record(crawled_twice):
    warc_dir = crawled_twice.parent / "warc"
    fetches = query(crawled_twice, "SELECT * FROM fetches ORDER BY id")
    assert [f["warc_record_type"] for f in fetches[-2:]] == ["revisit", "revisit"]
    for fetch in fetches:
        headers, http, _ = read_record(warc_dir, fetch["warc_filename"], fetch["warc_offset"])
        assert headers.get_header("WARC-Record-ID") == fetch["warc_record_id"]
        assert headers.get_header("WARC-Target-URI") == fetch["url"]
        assert int(http.get_statuscode()) == fetch["http_status"]
    # and from any version to its raw bytes, in SQL
    rows = query(crawled_twice, """SELECT v.id, f.warc_filename, f.warc_offset FROM article_versions v
                                   JOIN fetches f ON f.version_id = v.id AND f.outcome IN ('new', 'changed')""")
    assert len(rows) == query(crawled_twice, "SELECT count(*) FROM article_versions")[0][0]


def test_304_revisit_refers_to_the_original_capture(crawled_twice):
    warc_dir = crawled_twice.parent / "warc"
    first, *_, last = query(crawled_twice, "SELECT * FROM fetches WHERE url = ? ORDER BY id", ZNEWS)
    headers, _, _ = read_record(warc_dir, last["warc_filename"], last["warc_offset"])
    assert last["http_status"] == 304
    assert headers.get_header("WARC-Profile").endswith("server-not-modified")
    assert headers.get_header("WARC-Refers-To") == first["warc_record_id"]  # the last full capture


def test_rebuild_without_network_gives_identical_versions(crawled_twice, tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("re-extraction tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    source = Archive.open(f"sqlite:///{crawled_twice}")
    target = Archive.open(f"sqlite:///{tmp_path / 'rebuilt.db'}", warc_dir=source.warc_dir)
    counts = rebuild(source, target)
    source.close(), target.close()
    assert counts["new"] == 6 and counts["not_modified"] == 1
    columns = "a.url, v.version, v.title, v.authors, v.published_at, v.text, v.content_hash, v.extractor_version"
    sql = f"SELECT {columns} FROM article_versions v JOIN articles a ON a.id = v.article_id ORDER BY a.url, v.version"
    assert [tuple(r) for r in query(tmp_path / "rebuilt.db", sql)] == [tuple(r) for r in query(crawled_twice, sql)]


def test_reextract_with_new_rules_records_a_reextraction_not_an_edit(crawled_twice, tmp_path):
    archive = tmp_path / "archive.db"
    shutil.copy(crawled_twice, archive)
    seeds = (PROJECT_ROOT / "seeds" / "sources.toml").read_text(encoding="utf-8")
    stricter = tmp_path / "sources.toml"  # a rules change: znews image captions are now pruned too
    stricter.write_text(seeds.replace('".banners", ".inner-article", ".comment-count",',
                                      '".banners", ".inner-article", ".comment-count", "td.pCaption",'))
    from crawler.reextract import reextract
    from crawler.sources import load_sources

    opened = Archive.open(f"sqlite:///{archive}", sources=load_sources(stricter), warc_dir=crawled_twice.parent / "warc")
    counts = reextract(opened)
    opened.close()
    assert counts == Counter({"unchanged": 5, "reextracted": 1})
    (old, new) = query(archive, """SELECT v.* FROM article_versions v JOIN articles a ON a.id = v.article_id
                                   WHERE a.url = ? ORDER BY version""", ZNEWS)
    assert (old["cause"], new["cause"]) == ("crawl", "reextract")
    assert old["extractor_version"] != new["extractor_version"]
    assert "Ảnh: New York Times" in old["text"] and "Ảnh: New York Times" not in new["text"]


def test_export_jsonl_csv_and_cdxj(crawled_twice, tmp_path, capsys):
    url = f"sqlite:///{crawled_twice}"
    assert archive_cli(["--archive", url, "export", "--output", str(tmp_path / "v.jsonl")]) == 0
    rows = [json.loads(line) for line in (tmp_path / "v.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and all(r["warc_record_id"] and r["text"] for r in rows)
    assert archive_cli(["--archive", url, "export", "--format", "csv", "--all-versions",
                        "--output", str(tmp_path / "v.csv")]) == 0
    assert (tmp_path / "v.csv").read_text().splitlines()[0].startswith("article_id,url,source,version")
    assert archive_cli(["--archive", url, "cdxj", "--output", str(tmp_path / "index.cdxj")]) == 0
    lines = (tmp_path / "index.cdxj").read_text().splitlines()
    assert lines == sorted(lines)
    indexed = {json.loads(line.split(" ", 2)[2])["url"] for line in lines}
    assert {r[0] for r in query(crawled_twice, "SELECT url FROM fetches")} <= indexed


WRITER = """
import sys
from crawler.warc import Exchange, WarcWriter
writer = WarcWriter(sys.argv[1])
body = bytes(range(256)) * 4000  # ~1 MB, incompressible enough to take time
n = 0
while True:
    writer.write_exchange(Exchange(f"https://znews.vn/p{n}.html", "GET", [], 200, [("Content-Type", "text/html")], body))
    n += 1
    print(n, flush=True)
"""


def test_kill_9_during_writes_leaves_readable_files(tmp_path):
    warc_dir = tmp_path / "warc"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(warc_dir)], cwd=PROJECT_ROOT,
                              stdout=subprocess.PIPE, text=True)
    for _ in range(5):
        writer.stdout.readline()
    time.sleep(0.05)  # land somewhere inside a write
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    from crawler.warc import WarcWriter

    WarcWriter(warc_dir).close()  # the next writer rolls the torn file back
    (path,) = warc_dir.glob("*.warc.gz")
    assert warcio_check(path).returncode == 0
    with open(path, "rb") as stream:
        kinds = Counter(record.rec_type for record in ArchiveIterator(stream))
    assert kinds["response"] >= 5 and kinds["response"] == kinds["request"]


def test_files_rotate_by_size_and_each_reads_whole(tmp_path):
    from crawler.warc import WarcWriter
    from crawler.warc.writer import Exchange

    writer = WarcWriter(tmp_path, max_size=20_000)
    body = os.urandom(7_500)  # 7.5 KB that gzip cannot shrink
    refs = [writer.write_exchange(Exchange(f"https://znews.vn/p{i}-post{i}.html", "GET", [], 200,
                                           [("Content-Type", "text/html")], body)) for i in range(12)]
    writer.close()
    files = sorted(tmp_path.glob("*.warc.gz"))
    assert len(files) >= 4 and all(p.stat().st_size <= 20_000 for p in files)
    assert all(warcio_check(p).returncode == 0 for p in files)
    for ref in refs:
        headers, _, payload = read_record(tmp_path, ref.filename, ref.offset)
        assert headers.get_header("WARC-Record-ID") == ref.record_id and payload == body


def test_each_record_is_one_gzip_member_no_larger_than_warcios_own(tmp_path):
    """The writer compresses with libdeflate (crawler/warc/writer.py): each record must stay
    one gzip member that any reader can seek to, and the records no larger in all than with
    warcio's zlib level 9 (the storage target, bench/README section 3, has no room for more)."""
    import io
    import zlib

    from warcio.warcwriter import WARCWriter

    from crawler.mirror import BUNDLED_WEB
    from crawler.warc import WarcWriter
    from crawler.warc.writer import Exchange

    pages = sorted(p for p in BUNDLED_WEB.rglob("*.htm*") if p.stat().st_size > 10_000)
    assert pages
    writer = WarcWriter(tmp_path)
    refs = [(page.read_bytes(), writer.write_exchange(Exchange(f"https://znews.vn/p{n}.html", "GET", [], 200,
                                                                 [("Content-Type", "text/html")], page.read_bytes())))
            for n, page in enumerate(pages)]
    writer.close()
    (path,) = tmp_path.glob("*.warc.gz")
    data = path.read_bytes()
    ours = theirs_in_all = 0
    for body, ref in refs:
        member = zlib.decompressobj(31)
        plain = member.decompress(data[ref.offset:ref.offset + ref.length])
        assert member.eof and not member.unused_data  # exactly one whole member
        record = next(ArchiveIterator(io.BytesIO(data[ref.offset:ref.offset + ref.length])))
        assert record.content_stream().read() == body
        # the same record through warcio's own gzip
        theirs = io.BytesIO()
        WARCWriter(theirs, gzip=True, warc_version="1.1").write_record(
            next(ArchiveIterator(io.BytesIO(plain), arc2warc=False)))
        ours, theirs_in_all = ours + ref.length, theirs_in_all + len(theirs.getvalue())
    assert ours <= theirs_in_all


def test_a_partial_chunk_goes_when_a_reader_needs_one_of_its_records(tmp_path):
    """Exchanges wait in a chunk (crawler/warc/process.py) until it is full, its timer runs
    out, or the archive pipeline needs a record's place to store its batch: then the chunk
    goes at once, not after WarcMiddleware's SEND_AFTER, and a timer set for a chunk that
    has gone leaves the next one alone."""
    import asyncio

    from crawler.pipelines.archive import _warc_record
    from crawler.warc.process import WriterProcess

    writer = WriterProcess(tmp_path, 10**9, "test")
    try:
        first = [writer.write(exchange(n)) for n in range(3)]
        chunk = writer.chunk_number
        time.sleep(0.5)
        assert not any(future.running() or future.done() for future in first)  # nothing ships it by itself
        place = asyncio.run(asyncio.wait_for(_warc_record(first[1]), 10))  # the pipeline storing a batch
        assert place["record_type"] == "response" and place["filename"].endswith(".warc.gz")
        assert all(future.result(10).record_type == "response" for future in first)  # the whole chunk went
        later = writer.write(exchange(3))
        writer.send(chunk)  # the first chunk's timer, late: this chunk is another one
        time.sleep(0.3)
        assert not (later.running() or later.done())
        writer.send(writer.chunk_number)  # its own timer
        assert later.result(10).record_type == "response"
    finally:
        writer.close()
    (path,) = tmp_path.glob("*.warc.gz")
    assert warcio_check(path).returncode == 0


def test_a_record_nobody_waits_for_any_more_is_written_and_its_chunk_resolved(tmp_path):
    """An await of a record's place that is given up (cancelled: asyncio.wrap_future then
    cancels the record's future) must not stop the rest of its chunk from resolving."""
    from crawler.warc.process import WriterProcess

    writer = WriterProcess(tmp_path, 10**9, "test")
    try:
        futures = [writer.write(exchange(n)) for n in range(3)]
        assert futures[0].cancel()
        writer.send()
        assert [future.result(10).record_type for future in futures[1:]] == ["response", "response"]
    finally:
        writer.close()
    (path,) = tmp_path.glob("*.warc.gz")
    with open(path, "rb") as stream:
        assert Counter(record.rec_type for record in ArchiveIterator(stream))["response"] == 3
