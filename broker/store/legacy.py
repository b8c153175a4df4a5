"""Legacy accounts as imported from the old systems."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.store.tables import LegacyAccount


async def by_username_key(session: AsyncSession, username_key: str) -> list[LegacyAccount]:
    statement = select(LegacyAccount).where(col(LegacyAccount.username_key) == username_key)
    return list((await session.execute(statement.order_by(col(LegacyAccount.id)))).scalars())


async def for_account(session: AsyncSession, account_id: int) -> list[LegacyAccount]:
    statement = select(LegacyAccount).where(col(LegacyAccount.account_id) == account_id)
    return list((await session.execute(statement.order_by(col(LegacyAccount.id)))).scalars())


async def add(session: AsyncSession, legacy: LegacyAccount) -> None:
    session.add(legacy)
    await session.flush()


async def get(session: AsyncSession, legacy_account_id: int | None) -> LegacyAccount | None:
    return await session.get(LegacyAccount, legacy_account_id) if legacy_account_id is not None else None


async def replace_password_hash(
    session: AsyncSession, record_id: int, old_hash: str | None, new_hash: str, scheme: str
) -> bool:
    """Stores a rehash computed outside the transaction, unless the hash changed meanwhile (a concurrent
    login rehashed it, or a re-import replaced it): one conditional UPDATE."""
    result = await session.execute(
        update(LegacyAccount)
        .where(col(LegacyAccount.id) == record_id, col(LegacyAccount.password_hash) == old_hash)
        .values(password_hash=new_hash, hash_scheme=scheme)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
