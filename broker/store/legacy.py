"""Legacy accounts as imported from the old systems."""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy import bindparam, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.store import core_rows
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
    parameters = {key: value for key, value in (("number", number), ("old_number", old_number)) if value}
    rows = await core_rows.fetch(session, statement, parameters)
    accounts, records = _account_columns(), _legacy_columns()
    split = len(accounts)
    return [(accounts.attached(session, row[:split]), records.attached(session, row[split:])) for row in rows]


@functools.cache
def _account_columns() -> core_rows.ModelColumns:
    return core_rows.ModelColumns(Account)


@functools.cache
def _legacy_columns() -> core_rows.ModelColumns:
    return core_rows.ModelColumns(LegacyAccount)


@functools.cache
def _matching_statement(by_number: bool, by_old_number: bool) -> Any:
    """Built once per kind of search (issue 7: building it was 2.5 % of a first login), run by
    ``core_rows.fetch``."""
    account: Any = Account.__table__  # type: ignore[attr-defined]
    legacy: Any = LegacyAccount.__table__  # type: ignore[attr-defined]
    conditions = []
    if by_number:
        conditions.append(legacy.c.cccd == bindparam("number"))
    if by_old_number:
        conditions.append(legacy.c.cmnd == bindparam("old_number"))
    return core_rows.built_once(
        sa.select(*_account_columns().columns, *_legacy_columns().columns)
        .select_from(account.join(legacy, legacy.c.account_id == account.c.id))
        .where(
            or_(*conditions),
            legacy.c.account_type == "citizen",
            account.c.merged_into_id.is_(None),
        )
        .order_by(account.c.id, legacy.c.id)
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
