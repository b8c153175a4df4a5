"""The account-event outbox that relying parties read with a cursor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.store.tables import AccountEvent


async def append(session: AsyncSession, type_: str, sub: str, at: datetime, **data: Any) -> None:
    """Called inside the transaction that makes the change: the event exists if and only if it happened."""
    session.add(AccountEvent(type=type_, sub=sub, data=data, created_at=at))
    await session.flush()


async def after(session: AsyncSession, cursor: int, limit: int) -> list[AccountEvent]:
    statement = (
        select(AccountEvent).where(col(AccountEvent.id) > cursor).order_by(col(AccountEvent.id)).limit(limit)
    )
    return list((await session.execute(statement)).scalars())
