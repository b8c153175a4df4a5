"""The account-event outbox that relying parties read with a cursor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.store.tables import AccessToken, Account, AccountEvent


async def append(
    session: AsyncSession, type_: str, sub: str, at: datetime, related_sub: str | None = None, **data: Any
) -> None:
    """Called inside the transaction that makes the change: the event exists if and only if it happened."""
    session.add(AccountEvent(type=type_, sub=sub, related_sub=related_sub, data=data, created_at=at))
    await session.flush()


async def after(session: AsyncSession, cursor: int, limit: int, *, client_id: str) -> list[AccountEvent]:
    """Events after ``cursor`` about accounts this client has been issued tokens for: a relying party
    learns nothing about citizens who never used it (data minimisation)."""
    known = (
        select(Account.sub)
        .join(AccessToken, col(AccessToken.account_id) == col(Account.id))
        .where(col(AccessToken.client_id) == client_id)
    )
    statement = (
        select(AccountEvent)
        .where(
            col(AccountEvent.id) > cursor,
            or_(col(AccountEvent.sub).in_(known), col(AccountEvent.related_sub).in_(known)),
        )
        .order_by(col(AccountEvent.id))
        .limit(limit)
    )
    return list((await session.execute(statement)).scalars())
