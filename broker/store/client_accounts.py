"""Which relying party has dealt with which account: recorded where codes and tokens are issued, read by
the event feeds (a relying party hears only about its own citizens). Access-token rows can then be purged."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.store import core_rows
from broker.store.tables import Account, ClientAccount


async def note(session: AsyncSession, client_id: str, account_id: int, at: datetime) -> None:
    """Idempotent, also under concurrency (ON CONFLICT DO NOTHING)."""
    await core_rows.execute(session, *note_write(session.get_bind().dialect.name, client_id, account_id, at))


def note_write(dialect: str, client_id: str, account_id: int, at: datetime) -> core_rows.Write:
    """That ``client_id`` has dealt with the account, as a write ``core_rows.defer`` can carry into a
    statement run by asyncpg itself (issue 7). Idempotent, also under concurrency (ON CONFLICT DO NOTHING)."""
    return core_rows.insert_ignoring(
        dialect,
        ClientAccount,
        {"client_id": client_id, "account_id": account_id, "first_seen_at": at},
        ("client_id", "account_id"),
        "note_",
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
