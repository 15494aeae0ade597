"""Open311 photos: a client sends `media_url`, a link to its own image. The case keeps the link at
once (the handler sees it as a link) and a background fetch replaces it with a stored copy
(bot.media) when the fetch is safe and the bytes are an image. Safe means the gateway cannot be
used to reach the city's own network (SSRF):

- http(s) only, no credentials in the URL, ports 80/443/8443 (any port on allowed networks);
- every address the host resolves to, and the address actually connected to, must be public
  (not loopback, private, link-local, CGNAT, multicast or reserved) — checked again after
  connecting, so a DNS answer that changes in between (rebinding) is caught;
- no redirects (a redirect keeps the link, unfetched); 10 s in all; at most bot.media.MAX_BYTES,
  read in chunks and abandoned beyond; the bytes must pass bot.media's magic-byte check.

`BOT_MEDIA_FETCH_ALLOW`: comma-separated networks allowed although not public (tests, or a city
image server on an internal network); empty by default.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified

from bot import db, media
from bot.cases import store
from bot.config import settings

log = logging.getLogger("bot.cases.media_url")
TIMEOUT = 10.0
PORTS = {None, 80, 443, 8443}
_tasks: set[asyncio.Task] = set()  # running fetches, kept referenced until done


class Refused(ValueError):
    """The link was not fetched: why, in words for the log (no URL in it: it may be personal)."""


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    raw = settings().media_fetch_allow
    return [ipaddress.ip_network(n.strip(), strict=False) for n in raw.split(",") if n.strip()]


def _allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return any(ip in net for net in _allowed_networks())


def address_ok(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return _allowed(address) or (ip.is_global and not ip.is_multicast)


def check_url(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("not an http(s) URL")
    if parts.username or parts.password:
        raise Refused("credentials in the URL")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


async def _resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.to_thread(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    return sorted({info[4][0] for info in infos})


async def fetch(url: str) -> media.Stored:
    host, port = check_url(url)
    try:
        addresses = await _resolve(host, port)
    except OSError as exc:
        raise Refused("host does not resolve") from exc
    if not addresses or not all(address_ok(a) for a in addresses):
        raise Refused("host resolves to an address that is not public")
    if port not in PORTS and not all(_allowed(a) for a in addresses):
        raise Refused("port not allowed")  # a public host's other services (mail, databases ...)
    async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False, trust_env=False) as client:
        async with client.stream("GET", url, headers={"Accept": "image/*"}) as resp:
            stream = resp.extensions.get("network_stream")
            peer = stream.get_extra_info("server_addr") if stream is not None else None
            if not peer or not address_ok(str(peer[0])):
                raise Refused("connected to an address that is not public")
            if resp.status_code != 200:
                raise Refused(f"status {resp.status_code}")
            length = resp.headers.get("content-length")
            if length and length.isdigit() and int(length) > media.MAX_BYTES:
                raise Refused("too large")
            body = bytearray()
            async for chunk in resp.aiter_bytes():
                body += chunk
                if len(body) > media.MAX_BYTES:
                    raise Refused("too large")
    try:
        return await asyncio.to_thread(media.save, bytes(body))
    except media.MediaError as exc:
        raise Refused(str(exc)) from exc


def _replace(number: str, url: str, image_id: str) -> bool:
    """The case's link becomes the stored copy; the link itself is kept in extra.media_url."""
    with db.session_factory()() as session:
        case = session.scalar(select(store.Case).where(store.Case.number == number))
        if case is None or url not in (case.photos or []):
            return False
        case.photos = [image_id if p == url else p for p in case.photos]
        case.extra = {**(case.extra or {}), "media_url": url}
        flag_modified(case, "photos")
        flag_modified(case, "extra")
        session.commit()
        return True


async def attach(number: str, url: str) -> bool:
    """Fetch and attach; False (and the link stays) when refused or failed."""
    try:
        stored = await fetch(url)
    except (Refused, httpx.HTTPError) as exc:
        log.info("media_url of %s not fetched: %s", number, exc if isinstance(exc, Refused) else type(exc).__name__)
        return False
    done = await asyncio.to_thread(_replace, number, url, stored.image_id)
    log.info("media_url of %s %s", number, "stored" if done else "fetched, case changed meanwhile")
    return done


def attach_later(number: str, url: str) -> None:
    task = asyncio.get_running_loop().create_task(attach(number, url))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
