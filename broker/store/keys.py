"""The broker's signing keys."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.store.tables import SigningKey


async def list_unretired(session: AsyncSession) -> list[SigningKey]:
    statement = (
        select(SigningKey).where(col(SigningKey.retired_at).is_(None)).order_by(col(SigningKey.created_at))
    )
    return list((await session.execute(statement)).scalars())


async def add(session: AsyncSession, key: SigningKey) -> None:
    session.add(key)
    await session.flush()
