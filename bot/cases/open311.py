"""Open311 GeoReport v2 under /open311/v2/: the same cases as the chat, for outside clients.

Services are the catalogue's report services (their `open311_code`); attributes come from
the fields a service asks besides place, photo and description. POST needs an api_key from
BOT_OPEN311_API_KEYS (comma-separated). Errors are the spec's [{code, description}].

GET views are public and case numbers are sequential (anyone can walk them), so a public row
holds only what the city publishes: service, status, district, the place rounded to 3 decimals
(~100 m), the times, and the latest note staff marked public (phone numbers, e-mail addresses
and ID numbers masked). Never the description, house number, photos, internal notes or reporter.
The Open311 client that filed a case (its api_key) sees that case's description (masked),
address, exact position and media_url. Chat cases (LINE, web, REST) are not published unless
BOT_OPEN311_PUBLISH_CHAT is set, and then with the public fields only.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from bot.cases import media_url, places, store
from bot.catalogue import Service, catalogue
from bot.config import settings
from bot.privacy import mask, pseudonym

router = APIRouter(prefix="/open311/v2")
# Route pairs: the ".json" form is registered first (decorators apply bottom-up, so it is
# written last), else "{code}" would swallow "PWB-POTHOLE.json".
MAX_DESCRIPTION = 4000
CHAT_CHANNELS = ("line", "web", "rest", "phone")  # citizens (chat, or 1999 phone intake), not Open311 clients
PUBLIC_DECIMALS = 3  # ~110 m of latitude: the street, not the house
_ATTRIBUTES = {
    "time": ("string", "何時發生 / When it happens"),
    "plate": ("string", "車牌號碼 / Plate number"),
}


def error(status: int, description: str) -> JSONResponse:
    return JSONResponse([{"code": status, "description": description}], status_code=status)


def _services() -> dict[str, Service]:
    return {s.open311_code: s for s in catalogue().services.values() if s.kind == "report"}


def _service_row(svc: Service) -> dict[str, Any]:
    attrs = [f for f in (*svc.needs, *svc.optional) if f in _ATTRIBUTES]
    return {"service_code": svc.open311_code, "service_name": svc.name_zh, "description": svc.answer_zh,
            "metadata": bool(attrs), "type": "realtime", "keywords": ",".join(svc.keywords),
            "group": svc.agency}


@router.get("/services")
@router.get("/services.json")
async def list_services() -> list[dict[str, Any]]:
    return [_service_row(s) for s in _services().values()]


@router.get("/services.xml")
async def list_services_xml() -> Response:
    return to_xml(await list_services(), "services", "service")


@router.get("/services/{name}")
async def service_definition(name: str) -> Any:
    code, fmt = _format(name)
    if fmt == "xml":
        return to_xml(await service_definition(code), "service_definition", "attribute")
    svc = _services().get(code)
    if svc is None:
        return error(404, f"service_code {code} not found")
    fields = [f for f in (*svc.needs, *svc.optional) if f in _ATTRIBUTES]
    return {"service_code": code, "attributes": [
        {"variable": True, "code": f, "datatype": _ATTRIBUTES[f][0], "required": f in svc.needs,
         "datatype_description": "", "order": i + 1, "description": _ATTRIBUTES[f][1]}
        for i, f in enumerate(fields)]}


def _format(name: str) -> tuple[str, str]:
    """"PWB-POTHOLE.json" → ("PWB-POTHOLE", "json"); the spec puts the format in the path."""
    for ext in ("json", "xml"):
        if name.endswith("." + ext):
            return name[: -len(ext) - 1], ext
    return name, "json"


# Characters XML 1.0 cannot carry at all (control characters but tab/LF/CR, lone surrogates,
# U+FFFE/U+FFFF): ElementTree writes them as they are, and a client's parser refuses the answer.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def to_xml(data: Any, root: str, item: str) -> Response:
    """The spec's XML form of a JSON answer (errors become <errors><error>)."""
    status = 200
    if isinstance(data, JSONResponse):
        status, data = data.status_code, json.loads(bytes(data.body))
        if status >= 400:
            root, item = "errors", "error"
    top = ET.Element(root)

    def fill(parent: ET.Element, value: Any, tag: str) -> None:
        if isinstance(value, dict):
            node = ET.SubElement(parent, tag)
            for key, sub in value.items():
                fill(node, sub, key)
        elif isinstance(value, list):
            holder = parent if tag == item else ET.SubElement(parent, tag)
            for sub in value:
                fill(holder, sub, item if tag == item else "attribute")
        else:
            text = str(value).lower() if isinstance(value, bool) else ("" if value is None else str(value))
            ET.SubElement(parent, tag).text = _XML_ILLEGAL.sub("", text)  # else the document does not parse

    if isinstance(data, dict):
        for key, value in data.items():
            fill(top, value, key)
    else:
        for value in data:
            fill(top, value, item)
    body = b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8")
    return Response(body, status_code=status, media_type="text/xml; charset=utf-8")


def _client(api_key: str) -> str | None:
    keys = [k.strip() for k in settings().open311_api_keys.split(",") if k.strip()]
    if any(hmac.compare_digest(api_key.encode(), k.encode()) for k in keys):
        return pseudonym("open311", api_key)
    return None


async def _params(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = await request.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}
    # GeoReport clients post application/x-www-form-urlencoded; parsed here so the gateway
    # needs no multipart library (photos come as media_url, not uploads).
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))


@router.post("/requests")
@router.post("/requests.json")
async def post_request(request: Request) -> Any:
    p = await _params(request)
    client = _client(str(p.get("api_key") or ""))
    if client is None:
        return error(403, "api_key missing or not valid")
    code = str(p.get("service_code") or "")
    if not code:
        return error(400, "service_code is required")
    svc = _services().get(code)
    if svc is None:
        return error(404, f"service_code {code} not found")
    description = str(p.get("description") or "")
    if len(description) > MAX_DESCRIPTION:
        return error(400, f"description is longer than {MAX_DESCRIPTION} characters")
    lat = lon = None
    if p.get("lat") not in (None, "") or p.get("long") not in (None, ""):
        try:
            lat, lon = float(p["lat"]), float(p["long"])
        except (KeyError, TypeError, ValueError):
            return error(400, "lat and long must both be numbers")
        if not places.in_kaohsiung(lat, lon):
            return error(400, "lat/long is outside Kaohsiung")
    address = str(p.get("address_string") or "")[:300]
    if lat is None and not address:
        return error(400, "lat/long or address_string is required")
    place = places.parse(address, lat, lon)
    if place.out_of_city:
        return error(400, "address_string is outside Kaohsiung")
    if lat is None and not place.complete:
        return error(400, "address_string must name a district and a road or landmark in Kaohsiung")
    extra = {f: str(p[k])[:200] for f in _ATTRIBUTES for k in (f"attribute[{f}]", f) if p.get(k)}
    missing = [f for f in svc.needs if f in _ATTRIBUTES and f not in extra]
    if missing:
        return error(400, f"attribute[{missing[0]}] is required for {code}")
    media = str(p.get("media_url") or "")
    if media and not media.startswith(("https://", "http://")):
        return error(400, "media_url must be an http(s) URL")
    token = str(p.get("client_request_id") or "")[:40]  # lets a client retry without duplicates
    case = await asyncio.to_thread(store.file_case, store.NewCase(
        service=svc.id, channel="open311", citizen=client, location_text=address, district=place.district,
        road=place.road, lat=lat, lon=lon, description=description, photos=[media] if media else [],
        extra=extra, intake_key=f"o311:{client[:12]}:{token}" if token else None, actor="open311"))
    if media and case.photos == [media]:  # a new case with the link: fetch a copy for the handler
        media_url.attach_later(case.number, media)
    notice = f"預計 {svc.expected_days} 天內處理" if svc.expected_days else ""
    return [{"service_request_id": case.number, "service_notice": notice, "account_id": None}]


def _hidden_channels() -> tuple[str, ...]:
    return () if settings().open311_publish_chat else CHAT_CHANNELS


def _public_note(case: store.Case) -> str:
    """The newest note staff marked public since the case reached its current status."""
    for event in reversed(case.history):
        if event.status != case.status:
            break
        if event.public and event.note:
            return mask(event.note)
    return ""


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, PUBLIC_DECIMALS)


def _row(case: store.Case, owner: bool) -> dict[str, Any]:
    """One request, every GeoReport v2 field present; `owner`: the Open311 client that filed it."""
    svc = catalogue().service(case.service)
    return {
        "service_request_id": case.number,
        "status": "open" if case.is_open else "closed",
        "status_notes": _public_note(case) or store.STATUS_ZH[case.status],
        "service_name": svc.name_zh if svc else case.service,
        "service_code": svc.open311_code if svc else "",
        "description": mask(case.description) if owner else "",
        "agency_responsible": f"{case.agency} {case.unit}".strip(),
        "service_notice": "",
        "requested_datetime": store.as_utc(case.created_at).isoformat(),
        "updated_datetime": store.as_utc(case.updated_at).isoformat(),
        "expected_datetime": store.as_utc(case.expected_by).isoformat() if case.expected_by else None,
        "address": case.location_text if owner else (case.district or ""),
        "address_id": None,
        "zipcode": None,
        "lat": case.lat if owner else _rounded(case.lat),
        "long": case.lon if owner else _rounded(case.lon),
        # The client's own link (kept in extra once a copy is stored), never our image id.
        "media_url": ((case.extra or {}).get("media_url") or next(
            (p for p in case.photos or [] if str(p).startswith(("https://", "http://"))), None)) if owner else None,
    }


def _owner_check(request: Request) -> str | None:
    key = request.query_params.get("api_key")
    return _client(key) if key else None


@router.get("/requests")
@router.get("/requests.json")
async def get_requests(request: Request) -> Any:
    q = request.query_params
    try:
        start = datetime.fromisoformat(q["start_date"]) if q.get("start_date") else None
        end = datetime.fromisoformat(q["end_date"]) if q.get("end_date") else None
    except ValueError:
        return error(400, "start_date and end_date must be ISO 8601 (w3c) date-times")
    status = q.get("status")
    if status and status not in ("open", "closed"):
        return error(400, "status must be open or closed")
    numbers = [n.strip().upper() for n in (q.get("service_request_id") or "").split(",") if n.strip()]
    limit = min(int(q["limit"]), 1000) if q.get("limit", "").isdigit() else 200
    rows = await asyncio.to_thread(store.search, q.get("service_code"), status, start, end, numbers or None, limit,
                                   _hidden_channels())
    client = _owner_check(request)
    return [_row(c, owner=client is not None and c.channel == "open311" and c.citizen == client) for c in rows]


@router.get("/requests.xml")
async def get_requests_xml(request: Request) -> Response:
    return to_xml(await get_requests(request), "service_requests", "request")


@router.post("/requests.xml")
async def post_request_xml(request: Request) -> Response:
    return to_xml(await post_request(request), "service_requests", "request")


@router.get("/requests/{name}")
async def get_request(name: str, request: Request) -> Any:
    number, fmt = _format(name)
    if fmt == "xml":
        return to_xml(await get_request(number, request), "service_requests", "request")
    case = await asyncio.to_thread(store.get_case, number)
    # An unpublished chat case answers exactly as a number never handed out.
    if case is None or case.channel in _hidden_channels():
        return error(404, f"service_request_id {number} not found")
    client = _owner_check(request)
    return [_row(case, owner=client is not None and case.channel == "open311" and case.citizen == client)]
