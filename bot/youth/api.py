"""HTTP API for youth search (the web page's cards and comparison table use these)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

router = APIRouter(prefix="/api/youth", tags=["youth"])


class ConsultIn(BaseModel):
    sender: str = Field(min_length=1, max_length=64)
    program_id: str = Field(default="", max_length=64)
    contact_note: str = Field(default="", max_length=2000)
    contact: str = Field(default="", max_length=100)  # a phone number or "LINE: id"
    slots: list[str] = Field(default_factory=list, max_length=2)


@router.get("/search")
async def search(q: str = Query(min_length=1, max_length=500), k: int = Query(10, ge=1, le=10)) -> dict[str, Any]:
    from bot.youth.chat import card
    from bot.youth.search import searcher

    # Encoding is CPU work: keep it off the event loop.
    ans = await run_in_threadpool(lambda: searcher().search(q, k=k))
    return {
        "profile": ans.profile.as_dict(),
        "results": [h.as_result() | {"card": card(h)} for h in ans.hits],
        "not_eligible": [card(h) for h in ans.excluded],
    }


@router.get("/compare")
async def compare(ids: str = Query(min_length=3, max_length=300)) -> dict[str, Any]:
    from bot.youth.chat import compare as do_compare

    try:
        return await run_in_threadpool(do_compare, ids.split(","))
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc


@router.post("/consult", status_code=201)
async def consult(body: ConsultIn) -> dict[str, Any]:
    from bot.youth.consult import book_consultation, parse_contact

    contact = parse_contact(body.contact) if body.contact else None
    if body.contact and contact is None:
        raise HTTPException(status_code=400, detail="contact must be a phone number or a LINE ID")
    try:
        row = await run_in_threadpool(
            book_consultation,
            body.sender,
            body.program_id,
            body.contact_note,
            contact,
            [s.strip()[:40] for s in body.slots if s.strip()],
        )
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    return {"id": row.id, "reference": row.reference, "program_id": row.program_id, "status": row.status}
