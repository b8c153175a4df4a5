"""The officers' review queue."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.store.tables import ReviewItem


async def add(session: AsyncSession, item: ReviewItem) -> ReviewItem:
    session.add(item)
    await session.flush()
    return item


async def get(session: AsyncSession, item_id: int) -> ReviewItem | None:
    return await session.get(ReviewItem, item_id, with_for_update=True)


async def list_by_status(session: AsyncSession, status: str | None) -> list[ReviewItem]:
    statement = select(ReviewItem).order_by(col(ReviewItem.id))
    if status:
        statement = statement.where(col(ReviewItem.status) == status)
    return list((await session.execute(statement)).scalars())
