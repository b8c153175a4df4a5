"""A bare HTTP/1.1 server on loopback for the outbound clients' tests: it answers every request with the
same bytes and keeps what it was sent, so a test sees exactly what a client put on the wire."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator


def answer(body: bytes, status: str = "200 OK", extra: str = "") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode() + body


class Server:
    """Answers ``answers_per_connection`` requests on a connection, then closes it without saying so
    (no ``Connection: close``), as a server's idle timeout does. Keeps each request's head and body."""

    def __init__(
        self, answers_per_connection: int = 100, reply: bytes | None = None, delay: float = 0
    ) -> None:
        self.answers_per_connection = answers_per_connection
        self.reply = reply or answer(b"{}")
        self.delay = delay
        self.connections = 0
        self.requests: list[tuple[str, dict[str, str], bytes]] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            for _ in range(self.answers_per_connection):
                head = await reader.readuntil(b"\r\n\r\n")
                line, *fields = head.decode().split("\r\n")[:-2]
                headers = {name.lower(): value.strip() for name, value in (f.split(":", 1) for f in fields)}
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                self.requests.append((line, headers, body))
                await asyncio.sleep(self.delay)
                writer.write(self.reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


async def serve(server: Server) -> AsyncIterator[str]:
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield f"http://127.0.0.1:{port}"
