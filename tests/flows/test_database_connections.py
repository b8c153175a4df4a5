"""Connections the database server closed (a restart, a failover, an administrator) cost no request: the
pool swaps a closed connection at checkout without a round trip, and the key-rotation listener reconnects."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest

from tests.conftest import Stack, StackFactory
from tests.support.browser import Browser, RelyingParty
from tests.support.databases import POSTGRES_URL, PostgresDatabases
from tests.support.op import log_in_and_redeem


async def _terminate_backends(database_url: str) -> int:
    database = database_url.rsplit("/", 1)[1]
    connection = await asyncpg.connect(POSTGRES_URL)
    try:
        return int(
            await connection.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                database,
            )
        )
    finally:
        await connection.close()


@pytest.fixture
def database_url(postgresql_databases: PostgresDatabases) -> str:
    """PostgreSQL only: SQLite has no server to close connections."""
    return postgresql_databases.fresh()


async def test_requests_after_the_server_closed_every_connection_succeed(
    make_stack: StackFactory, http: httpx.AsyncClient
) -> None:
    stack: Stack = make_stack()
    rp: RelyingParty = await stack.register_client()
    browser = Browser()
    tokens = await log_in_and_redeem(stack, http, browser, rp)
    await browser.close()

    assert await _terminate_backends(stack.settings.database_url) >= 2  # the pool's and the listener's
    await asyncio.sleep(0.5)  # the broker's event loop sees the sockets close

    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    for _ in range(5):  # more requests than connections the pool held: none may meet a dead one
        userinfo = await http.get(f"{stack.broker_url}/userinfo", headers=bearer)
        assert userinfo.status_code == 200, userinfo.text
    again = Browser()
    await log_in_and_redeem(stack, http, again, rp)
    await again.close()
