"""The offline mirror server and its URL mapping."""

import urllib.error
import urllib.request

import pytest

from crawler.mirror import mirror_path


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.mark.parametrize(("url", "path"), [
    ("https://znews.vn/a-post1.html", "/znews.vn/a-post1.html"),
    ("https://www.developpez.com/actu/1/Slug/", "/www.developpez.com/actu/1/Slug/"),
    ("https://www.vietnam.vn/fr/slug?page=2", "/www.vietnam.vn/fr/slug?page=2"),
    ("http://127.0.0.1:8000/x", "/127.0.0.1:8000/x"),
])
def test_mirror_path_keeps_host_path_and_query(url, path):
    assert mirror_path(url) == path


def test_unknown_path_is_404(mirror):
    assert get(mirror.url + "/znews.vn/nothing-here.html")[0] == 404
    assert get(mirror.url + "/../etc/passwd")[0] == 404


def test_robots_txt_is_served_for_every_host(mirror):
    status, _, body = get(mirror.url + "/znews.vn/robots.txt")
    assert status == 200 and b"User-agent" in body
    status, _, body = get(mirror.url + "/unknown.example/robots.txt")
    assert status == 200 and b"Allow: /" in body


def test_developpez_is_served_as_declared_latin1_with_cp1252_bytes(mirror):
    from tests.conftest import expected_pages

    url = next(p["url"] for p in expected_pages() if p["source"] == "developpez")
    status, headers, body = get(mirror.url + mirror_path(url))
    assert status == 200 and "iso-8859-1" in headers["Content-Type"].lower()
    assert b"\x92" in body  # a cp1252 right single quote, undefined in real ISO-8859-1


UP = 30  # more levels than the mirror's root is deep


@pytest.mark.parametrize("path", ["/" + "../" * UP + "etc/passwd", "/znews.vn/" + "%2e%2E/" * UP + "etc/passwd",
                                  "/znews.vn/" + "..%2f" * UP + "etc/passwd", "/znews.vn/a%00b.html"])
def test_a_path_out_of_the_mirror_is_404_as_sent(mirror, path):
    """Sent as is (urllib would normalise the dots away): the server never leaves its root."""
    import http.client

    connection = http.client.HTTPConnection(*mirror.httpd.server_address[:2], timeout=10)
    connection.putrequest("GET", path, skip_accept_encoding=True)
    connection.endheaders()
    response = connection.getresponse()
    assert (response.status, b"root:" in response.read()) == (404, False)
    connection.close()


def test_a_burst_of_connections_is_queued_not_dropped(tmp_path):
    """Crawl processes open their connections all at once: the mirror's listen queue must
    hold them until it accepts (a dropped attempt costs the client seconds of TCP retries)."""
    import socket

    from crawler.mirror import MirrorServer

    (tmp_path / "example.org").mkdir()
    (tmp_path / "example.org" / "index.html").write_text("<p>hi</p>")
    server = MirrorServer(tmp_path)  # listening, not yet accepting
    host, port = server.httpd.server_address[:2]
    connections = []
    try:
        for _ in range(64):  # 2 processes x CONCURRENT_REQUESTS 16, twice over
            connection = socket.socket()
            connection.settimeout(2)
            connections.append(connection)
            connection.connect((host, port))  # a dropped attempt: TimeoutError
        server.start()
        for connection in connections:
            connection.sendall(b"GET /example.org/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert [connection.recv(12) for connection in connections] == [b"HTTP/1.1 200"] * 64
    finally:
        for connection in connections:
            connection.close()
        if server.thread.is_alive():
            server.stop()
        else:
            server.httpd.server_close()
