"""Bad request bodies get a 4xx that says what is wrong, never a 500, and never an echo of
the input (a staff log-in's body holds a password).

One place for every JSON endpoint of the gateway (bot/app.py calls `install`):
- endpoints with a pydantic body (FastAPI validates it): RequestValidationError is answered
  here. A body sent as text/plain or as a form → 415; JSON that does not parse → 400; JSON
  of the wrong shape → 400 with where and what (never the input value);
- endpoints that read the body themselves (the REST chat webhook) call `json_body`, which
  raises BadBody with the same statuses.
FastAPI's default answer echoed the input; with bytes in it (any non-JSON body) the JSON
encoder then failed and the traceback, password included, went to the log.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.params import Form
from fastapi.responses import JSONResponse

NOT_JSON = "Content-Type must be application/json"


class BadBody(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def is_json(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


def _declared_not_json(request: Request) -> bool:
    """A Content-Type that is there and is not JSON (none at all: taken as JSON, as FastAPI does)."""
    content_type = request.headers.get("content-type")
    return content_type is not None and not is_json(content_type)


def _expects_json(request: Request) -> bool:
    route = request.scope.get("route")
    field = getattr(route, "body_field", None)
    return field is not None and not isinstance(getattr(field, "field_info", None), Form)


async def json_body(request: Request) -> Any:
    """The parsed JSON body of a request, or BadBody (415 / 400)."""
    if _declared_not_json(request):
        raise BadBody(415, NOT_JSON)
    try:
        return json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise BadBody(400, "body is not valid JSON") from None


def _where(error: dict) -> dict[str, Any]:
    return {"loc": [str(p) for p in error.get("loc", ())], "msg": str(error.get("msg", "")),
            "type": str(error.get("type", ""))}


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        in_body = any(tuple(e.get("loc", ()))[:1] == ("body",) for e in errors)
        if in_body and _expects_json(request) and _declared_not_json(request):
            return JSONResponse({"error": NOT_JSON}, status_code=415)
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse({"error": "body is not valid JSON"}, status_code=400)
        return JSONResponse({"error": "invalid request", "detail": [_where(e) for e in errors[:3]]}, status_code=400)

    @app.exception_handler(BadBody)
    async def _bad_body(_: Request, exc: BadBody) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=exc.status)
