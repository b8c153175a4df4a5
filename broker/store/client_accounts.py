"""Which relying party has dealt with which account: recorded where codes and tokens are issued, read by
the event feeds (a relying party hears only about its own citizens). Access-token rows can then be purged."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.store import core_rows
from broker.store.tables import Account, ClientAccount


async def note(session: AsyncSession, client_id: str, account_id: int, at: datetime) -> None:
    """Idempotent, also under concurrency (ON CONFLICT DO NOTHING)."""
    await core_rows.execute(session, note_statement(session, client_id, account_id, at))


def note_statement(session: AsyncSession, client_id: str, account_id: int, at: datetime) -> Any:
    """``note`` as a statement, to run with others (``core_rows.execute_together``)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    return (
        insert(ClientAccount)
        .values(client_id=client_id, account_id=account_id, first_seen_at=at)
        .on_conflict_do_nothing(index_elements=["client_id", "account_id"])
    )


def note_write(session: AsyncSession, client_id: str, account_id: int, at: datetime) -> core_rows.Write:
    """``note_statement`` built once, its values as named parameters (``note_``): a write that
    ``core_rows.defer`` can carry into a statement run by asyncpg itself (issue 7)."""
    parameters = {"note_client_id": client_id, "note_account_id": account_id, "note_first_seen_at": at}
    return _note(session.get_bind().dialect.name), parameters


@functools.cache
def _note(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table: Any = ClientAccount.__table__  # type: ignore[attr-defined]
    keys = ("client_id", "account_id", "first_seen_at")
    return core_rows.built_once(
        insert(table)
        .values(core_rows.set_values(table, keys, "note_"))
        .on_conflict_do_nothing(index_elements=["client_id", "account_id"])
    )


async def inherit(session: AsyncSession, *, from_sub: str, to_sub: str, at: datetime) -> None:
    """Every client that knew the account ``from_sub`` now knows ``to_sub`` too (a merge)."""
    target = (await session.execute(select(Account.id).where(col(Account.sub) == to_sub))).scalar()
    if target is None:
        return
    clients = (
        await session.execute(
            select(ClientAccount.client_id)
            .join(Account, col(Account.id) == col(ClientAccount.account_id))
            .where(col(Account.sub) == from_sub)
        )
    ).scalars()
    for client_id in list(clients):
        await note(session, client_id, target, at)


async def known_subs(session: AsyncSession, client_id: str, subs: Iterable[str]) -> set[str]:
    """Of ``subs`` (public subs), those of accounts ``client_id`` has dealt with."""
    wanted = sorted(set(subs))
    if not wanted:
        return set()
    statement = (
        select(Account.sub)
        .join(ClientAccount, col(ClientAccount.account_id) == col(Account.id))
        .where(col(ClientAccount.client_id) == client_id, col(Account.sub).in_(wanted))
    )
    return {str(sub) for sub in (await session.execute(statement)).scalars()}
