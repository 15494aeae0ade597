"""「洽詢專家」: a consultation request, stored for Youth Bureau staff to pick up."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from bot import db

CONTACT = "青年局 07-7995678 分機2385；LINE @youth.kcg"


class YouthConsultation(db.Base):
    """Created by db.create_tables at start-up like every table on db.Base."""

    __tablename__ = "youth_consultation"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=db.utcnow, index=True)
    sender: Mapped[str] = mapped_column(String(64), index=True)  # the channel's pseudonym, never a LINE id
    program_id: Mapped[str] = mapped_column(String(64), index=True)
    contact_note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="new")  # new | contacted | closed


def book_consultation(sender: str, program_id: str, contact_note: str = "") -> YouthConsultation:
    from bot.youth.search import searcher

    if searcher().program(program_id) is None:
        raise ValueError(f"unknown program_id {program_id!r}")
    row = YouthConsultation(sender=sender[:64], program_id=program_id, contact_note=(contact_note or "")[:2000])
    db.Base.metadata.create_all(db.engine(), tables=[YouthConsultation.__table__])  # cheap if it exists
    with db.session_factory()() as session:
        session.add(row)
        session.commit()
    return row


def list_consultations(status: str | None = None, limit: int = 100) -> list[YouthConsultation]:
    """For the staff console."""
    with db.session_factory()() as session:
        q = select(YouthConsultation).order_by(YouthConsultation.at.desc()).limit(limit)
        if status:
            q = q.where(YouthConsultation.status == status)
        return list(session.scalars(q))
