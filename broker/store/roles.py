"""Roles attached to staff accounts."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.store.tables import AccountRole


async def of_account(session: AsyncSession, account_id: int) -> list[str]:
    statement = (
        select(AccountRole.role)
        .where(col(AccountRole.account_id) == account_id)
        .order_by(col(AccountRole.role))
    )
    return list((await session.execute(statement)).scalars())


async def add(session: AsyncSession, role: AccountRole) -> None:
    session.add(role)
    await session.flush()


async def remove(session: AsyncSession, account_id: int, role: str) -> bool:
    statement = delete(AccountRole).where(
        col(AccountRole.account_id) == account_id, col(AccountRole.role) == role
    )
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]
