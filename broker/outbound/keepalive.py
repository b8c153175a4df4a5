"""An HTTP/1.1 transport for httpx with connections kept alive: asyncio's own protocol and httptools'
parser (the one uvicorn parses requests with) instead of httpcore's pool, h11 and anyio.

Issue 7: the login's VNeID leg makes two calls (the code exchange, userinfo). Through httpx's own
transport each cost about 250 µs of CPU on loopback (a pool of anyio locks and cancel scopes, each asking
asyncio for the running loop, h11's pure-Python parsing); the same exchange on a kept-alive asyncio
connection with httptools costs a third of that (bench/README.md, "Fifth round"). Everything above the
transport is httpx's as before: the client's headers, authentication, cookies, proxies from the
environment (mounted by the client on transports of its own), the decoding of the body, the timeouts
(from the request, as httpx passes them), and its exceptions.

What it keeps of httpcore's pool: at most ``max_connections`` at once (then requests wait, up to the pool
timeout), at most ``max_keepalive`` idle ones per host, an idle connection is dropped after
``keepalive_expiry`` seconds or as soon as the server closes it (asyncio says so: no poll per request),
and one is never reused after a response that ends it (``Connection: close``, HTTP/1.0) or a failure.
Bodies are read whole (the broker's upstream calls are small JSON documents); the read timeout bounds the
whole answer.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import httptools
import httpx

Origin = tuple[str, str, int]


class _Exchange:
    """What one response brought, as httptools parsed it."""

    __slots__ = ("body", "complete", "headers", "headers_done", "keep_alive")

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.headers_done = False
        self.complete = False
        self.keep_alive = False


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: Any = None  # asyncio's, or uvloop's (not a subclass of asyncio.Transport)
        self.loop = asyncio.get_running_loop()  # a connection serves only the event loop it was made in
        self.closed = False
        self.idle_since = 0.0
        self._parser: Any = None
        self._exchange: _Exchange | None = None
        self._waiter: asyncio.Future[None] | None = None

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            self.close()  # bytes nobody asked for: the connection's framing is lost
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("unexpected protocol upgrade"))
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"malformed response: {exc}"))

    def eof_received(self) -> bool:
        return False  # close: a half-closed connection is of no further use

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        exchange, waiter = self._exchange, self._waiter
        if waiter is None or waiter.done() or exchange is None:
            return
        if exchange.headers_done and self._parser is not None and self._reads_to_close():
            # No length and not chunked: the body is what came before the close (RFC 9112 §6.3).
            exchange.complete = True
            waiter.set_result(None)
            return
        if exchange.headers_done:
            waiter.set_exception(httpx.ReadError("the server closed the connection mid-answer"))
        else:
            waiter.set_exception(httpx.RemoteProtocolError("Server disconnected without sending a response."))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        assert self._exchange is not None
        self._exchange.headers.append((name, value))

    def on_headers_complete(self) -> None:
        assert self._exchange is not None
        self._exchange.headers_done = True

    def on_body(self, body: bytes) -> None:
        assert self._exchange is not None
        self._exchange.body.append(body)

    def on_message_complete(self) -> None:
        assert self._exchange is not None and self._waiter is not None
        self._exchange.complete = True
        # Asked now: once the message is complete, httptools' parser answers False whatever was said
        self._exchange.keep_alive = self._parser.should_keep_alive()
        if not self._waiter.done():
            self._waiter.set_result(None)

    # the exchange
    async def exchange(self, data: bytes, read_timeout: float | None) -> tuple[int, _Exchange, bool]:
        """Sends one request and reads its whole answer: status, what came, and whether the connection
        may carry another."""
        assert self.transport is not None
        exchange = self._exchange = _Exchange()
        self._parser = httptools.HttpResponseParser(self)
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        try:
            if read_timeout is None:
                await waiter
            else:
                async with asyncio.timeout(read_timeout):
                    await waiter
        except TimeoutError as exc:
            raise httpx.ReadTimeout("no answer within the read timeout") from exc
        reusable = not self.closed and exchange.keep_alive
        status = self._parser.get_status_code()
        self._parser = self._exchange = self._waiter = None
        return status, exchange, reusable

    def _reads_to_close(self) -> bool:
        names = {name.lower() for name, _ in self._exchange.headers} if self._exchange else set()
        return b"content-length" not in names and b"transfer-encoding" not in names

    def _fail(self, error: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class KeepAliveTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        ssl_context: Callable[[], ssl.SSLContext],
        max_connections: int = 100,
        max_keepalive: int = 20,
        keepalive_expiry: float = 4.0,
    ) -> None:
        """httpx's defaults for the pool's limits, but for the expiry: 4 s, under uvicorn's own 5 s
        keep-alive (httpx keeps 5 s, the very moment such a server closes); ``ssl_context`` verifies
        https servers (asked at each https connection: one cached context)."""
        self._ssl_context = ssl_context
        self._slots = asyncio.Semaphore(max_connections)
        self._max_keepalive = max_keepalive
        self._expiry = keepalive_expiry
        self._idle: dict[Origin, deque[_Connection]] = {}
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
        if request.method == "HEAD":  # its answer announces a body that never comes: not parsed here
            raise httpx.UnsupportedProtocol("HEAD is not sent through this transport")
        origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        timeouts = request.extensions.get("timeout", {})
        data = _request_bytes(request, await request.aread())
        await self._take_slot(timeouts.get("pool"))
        try:
            connection = self._reuse(origin) or await self._connect(origin, timeouts.get("connect"))
            try:
                status, exchange, reusable = await connection.exchange(data, timeouts.get("read"))
            except BaseException:
                connection.close()
                raise
            self._keep(origin, connection) if reusable else connection.close()
        finally:
            self._slots.release()
        return httpx.Response(
            status,
            headers=exchange.headers,
            stream=httpx.ByteStream(b"".join(exchange.body)),
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            while idle:
                idle.pop().close()

    async def _take_slot(self, limit: float | None) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # free: no wait, no timer
            return
        try:
            async with asyncio.timeout(limit):
                await self._slots.acquire()
        except TimeoutError as exc:
            raise httpx.PoolTimeout("every connection busy for the pool timeout") from exc

    def _reuse(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now, loop = time.monotonic(), asyncio.get_running_loop()
        while idle:
            connection = idle.pop()  # the most recently used: the least likely to be closed meanwhile
            if (
                not connection.closed
                and now - connection.idle_since < self._expiry
                and connection.loop is loop
            ):
                return connection
            if connection.loop is loop:
                connection.close()
        return None

    def _keep(self, origin: Origin, connection: _Connection) -> None:
        idle = self._idle.setdefault(origin, deque())
        if self._closed or len(idle) >= self._max_keepalive:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        idle.append(connection)

    async def _connect(self, origin: Origin, limit: float | None) -> _Connection:
        scheme, host, port = origin
        secure = scheme == "https"
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(limit):
                _, connection = await loop.create_connection(
                    _Connection,
                    host,
                    port,
                    ssl=self._ssl_context() if secure else None,
                    server_hostname=host if secure else None,
                )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"no connection to {host}:{port} within the connect timeout") from exc
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        return connection


def _request_bytes(request: httpx.Request, body: bytes) -> bytes:
    """The request line, headers and body as one write. httpx has set Host, and Content-Length or
    Transfer-Encoding for the body; a chunked body, already read whole, goes as one chunk."""
    target = request.url.raw_path
    lines = [request.method.encode("ascii"), b" ", target, b" HTTP/1.1\r\n"]
    chunked = False
    for name, value in request.headers.raw:
        if name.lower() == b"transfer-encoding" and value.lower() == b"chunked":
            chunked = True
        lines += [name, b": ", value, b"\r\n"]
    lines.append(b"\r\n")
    if chunked:
        if body:
            lines += [b"%x\r\n" % len(body), body, b"\r\n"]
        lines.append(b"0\r\n\r\n")
    else:
        lines.append(body)
    return b"".join(lines)
