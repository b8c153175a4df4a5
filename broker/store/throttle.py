"""Failed-attempt counters for the brute-force lockout: one atomic upsert per failure, so concurrent
attempts on any replica all count."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broker.store.tables import LoginThrottle


async def get(session: AsyncSession, key: str) -> LoginThrottle | None:
    return await session.get(LoginThrottle, key)


async def record_failure(
    session: AsyncSession, key: str, at: datetime, window: timedelta, max_failures: int, lock_for: timedelta
) -> int:
    """Counts one failure in the current window and locks the key at the limit; returns the count."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    table: Any = LoginThrottle.__table__  # type: ignore[attr-defined]
    # A window that started long enough ago starts afresh; otherwise the failure adds to it.
    fresh_window = table.c.window_started_at <= at - window
    statement: Any = insert(table).values(key=key, failures=1, window_started_at=at)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "failures": case((fresh_window, 1), else_=table.c.failures + 1),
            "window_started_at": case((fresh_window, at), else_=table.c.window_started_at),
        },
    ).returning(table.c.failures)
    failures = int((await session.execute(statement)).scalar_one())
    if failures >= max_failures:
        await session.execute(
            update(LoginThrottle).where(col(LoginThrottle.key) == key).values(locked_until=at + lock_for)
        )
    return failures


async def clear(session: AsyncSession, key: str) -> None:
    await session.execute(
        update(LoginThrottle).where(col(LoginThrottle.key) == key).values(failures=0, locked_until=None)
    )
