"""The broker's signing keys."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.store.tables import SigningKey


async def list_unretired(session: AsyncSession) -> list[SigningKey]:
    statement = (
        select(SigningKey).where(col(SigningKey.retired_at).is_(None)).order_by(col(SigningKey.created_at))
    )
    return list((await session.execute(statement)).scalars())


async def list_published(session: AsyncSession, now: datetime, grace: timedelta) -> list[SigningKey]:
    """Keys still in the JWKS: not retired, or retired so recently that tokens they signed may be alive."""
    statement = (
        select(SigningKey)
        .where(or_(col(SigningKey.retired_at).is_(None), col(SigningKey.retired_at) > now - grace))
        .order_by(col(SigningKey.created_at))
    )
    return list((await session.execute(statement)).scalars())


async def list_all(session: AsyncSession) -> list[SigningKey]:
    statement = select(SigningKey).order_by(col(SigningKey.alg), col(SigningKey.created_at))
    return list((await session.execute(statement)).scalars())


async def add(session: AsyncSession, key: SigningKey) -> None:
    session.add(key)
    await session.flush()


async def retire_unretired(session: AsyncSession, alg: str, at: datetime, keep: str) -> int:
    """Schedules every live key of ``alg`` but ``keep`` to stop signing at ``at``."""
    statement = (
        update(SigningKey)
        .where(col(SigningKey.alg) == alg, col(SigningKey.retired_at).is_(None), col(SigningKey.kid) != keep)
        .values(retired_at=at)
        .execution_options(synchronize_session=False)
    )
    return int((await session.execute(statement)).rowcount)  # type: ignore[attr-defined]
