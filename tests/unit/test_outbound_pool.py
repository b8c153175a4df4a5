"""The outbound transport's pool (broker.observed_http.pooled_transport) over a real loopback server:
a kept-alive connection is reused, and one the server closed while it sat idle is not (the next call
gets a fresh connection and its answer, not a failure)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from broker.observed_http import pooled_transport
from tests.support.raw_http import Server, answer, serve


@pytest.fixture
async def keeps_alive() -> AsyncIterator[tuple[Server, str]]:
    server = Server(answers_per_connection=100, reply=answer(b"ok"))
    async for url in serve(server):
        yield server, f"{url}/"


@pytest.fixture
async def closes_when_idle() -> AsyncIterator[tuple[Server, str]]:
    server = Server(answers_per_connection=1, reply=answer(b"ok"))
    async for url in serve(server):
        yield server, f"{url}/"


async def test_a_kept_alive_connection_is_reused(keeps_alive: tuple[Server, str]) -> None:
    server, url = keeps_alive
    async with httpx.AsyncClient(transport=pooled_transport()) as client:
        for _ in range(3):
            assert (await client.get(url)).text == "ok"
    assert server.connections == 1


async def test_a_connection_the_server_closed_while_idle_is_not_reused(
    closes_when_idle: tuple[Server, str],
) -> None:
    server, url = closes_when_idle
    async with httpx.AsyncClient(transport=pooled_transport()) as client:
        for _ in range(3):
            assert (await client.get(url)).text == "ok"
            await asyncio.sleep(0.05)  # the server's close reaches the idle connection
    assert server.connections == 3
