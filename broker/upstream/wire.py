"""HTTP/1.1 calls to the upstreams on kept-alive connections: the request written here, the answer parsed by
httptools (llhttp, Node's parser, which uvicorn already runs for the broker's own requests).

Why not aiohttp's client, which this replaced (issue 7, twentieth round): its request machinery (the
request and response objects, header multidicts, URL objects, timers, traces, the connector's
bookkeeping) was 295,000 instructions per call, two calls in every VNeID login, a tenth of a login's CPU
outside the ID token's signature; these calls need none of it. What they need is here: a pool of
connections per origin (at most ``limit`` in all, an idle one kept ``keepalive`` seconds, one the server
closed never reused), bounded waits (for a free connection, for the connection, between two reads of the
answer), TLS with the caller's context, no redirects followed, no cookies kept, no proxy taken from the
environment, header values refused if they could split the request, and answers bounded in size.

Every failure is an ``OSError``: ``TimeoutError`` when a bound was reached (``WireTimeout``), else
``NoAnswer`` or the socket's own error (refused, unresolvable, TLS). ``head`` on the first two tells a
caller that the answer's head had arrived (status, when), as a call is timed until its head.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections import deque
from typing import Any
from urllib.parse import urlsplit

import httptools

# An upstream's answers are small documents (discovery, keys, tokens, claims).
MAX_ANSWER_BYTES = 4 * 1024 * 1024
_FORBIDDEN_IN_HEADERS = frozenset("\r\n\0")

Head = tuple[int, float]  # status, time.perf_counter() at its arrival


class NoAnswer(ConnectionError):
    """The connection ended, or sent what is not HTTP, before a whole answer arrived."""

    def __init__(self, reason: str, head: Head | None = None) -> None:
        super().__init__(reason)
        self.head = head


class WireTimeout(TimeoutError):
    """A bound was reached: no free connection, no connection, or no data between two reads."""

    def __init__(self, reason: str, head: Head | None = None) -> None:
        super().__init__(reason)
        self.head = head


@functools.lru_cache(maxsize=256)
def _target(url: str) -> tuple[tuple[str, str, int], str, str]:
    """The origin (scheme, host, port), the Host header and the request target of an absolute URL.
    Upstream URLs are few and fixed (configuration, discovery); a logout URL per session is bounded."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise NoAnswer(f"not an http(s) URL: {scheme or 'no scheme'}")
    default = 443 if scheme == "https" else 80
    try:
        port = parts.port or default
    except ValueError:  # a port out of range, or not a number
        raise NoAnswer("not an http(s) URL: its port") from None
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    if port != default:
        shown = f"{shown}:{port}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return (scheme, host, port), shown, target


class _Connection(asyncio.Protocol):
    """One connection and the answer it is waiting for (one request at a time)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._body: list[bytes] = []
        self._size = 0
        self._head: Head | None = None
        self._framed = False  # the answer says where its body ends (a length, or chunks)
        self._keep_alive = False
        self._last_read = 0.0

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no asyncio.Transport subclass

    def data_received(self, data: bytes) -> None:
        self._last_read = time.monotonic()
        if self._waiter is None:  # nothing was asked: a server that speaks first is not one to keep
            self._fail(NoAnswer("data without a request"))
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(NoAnswer(f"not HTTP: {type(error).__name__}", self._head))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._head is not None and not self._framed and self._head[0] >= 200:
            # An answer without a length or chunks ends where its connection does (RFC 9112 §6.3).
            waiter, self._waiter = self._waiter, None
            if waiter is not None and not waiter.done():
                waiter.set_result((self._head[0], b"".join(self._body)))
            return
        self._fail(NoAnswer("connection closed before the whole answer", self._head))

    # httptools' callbacks
    def on_header(self, name: bytes, _value: bytes) -> None:
        if len(name) in (14, 17) and name.lower() in (b"content-length", b"transfer-encoding"):
            self._framed = True

    def on_headers_complete(self) -> None:
        self._head = (self.parser.get_status_code(), time.perf_counter())

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > MAX_ANSWER_BYTES:
            self._fail(NoAnswer("answer too large", self._head))
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:  # an interim answer (1xx): the real one follows
            self._head, self._body, self._size, self._framed = None, [], 0, False
            return
        self._keep_alive = bool(self.parser.should_keep_alive())  # valid until the next message
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((status, b"".join(self._body)))

    # the pool's side
    def ask(self, request: bytes, loop: asyncio.AbstractEventLoop) -> asyncio.Future[tuple[int, bytes]]:
        assert self.transport is not None
        self._waiter = waiter = loop.create_future()
        self._body, self._size, self._head, self._framed = [], 0, None, False
        self._keep_alive = False
        self._last_read = time.monotonic()
        self.transport.write(request)
        return waiter

    @property
    def head(self) -> Head | None:
        return self._head

    def quiet_for(self) -> float:
        return time.monotonic() - self._last_read

    def reusable(self) -> bool:
        return not self.closed and self._waiter is None and self._keep_alive

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, error: OSError) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        self.close()


class Connections:
    """The kept-alive connections to the upstreams, shared by every call of one event loop."""

    def __init__(
        self,
        *,
        connect_timeout: float,
        read_timeout: float,
        pool_timeout: float,
        limit: int = 100,
        keepalive: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
        user_agent: str = "vneid-broker",
    ) -> None:
        self._connect_timeout, self._read_timeout = connect_timeout, read_timeout
        self._pool_timeout, self._limit, self._keepalive = pool_timeout, limit, keepalive
        self._ssl = ssl_context
        self._agent = user_agent
        self._idle: dict[tuple[str, str, int], deque[_Connection]] = {}
        self._slots = 0  # connections open or being opened, in use or idle
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def request(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None = None
    ) -> tuple[int, bytes, float]:
        """The answer's status and body, and when its head arrived (``time.perf_counter()``)."""
        origin, host, target = _target(url)
        lines = [
            f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {self._agent}\r\n"
            "Accept: */*\r\nAccept-Encoding: identity\r\n"  # nothing to decompress
        ]
        for name, value in headers.items():
            if not _FORBIDDEN_IN_HEADERS.isdisjoint(name) or not _FORBIDDEN_IN_HEADERS.isdisjoint(value):
                raise NoAnswer(f"header {name!r} would split the request")  # nothing was sent
            lines.append(f"{name}: {value}\r\n")
        if body is not None:
            lines.append(f"Content-Length: {len(body)}\r\n")
        lines.append("\r\n")
        request = "".join(lines).encode("latin-1") + (body or b"")
        loop = asyncio.get_running_loop()
        connection = await self._connection(origin, loop)
        try:
            status, content = await self._answer(connection, request, loop)
        except BaseException:
            connection.close()  # its state is unknown: a cancelled call, a failed one
            self._free()
            raise
        head = connection.head
        if connection.reusable():
            connection.idle_since = loop.time()
            self._idle.setdefault(origin, deque()).append(connection)
            self._hand_over()
        else:
            connection.close()
            self._free()
        return status, content, head[1] if head is not None else time.perf_counter()

    async def close(self) -> None:
        for idle in self._idle.values():
            while idle:
                idle.pop().close()
        self._idle.clear()

    async def _answer(
        self, connection: _Connection, request: bytes, loop: asyncio.AbstractEventLoop
    ) -> tuple[int, bytes]:
        waiter = connection.ask(request, loop)
        bound = self._read_timeout
        timer: asyncio.TimerHandle | None = None

        def check() -> None:  # the read timeout, measured between two reads, one timer per call
            nonlocal timer
            quiet = connection.quiet_for()
            if quiet >= bound:
                if not waiter.done():
                    waiter.set_exception(WireTimeout("no data within the read timeout", connection.head))
            else:
                timer = loop.call_later(bound - quiet, check)

        timer = loop.call_later(bound, check)
        try:
            return await waiter
        finally:
            assert timer is not None
            timer.cancel()

    async def _connection(self, origin: tuple[str, str, int], loop: asyncio.AbstractEventLoop) -> _Connection:
        """An idle connection to ``origin``, a new one in a free slot, or one of those once another call
        gives its connection back (bounded by the pool timeout)."""
        deadline = None
        while True:
            idle = self._idle.get(origin)
            now = loop.time()
            while idle:
                connection = idle.pop()  # the most recently used
                if connection.reusable() and now - connection.idle_since < self._keepalive:
                    return connection
                connection.close()
                self._slots -= 1
            if self._slots >= self._limit:
                self._drop_idle()
            if self._slots < self._limit:
                self._slots += 1
                try:
                    return await self._open(origin, loop)
                except BaseException:
                    self._free()
                    raise
            deadline = deadline if deadline is not None else now + self._pool_timeout
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, max(deadline - now, 0))
            except TimeoutError:
                raise WireTimeout("no free connection within the pool timeout") from None
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    async def _open(self, origin: tuple[str, str, int], loop: asyncio.AbstractEventLoop) -> _Connection:
        scheme, host, port = origin
        tls: Any = None
        if scheme == "https":
            tls = self._ssl if self._ssl is not None else _default_tls()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(
                    _Connection,
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls is not None else None,
                ),
                self._connect_timeout,
            )
        except TimeoutError:
            raise WireTimeout("no connection within the connect timeout") from None
        return connection

    def _free(self) -> None:
        self._slots -= 1
        self._hand_over()

    def _hand_over(self) -> None:
        """A slot or an idle connection became available: wake the first caller waiting for one."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _drop_idle(self) -> None:
        """At the limit, idle connections to other origins give way to a new one."""
        for idle in self._idle.values():
            while idle:
                idle.pop().close()
                self._slots -= 1


@functools.cache
def _default_tls() -> ssl.SSLContext:
    return ssl.create_default_context()
