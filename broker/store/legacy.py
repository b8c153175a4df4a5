"""Legacy accounts as imported from the old systems."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import bindparam, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.store.tables import Account, LegacyAccount


async def by_username_key(session: AsyncSession, username_key: str) -> list[LegacyAccount]:
    statement = select(LegacyAccount).where(col(LegacyAccount.username_key) == username_key)
    return list((await session.execute(statement.order_by(col(LegacyAccount.id)))).scalars())


async def for_account(session: AsyncSession, account_id: int) -> list[LegacyAccount]:
    statement = select(LegacyAccount).where(col(LegacyAccount.account_id) == account_id)
    return list((await session.execute(statement.order_by(col(LegacyAccount.id)))).scalars())


async def matching_citizen_accounts(
    session: AsyncSession, number: str | None, old_number: str | None
) -> list[tuple[Account, LegacyAccount]]:
    """Legacy citizen accounts on a CCCD equal to ``number`` or a CMND equal to ``old_number``,
    whose broker account is not merged away. Case 2 (one) and Case 3 (several) of the letters."""
    if not number and not old_number:
        return []
    statement = _matching_statement(bool(number), bool(old_number))
    parameters = {"number": number, "old_number": old_number}
    return [(account, legacy) for account, legacy in (await session.execute(statement, parameters)).all()]


@functools.cache
def _matching_statement(by_number: bool, by_old_number: bool) -> Any:
    """Built once per kind of search (issue 7: building it was 2.5 % of a first login)."""
    conditions = []
    if by_number:
        conditions.append(col(LegacyAccount.cccd) == bindparam("number"))
    if by_old_number:
        conditions.append(col(LegacyAccount.cmnd) == bindparam("old_number"))
    return (
        select(Account, LegacyAccount)
        .join(LegacyAccount, col(LegacyAccount.account_id) == col(Account.id))
        .where(
            or_(*conditions),
            col(LegacyAccount.account_type) == "citizen",
            col(Account.merged_into_id).is_(None),
        )
        .order_by(col(Account.id))
    )


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
