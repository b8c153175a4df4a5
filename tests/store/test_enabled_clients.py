"""The enabled clients a process keeps for /authorize (``EnabledClients``), on a real database, told of
changes by hand where the app's listener would be (tests/flows/test_authorize_client_cache.py covers the
listener, the trigger and the running broker)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import update
from sqlmodel import col

from broker.store import clients
from broker.store.database import Database
from broker.store.tables import Client

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


async def _register(db: Database, *client_ids: str) -> None:
    async with db.transaction() as session:
        for client_id in client_ids:
            await clients.add(
                session,
                Client(
                    client_id=client_id,
                    name=client_id,
                    redirect_uris=["https://rp.example.vn/cb"],
                    created_at=NOW,
                ),
            )


async def _disable_unannounced(db: Database, client_id: str) -> None:
    """A change whose notification has not arrived (or was the one already handled)."""
    async with db.transaction() as session:
        await session.execute(
            update(Client).where(col(Client.client_id) == client_id).values(disabled_at=NOW)
        )


async def test_a_read_that_a_change_overtook_is_not_kept(database_url: str) -> None:
    db = Database(database_url)
    try:
        await _register(db, "rp-a")
        cache = clients.EnabledClients(db)
        cache.listening(True)
        reading = asyncio.create_task(cache.get("rp-a"))
        await asyncio.sleep(0)  # the read is under way
        # A notification arrives while it runs: its change may have committed after the read's snapshot.
        cache.drop()
        assert (await reading) is not None
        await _disable_unannounced(db, "rp-a")  # (that change, seen by nobody yet)
        assert await cache.get("rp-a") is None  # the overtaken read was not kept
    finally:
        await db.dispose()


async def test_kept_only_while_listening_and_only_so_many(database_url: str) -> None:
    db = Database(database_url)
    try:
        await _register(db, "rp-a", "rp-b", "rp-c")
        cache = clients.EnabledClients(db, max_entries=2)
        assert await cache.get("rp-a") is not None  # not listening (yet): read, not kept
        await _disable_unannounced(db, "rp-a")
        assert await cache.get("rp-a") is None

        cache.listening(True)
        for client_id in ("rp-b", "rp-c"):
            assert await cache.get(client_id) is not None
        await _disable_unannounced(db, "rp-c")
        assert await cache.get("rp-c") is not None  # kept: the change was not announced
        assert await cache.get("rp-a") is None  # a disabled one is never kept, nor does it evict one
        await _register(db, "rp-d")
        assert await cache.get("rp-d") is not None  # a third: the oldest, rp-b, makes room
        await _disable_unannounced(db, "rp-b")
        assert await cache.get("rp-b") is None

        cache.listening(False)  # the listener lost: nothing served from what was kept
        assert await cache.get("rp-c") is None
    finally:
        await db.dispose()
