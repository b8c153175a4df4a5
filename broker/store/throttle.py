"""Attempt budgets for the brute-force guard (SECURITY.md gate 8), one row per key, across all replicas.

An attempt is *reserved* before the password is verified, by one conditional upsert: it succeeds only while
the key is not held back, so however many requests arrive at once, at most ``limit`` of them verify in a
window. PostgreSQL's ``INSERT … ON CONFLICT DO UPDATE … WHERE`` locks the row and re-checks the condition on
its latest version; on SQLite every writer holds the database lock (``BEGIN IMMEDIATE``), so the same
statement is serialised there. The caller commits the reservation before it verifies.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broker.store.tables import LoginThrottle


async def get(session: AsyncSession, key: str) -> LoginThrottle | None:
    return await session.get(LoginThrottle, key)


async def reserve(
    session: AsyncSession,
    key: str,
    at: datetime,
    *,
    window: timedelta,
    limit: int,
    hold_back: timedelta,
    hold_back_cap: timedelta,
) -> bool:
    """Takes one attempt from ``key``'s budget; False (nothing taken) while the key is held back.

    The attempt that reaches ``limit`` within the window holds the key back for ``hold_back``; each
    later attempt (allowed once the hold ends) doubles it, up to ``hold_back_cap``.
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    table: Any = LoginThrottle.__table__  # type: ignore[attr-defined]
    fresh_window = table.c.window_started_at <= at - window
    statement: Any = insert(table).values(key=key, failures=1, window_started_at=at, locked_until=None)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "failures": case((fresh_window, 1), else_=table.c.failures + 1),
            "window_started_at": case((fresh_window, at), else_=table.c.window_started_at),
            "locked_until": None,
        },
        where=or_(table.c.locked_until.is_(None), table.c.locked_until <= at),
    ).returning(table.c.failures)
    taken = (await session.execute(statement)).scalar_one_or_none()
    if taken is None:
        return False
    if int(taken) >= limit:
        # The row is locked by the upsert until this transaction commits: no one reserves in between.
        doubled = hold_back * (2 ** min(int(taken) - limit, 20))
        await session.execute(
            update(LoginThrottle)
            .where(col(LoginThrottle.key) == key)
            .values(locked_until=at + min(doubled, hold_back_cap))
        )
    return True


async def clear(session: AsyncSession, key: str) -> None:
    """A successful login: the username's budget starts afresh."""
    await session.execute(
        update(LoginThrottle).where(col(LoginThrottle.key) == key).values(failures=0, locked_until=None)
    )


async def give_back(session: AsyncSession, key: str, limit: int) -> None:
    """Returns one reserved attempt (a successful login does not spend an address's budget), and the hold
    its own reservation may have started when it was the one that reached ``limit``."""
    table: Any = LoginThrottle.__table__  # type: ignore[attr-defined]
    await session.execute(
        update(LoginThrottle)
        .where(col(LoginThrottle.key) == key, col(LoginThrottle.failures) > 0)
        .values(
            failures=table.c.failures - 1,
            locked_until=case((table.c.failures - 1 < limit, None), else_=table.c.locked_until),
        )
    )
