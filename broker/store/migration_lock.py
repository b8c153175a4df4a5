"""One migration at a time: ``broker db upgrade`` holds a PostgreSQL advisory lock while it runs, so two
deploys (or a Job retried while the first run is alive) cannot race; the second waits, then finds the
schema at head and does nothing. SQLite is one file on one host: its writers already queue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

# A fixed 64-bit key, the same in every broker version: "vneid-broker migrations".
MIGRATION_LOCK_KEY = 0x766E6569_6462_6D67


@asynccontextmanager
async def migration_lock(url: str) -> AsyncIterator[None]:
    if not url.startswith("postgresql"):
        yield
        return
    engine = create_async_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            await connection.commit()
            try:
                yield
            finally:
                await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
                await connection.commit()
    finally:
        await engine.dispose()
