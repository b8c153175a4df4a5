"""The outbound transport's pool (broker.observed_http.pooled_transport) over a real loopback server:
a kept-alive connection is reused, and one the server closed while it sat idle is not (the next call
gets a fresh connection and its answer, not a failure)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from broker.observed_http import pooled_transport

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


class Server:
    """Answers each request on a connection; closes the connection after ``answers_per_connection``
    answers, without saying so (no ``Connection: close``), as a server's idle timeout does."""

    def __init__(self, answers_per_connection: int) -> None:
        self.answers_per_connection = answers_per_connection
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        for _ in range(self.answers_per_connection):
            if not await reader.readuntil(b"\r\n\r\n"):
                break
            writer.write(ANSWER)
            await writer.drain()
        writer.close()


async def serve(server: Server) -> AsyncIterator[str]:
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield f"http://127.0.0.1:{port}/"


@pytest.fixture
async def keeps_alive() -> AsyncIterator[tuple[Server, str]]:
    server = Server(answers_per_connection=100)
    async for url in serve(server):
        yield server, url


@pytest.fixture
async def closes_when_idle() -> AsyncIterator[tuple[Server, str]]:
    server = Server(answers_per_connection=1)
    async for url in serve(server):
        yield server, url


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
