"""/readyz is red, naming the failing part, when the database, the signing keys or (by setting) VNeID's
metadata are unavailable; /healthz stays green (issue 12 item 7)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import asyncpg
import httpx
import pytest
from sqlalchemy import text

from broker.app import create_app
from broker.settings import Settings
from tests.conftest import StackFactory
from tests.support.databases import POSTGRES_URL
from tests.support.servers import LiveServer, free_port


async def _until(http: httpx.AsyncClient, url: str, status: int, within: float = 10) -> httpx.Response:
    deadline = time.monotonic() + within
    while True:
        response = await http.get(url)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.2)


async def test_readyz_names_the_signing_keys_when_none_can_sign(
    make_stack: StackFactory, http: httpx.AsyncClient
) -> None:
    stack = make_stack(key_reload_seconds=1)
    ready = await http.get(f"{stack.broker_url}/readyz")
    assert ready.status_code == 200
    assert ready.json()["signing_keys"] == "ok" and ready.json()["database"] == "up"

    async with stack.database() as database, database.transaction() as session:
        await session.execute(text("UPDATE signing_keys SET retired_at = :at"), {"at": datetime(2000, 1, 1)})

    red = await _until(http, f"{stack.broker_url}/readyz", 503)
    assert red.status_code == 503
    assert red.json()["failing"] == ["signing_keys"]
    assert red.json()["database"] == "up"
    assert (await http.get(f"{stack.broker_url}/healthz")).status_code == 200


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_readyz_names_the_database_when_it_is_gone_and_recovers(
    make_stack: StackFactory, http: httpx.AsyncClient
) -> None:
    stack = make_stack()
    name = stack.settings.database_url.rsplit("/", 1)[-1]
    assert (await http.get(f"{stack.broker_url}/readyz")).status_code == 200
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        red = await _until(http, f"{stack.broker_url}/readyz", 503)
        assert red.status_code == 503
        assert "database" in red.json()["failing"] and red.json()["database"] == "down"
        assert (await http.get(f"{stack.broker_url}/healthz")).status_code == 200
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
    assert (await _until(http, f"{stack.broker_url}/readyz", 200)).status_code == 200


async def test_readyz_checks_vneid_metadata_only_when_asked(
    database_url: str, http: httpx.AsyncClient
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"  # VNeID unreachable
    servers = []
    try:
        for checks in (True, False):
            port = free_port()
            settings = Settings(
                database_url=database_url,
                issuer=f"http://127.0.0.1:{port}",
                vneid_issuer=nobody,
                readyz_checks_upstream=checks,
                vneid_connect_timeout_seconds=0.5,
            )
            servers.append(LiveServer(create_app(settings), port).start())
        strict, lenient = servers
        red = await http.get(f"{strict.url}/readyz")
        assert red.status_code == 503
        assert red.json()["failing"] == ["upstream_metadata"]
        assert (await http.get(f"{strict.url}/healthz")).status_code == 200
        green = await http.get(f"{lenient.url}/readyz")
        assert green.status_code == 200 and "upstream_metadata" not in green.json()
    finally:
        for server in servers:
            server.stop()
