"""The upstreams' transport (broker.outbound.keepalive) under httpx's client, over a real loopback server:
what it keeps alive and what it does not, how bodies come back, its failures as httpx's exceptions, and
its limit on connections under real concurrency."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from broker.outbound import tls
from broker.outbound.keepalive import KeepAliveTransport

Answer = Callable[[bytes], bytes | None]  # the request's head -> the raw answer (None: hang up at once)


def plain(body: bytes = b"ok", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


class Server:
    """Answers each request of a connection with ``answer``; closes the connection after
    ``answers_per_connection`` answers without saying so (as a server's idle timeout does), or at once
    when ``answer`` says None. Counts connections, and how many were open at once."""

    def __init__(self, answer: Answer, answers_per_connection: int = 100, delay: float = 0.0) -> None:
        self.answer, self.answers_per_connection, self.delay = answer, answers_per_connection, delay
        self.connections = self.open = self.most_open = 0
        self.bodies: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            for _ in range(self.answers_per_connection):
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    break
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                self.bodies.append(await reader.readexactly(length) if length else b"")
                if self.delay:
                    await asyncio.sleep(self.delay)
                answer = self.answer(head)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
        finally:
            self.open -= 1
            writer.close()


async def serve(server: Server) -> AsyncIterator[str]:
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield f"http://127.0.0.1:{port}/path?q=1"


def client(**limits: float) -> httpx.AsyncClient:
    transport = KeepAliveTransport(tls.client_context, **limits)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(2.0, connect=1.0))


async def test_a_kept_alive_connection_is_reused_and_the_request_arrives_whole() -> None:
    server = Server(lambda head: plain(b'{"a": 1}'))
    async for url in serve(server):
        async with client() as http:
            for _ in range(3):
                answer = await http.post(url, data={"code": "abc", "x": "é"})
                assert answer.status_code == 200
                assert answer.json() == {"a": 1}
    assert server.connections == 1
    assert server.bodies == [b"code=abc&x=%C3%A9"] * 3


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    server = Server(lambda head: plain(), answers_per_connection=1)
    async for url in serve(server):
        async with client() as http:
            for _ in range(3):
                assert (await http.get(url)).text == "ok"
                await asyncio.sleep(0.05)  # the server's close reaches the idle connection
    assert server.connections == 3


async def test_an_answer_that_ends_its_connection_and_an_idle_one_past_its_expiry_are_not_reused() -> None:
    closing = Server(lambda head: plain(extra=b"Connection: close\r\n"))
    async for url in serve(closing):
        async with client() as http:
            for _ in range(2):
                assert (await http.get(url)).text == "ok"
    assert closing.connections == 2
    lasting = Server(lambda head: plain())
    async for url in serve(lasting):
        async with client(keepalive_expiry=0.05) as http:
            assert (await http.get(url)).text == "ok"
            await asyncio.sleep(0.1)
            assert (await http.get(url)).text == "ok"
    assert lasting.connections == 2


async def test_chunked_gzipped_and_unframed_bodies_come_back_decoded() -> None:
    packed = gzip.compress(b'{"sub": "x"}')
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n"
        + b"%x\r\n%s\r\n" % (5, packed[:5])
        + b"%x\r\n%s\r\n0\r\n\r\n" % (len(packed) - 5, packed[5:])
    )
    server = Server(lambda head: chunked)
    async for url in serve(server):
        async with client() as http:
            assert (await http.get(url)).json() == {"sub": "x"}
            assert (await http.get(url)).json() == {"sub": "x"}
    assert server.connections == 1
    # No length, not chunked: the body is what comes before the server closes (HTTP/1.0 style).
    unframed = Server(lambda head: b"HTTP/1.0 200 OK\r\n\r\nuntil close", answers_per_connection=1)
    async for url in serve(unframed):
        async with client() as http:
            assert (await http.get(url)).text == "until close"


async def test_failures_are_httpx_exceptions() -> None:
    silent = Server(lambda head: None)  # hangs up without answering
    async for url in serve(silent):
        async with client() as http:
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get(url)
    slow = Server(lambda head: plain(), delay=1.0)
    async for url in serve(slow):
        transport = KeepAliveTransport(tls.client_context)
        async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(0.2)) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.get(url)
    garbage = Server(lambda head: b"NOT HTTP AT ALL\r\n\r\n")
    async for url in serve(garbage):
        async with client() as http:
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get(url)
    listening = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    listening.close()
    await listening.wait_closed()
    async with client() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{port}/")


async def test_concurrent_requests_share_at_most_max_connections() -> None:
    server = Server(lambda head: plain(), delay=0.02)
    async for url in serve(server):
        async with client(max_connections=3) as http:
            answers = await asyncio.gather(*(http.get(url) for _ in range(30)))
    assert [answer.text for answer in answers] == ["ok"] * 30
    assert server.most_open <= 3
    assert server.connections == 3  # each kept alive and reused by the requests that waited for it


async def test_a_request_waits_for_a_connection_no_longer_than_the_pool_timeout() -> None:
    server = Server(lambda head: plain(), delay=0.5)
    async for url in serve(server):
        transport = KeepAliveTransport(tls.client_context, max_connections=1)
        timeout = httpx.Timeout(2.0, pool=0.1)
        async with httpx.AsyncClient(transport=transport, timeout=timeout) as http:
            first = asyncio.create_task(http.get(url))
            await asyncio.sleep(0.05)
            with pytest.raises(httpx.PoolTimeout):
                await http.get(url)
            assert (await first).text == "ok"
