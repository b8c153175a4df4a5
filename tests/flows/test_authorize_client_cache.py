"""/authorize and the clients a broker process keeps (issue 7): on PostgreSQL each process keeps the enabled
clients it read while it listens for changes to them (a trigger NOTIFYs whoever made the change), so a
client disabled, changed or added by the CLI or by SQL is seen by the next request once the notification
is delivered; while the process is not listening every read goes to the database. On SQLite nothing is
kept: every request reads the database, so there the very first request after the change must see it.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from tests.conftest import Stack, StackFactory
from tests.support.browser import Browser, RelyingParty
from tests.support.databases import POSTGRES_URL
from tests.support.html_forms import is_login_page

BROKER = str(Path(sys.executable).parent / "broker")
# What a notification may take to reach the broker once the change committed (milliseconds on loopback).
DELIVERY_SECONDS = 5.0


def _postgresql(stack: Stack) -> bool:
    return stack.settings.database_url.startswith("postgresql")


async def _cli(stack: Stack, *args: str) -> None:
    """``broker …`` in a process of its own, as an operator runs it next to a running broker."""
    environment = {**os.environ, "BROKER_DATABASE_URL": stack.settings.database_url}
    process = await asyncio.create_subprocess_exec(
        BROKER, *args, env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()


def _database(stack: Stack) -> str:
    return urlsplit(stack.settings.database_url).path.lstrip("/")


async def _connect(stack: Stack) -> asyncpg.Connection:
    """An operator's session on the broker's PostgreSQL database."""
    return await asyncpg.connect(POSTGRES_URL.rsplit("/", 1)[0] + f"/{_database(stack)}")


async def _eventually(stack: Stack, check: Callable[[], Awaitable[bool]]) -> None:
    """PostgreSQL: ``check`` holds within the notification's delivery. SQLite: at the first try."""
    deadline = time.monotonic() + (DELIVERY_SECONDS if _postgresql(stack) else 0)
    while not await check():
        assert time.monotonic() < deadline, "not seen in time"
        await asyncio.sleep(0.02)


def _accepted(response: httpx.Response) -> bool:
    """/authorize opened a login flow: its answer is the broker's login page."""
    return is_login_page(response)


def _refused(response: httpx.Response) -> bool:
    """The person sees the broker's error page: an untrusted client or redirect URI is never redirected to."""
    return response.status_code == 400 and "location" not in response.headers


async def _authorize(stack: Stack, rp: RelyingParty, **overrides: str | None) -> httpx.Response:
    browser = Browser()
    try:
        return await browser.authorize(stack.broker_url, browser.attempt(rp, **overrides))
    finally:
        await browser.close()


async def _kept(stack: Stack, rp: RelyingParty) -> None:
    """The broker keeps ``rp``: on PostgreSQL /authorize then costs only the flow's INSERT."""

    async def one_round_trip() -> bool:
        response = await _authorize(stack, rp)
        assert _accepted(response), response.text[:500]
        return response.headers["x-db-round-trips"] == "1" or not _postgresql(stack)

    await _eventually(stack, one_round_trip)


async def test_a_kept_client_costs_one_round_trip_and_an_unknown_one_is_never_kept(
    make_stack: StackFactory,
) -> None:
    stack = make_stack(bench_count_round_trips=True)
    rp = await stack.register_client()
    first = await _authorize(stack, rp)
    assert _accepted(first)
    await _kept(stack, rp)
    again = [await _authorize(stack, rp) for _ in range(5)]
    assert all(_accepted(response) for response in again)
    if _postgresql(stack):
        # The client and the flow's INSERT, then the INSERT alone.
        assert first.headers["x-db-round-trips"] == "2"
        assert {response.headers["x-db-round-trips"] for response in again} == {"1"}
    else:  # SQLite keeps nothing: every request reads the client
        assert {response.headers["x-db-round-trips"] for response in again} == {
            first.headers["x-db-round-trips"]
        }
    unknown = RelyingParty("rp-0000-0000-0000-0000", "", rp.redirect_uri)
    # Asked of the database every time (SQLite adds its BEGIN and COMMIT): requests cannot fill the cache.
    read = "1" if _postgresql(stack) else "3"
    for _ in range(3):
        response = await _authorize(stack, unknown)
        assert _refused(response)
        assert response.headers["x-db-round-trips"] == read


async def test_a_client_disabled_by_the_cli_is_refused_at_once(make_stack: StackFactory) -> None:
    stack = make_stack(bench_count_round_trips=True)
    rp, other = await stack.register_client(), await stack.register_client()
    await _kept(stack, rp)
    await _kept(stack, other)

    await _cli(stack, "clients", "delete", rp.client_id)

    async def refused() -> bool:
        return _refused(await _authorize(stack, rp))

    await _eventually(stack, refused)
    for _ in range(3):
        assert _refused(await _authorize(stack, rp))
    assert _accepted(await _authorize(stack, other))  # the others are read again, and kept again
    await _kept(stack, other)


async def test_a_changed_redirect_uri_takes_effect(make_stack: StackFactory) -> None:
    stack = make_stack(bench_count_round_trips=True)
    rp = await stack.register_client(redirect_uris=["https://old.example.vn/callback"])
    await _kept(stack, rp)

    await _cli(stack, "clients", "update", rp.client_id, "--redirect-uri", "https://new.example.vn/callback")

    async def new_uri_accepted() -> bool:
        return _accepted(await _authorize(stack, rp, redirect_uri="https://new.example.vn/callback"))

    await _eventually(stack, new_uri_accepted)
    assert _refused(await _authorize(stack, rp))  # the old one is no longer trusted


async def test_a_client_added_is_found(make_stack: StackFactory) -> None:
    stack = make_stack(bench_count_round_trips=True)
    await _kept(stack, await stack.register_client())
    added = await stack.register_client(name="Cổng dịch vụ công tỉnh")
    assert _accepted(await _authorize(stack, added))  # never kept as unknown: found at the first request


async def test_while_not_listening_every_read_goes_to_the_database(make_stack: StackFactory) -> None:
    stack = make_stack(bench_count_round_trips=True)
    if not _postgresql(stack):
        pytest.skip("SQLite: the broker keeps no clients and listens for nothing")
    rp = await stack.register_client()
    await _kept(stack, rp)

    async def read_from_the_database() -> bool:
        response = await _authorize(stack, rp)
        assert _accepted(response) or _refused(response)
        return response.headers["x-db-round-trips"] == "2"

    operator, server = await _connect(stack), await asyncpg.connect(POSTGRES_URL)
    try:
        # The listener is lost and cannot come back (the broker's pool keeps the connections it holds).
        await server.execute(f'ALTER DATABASE "{_database(stack)}" ALLOW_CONNECTIONS false')
        terminated = await operator.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'LISTEN %broker_clients%'"
        )
        assert terminated == 1
        await _eventually(stack, read_from_the_database)
        for _ in range(3):
            assert await read_from_the_database()  # read, and not kept
        # A change that reaches no listener is seen by the next request all the same.
        await operator.execute("UPDATE clients SET disabled_at = now() WHERE client_id = $1", rp.client_id)
        assert _refused(await _authorize(stack, rp))
        await operator.execute("UPDATE clients SET disabled_at = NULL WHERE client_id = $1", rp.client_id)
        assert _accepted(await _authorize(stack, rp))
        assert await read_from_the_database()
    finally:
        await server.execute(f'ALTER DATABASE "{_database(stack)}" ALLOW_CONNECTIONS true')
        await server.close()
        await operator.close()
    await _kept(stack, rp)  # listening again: kept again
