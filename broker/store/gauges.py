"""The few aggregate reads behind the background-refreshed gauges (issue 12): one query each, indexed
or bounded by the number of units and account types, never by past sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.store.tables import ReviewItem, SigningKey


async def open_reviews_by_kind(session: AsyncSession) -> dict[str, int]:
    statement = (
        select(col(ReviewItem.kind), func.count())
        .where(col(ReviewItem.status) == "open")
        .group_by(col(ReviewItem.kind))
    )
    return {str(kind): int(count) for kind, count in await session.execute(statement)}


async def newest_key_per_alg(session: AsyncSession) -> dict[str, datetime]:
    """When each algorithm last got a key (its last rotation); the private halves are not read."""
    statement = select(col(SigningKey.alg), func.max(col(SigningKey.created_at))).group_by(
        col(SigningKey.alg)
    )
    return {str(alg): created for alg, created in await session.execute(statement) if created is not None}
