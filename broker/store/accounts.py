"""Accounts and their links to upstream identities."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.store.tables import Account, UpstreamLink


async def find_by_upstream(session: AsyncSession, issuer: str, subject: str) -> Account | None:
    statement = (
        select(Account)
        .join(UpstreamLink, col(UpstreamLink.account_id) == col(Account.id))
        .where(col(UpstreamLink.issuer) == issuer, col(UpstreamLink.subject) == subject)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def get(session: AsyncSession, account_id: int) -> Account | None:
    return await session.get(Account, account_id)


async def get_by_sub(session: AsyncSession, sub: str) -> Account | None:
    return (await session.execute(select(Account).where(col(Account.sub) == sub))).scalar_one_or_none()


async def add(session: AsyncSession, account: Account) -> Account:
    session.add(account)
    await session.flush()
    return account


async def add_link(session: AsyncSession, link: UpstreamLink) -> UpstreamLink:
    """Flushes at once so that a concurrent duplicate surfaces here as an IntegrityError."""
    session.add(link)
    await session.flush()
    return link


async def touch_link(session: AsyncSession, issuer: str, subject: str, level: int, at: datetime) -> None:
    link = (
        await session.execute(
            select(UpstreamLink).where(
                col(UpstreamLink.issuer) == issuer, col(UpstreamLink.subject) == subject
            )
        )
    ).scalar_one()
    link.level = level
    link.last_login_at = at
