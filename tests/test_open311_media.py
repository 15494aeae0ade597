"""Open311 media_url reaches the handler (issue #21 item 3): fetched safely into a stored copy, or
kept as a link. A real HTTP server on loopback serves the images; loopback is not public, so
each test says whether it is allowed (BOT_MEDIA_FETCH_ALLOW) — the default refuses it."""

from __future__ import annotations

import asyncio
import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from bot import media
from bot.cases import media_url, store
from tests.cases_fixtures import database_fixture  # noqa: F401 - fixture
from tests.test_cases_open311 import call, post
from tests.test_cases_open311 import client as client  # noqa: F401 - fixture


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 50, 50)).save(buf, "JPEG")
    return buf.getvalue()


JPEG = _jpeg()


class _Images(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/p.jpg":
            body, status, kind = JPEG, 200, "image/jpeg"
        elif self.path == "/page.html":
            body, status, kind = b"<html>not an image</html>", 200, "image/jpeg"  # lies about its type
        elif self.path == "/big.jpg":
            body, status, kind = JPEG[:3] + b"\0" * (media.MAX_BYTES + 10), 200, "image/jpeg"
        elif self.path == "/moved.jpg":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()
            return
        else:
            body, status, kind = b"", 404, "text/plain"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.end_headers()  # no Content-Length: the reader must count
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    srv.protocol_version = "HTTP/1.0"
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


@pytest.fixture
def allow_loopback(monkeypatch):
    monkeypatch.setenv("BOT_MEDIA_FETCH_ALLOW", "127.0.0.0/8")


@pytest.mark.parametrize("url", ["ftp://example.org/p.jpg", "https://user:pw@example.org/p.jpg",
                                 "file:///etc/passwd", "https:///p.jpg"])
def test_urls_that_are_never_fetched(url):
    with pytest.raises(media_url.Refused):
        media_url.check_url(url)


def test_a_public_host_is_reached_on_web_ports_only(monkeypatch):
    async def public(host, port):
        return ["93.184.215.14"]

    monkeypatch.setattr(media_url, "_resolve", public)  # no DNS here; the port rule is what is tested
    with pytest.raises(media_url.Refused, match="port not allowed"):
        asyncio.run(media_url.fetch("http://images.example:6379/p.jpg"))


@pytest.mark.parametrize("address,public", [("127.0.0.1", False), ("10.1.2.3", False), ("192.168.0.9", False),
                                            ("169.254.169.254", False), ("100.64.0.1", False), ("::1", False),
                                            ("fd00::1", False), ("224.0.0.1", False), ("8.8.8.8", True),
                                            ("2001:4860:4860::8888", True)])
def test_only_public_addresses(address, public):
    assert media_url.address_ok(address) is public


def test_loopback_is_refused_by_default(server, tmp_path, monkeypatch):
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("BOT_MEDIA_FETCH_ALLOW", raising=False)
    with pytest.raises(media_url.Refused, match="not public"):
        asyncio.run(media_url.fetch(f"{server}/p.jpg"))
    # "localhost" by name resolves to loopback too
    with pytest.raises(media_url.Refused, match="not public"):
        asyncio.run(media_url.fetch(server.replace("127.0.0.1", "localhost") + "/p.jpg"))


@pytest.mark.parametrize("path,why", [("/page.html", "not a JPEG"), ("/big.jpg", "too large"),
                                      ("/moved.jpg", "status 302"), ("/missing.jpg", "status 404")])
def test_what_is_not_an_image_or_goes_elsewhere_is_refused(server, allow_loopback, path, why):
    with pytest.raises(media_url.Refused, match=why):
        asyncio.run(media_url.fetch(server + path))


def test_an_image_is_stored(server, allow_loopback, database):
    stored = asyncio.run(media_url.fetch(f"{server}/p.jpg"))
    assert stored.kind == "jpg" and media.find(stored.image_id).read_bytes() == JPEG


def test_open311_case_gets_a_stored_copy_and_keeps_the_link(client, server, allow_loopback):
    url = f"{server}/p.jpg"
    resp = post(client, service_code="PWB-POTHOLE", lat="22.6507", long="120.3283", description="大洞",
                media_url=url, client_request_id="m1")
    number = resp.json()[0]["service_request_id"]
    # The request's own event loop ended with the request (asyncio.run in `call`): attach again,
    # as the gateway's loop would have.
    assert asyncio.run(media_url.attach(number, url))
    case = store.get_case(number)
    assert len(case.photos) == 1 and media.find(case.photos[0]) is not None
    assert case.extra["media_url"] == url
    mine = call(client, "GET", f"/open311/v2/requests/{number}.json", params={"api_key": "test-key-1"}).json()
    assert mine[0]["media_url"] == url  # the client's link, not our image id


def test_a_refused_link_stays_a_link(client, server):
    url = f"{server}/p.jpg"  # loopback, not allowed here
    resp = post(client, service_code="PWB-POTHOLE", lat="22.6507", long="120.3283", description="大洞",
                media_url=url, client_request_id="m2")
    number = resp.json()[0]["service_request_id"]
    assert not asyncio.run(media_url.attach(number, url))
    case = store.get_case(number)
    assert case.photos == [url]
    # The handler's view: no stored photo, the link offered as a link.
    from bot.staff.auth import StaffUser
    from bot.staff.cases_console import _detail

    detail = _detail(case, StaffUser(1, "sup", "supervisor", None, "sup"))
    assert detail["photos"] == [] and detail["photo_links"] == [url]
