"""The hottest statements' own pool on PostgreSQL (broker.store.prepared.StatementPool): what it reads is
what SQLAlchemy reads, an exhausted pool is the store's "unavailable", never a hang or a 500, and a
statement cancelled midway never hands its connection to the next one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, select
from sqlmodel import col

from broker.errors import StoreUnavailable
from broker.store.database import Database
from broker.store.tables import Client
from tests.support.databases import PostgresDatabases


@pytest.fixture
def postgres_url(postgresql_databases: PostgresDatabases) -> str:
    return postgresql_databases.fresh()


async def _add_client(db: Database) -> None:
    async with db.transaction() as session:
        session.add(
            Client(
                client_id="rp-1",
                name="Cổng dịch vụ công",
                redirect_uris=["https://rp.example/cb", "https://rp.example/cb2"],
                grant_types=["authorization_code"],
                created_at=datetime(2024, 6, 15, 1, 2, 3, tzinfo=UTC),
            )
        )


async def test_rows_read_through_the_statement_pool_equal_sqlalchemy_s(postgres_url: str) -> None:
    db = Database(postgres_url, pool_size=2, pool_timeout=1.0)
    try:
        await _add_client(db)
        statement = select(Client).where(col(Client.client_id) == bindparam("client_id"))
        fast = await db.rows(statement, {"client_id": "rp-1"})
        assert len(fast) == 1
        assert fast == await _engine_rows(db, statement)  # JSON lists, instants (UTC) and text alike
        assert ["https://rp.example/cb", "https://rp.example/cb2"] in fast[0]
        assert datetime(2024, 6, 15, 1, 2, 3, tzinfo=UTC) in fast[0]
    finally:
        await db.dispose()


async def _engine_rows(db: Database, statement: object) -> list[tuple[object, ...]]:
    async with db.engine.connect() as connection:
        result = await connection.execute(statement, {"client_id": "rp-1"})  # type: ignore[call-overload]
        return [tuple(row) for row in result.all()]


async def test_an_exhausted_statement_pool_is_unavailable_not_a_hang(postgres_url: str) -> None:
    db = Database(postgres_url, pool_size=1, pool_timeout=0.3)  # the statement pool: 2 connections
    try:
        statement = select(col(Client.client_id)).where(col(Client.client_id) == bindparam("client_id"))
        await db.rows(statement, {"client_id": "none"})
        assert db._statements is not None
        async with db._statements.connection(), db._statements.connection():
            with pytest.raises(StoreUnavailable):
                await asyncio.wait_for(db.rows(statement, {"client_id": "none"}), timeout=5)
        assert await db.rows(statement, {"client_id": "none"}) == []  # free again
    finally:
        await db.dispose()


async def test_a_statement_cancelled_midway_does_not_leave_its_connection_to_the_next(
    postgres_url: str,
) -> None:
    db = Database(postgres_url, pool_size=2, pool_timeout=1.0)
    try:
        statement = select(col(Client.client_id)).where(col(Client.client_id) == bindparam("client_id"))
        await db.rows(statement, {"client_id": "none"})
        assert db._statements is not None
        slow = asyncio.create_task(_sleep_on_a_pooled_connection(db))
        await asyncio.sleep(0.2)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        for _ in range(4):  # every connection the pool hands out next answers at once
            assert await asyncio.wait_for(db.rows(statement, {"client_id": "none"}), timeout=2) == []
    finally:
        await db.dispose()


async def _sleep_on_a_pooled_connection(db: Database) -> None:
    assert db._statements is not None
    async with db._statements.connection() as connection:
        await connection.execute("SELECT pg_sleep(5)")
