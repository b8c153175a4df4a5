"""Outgoing HTTP to the relying parties, observed: every call carries the request id of the request that
caused it (``X-Request-ID``) and is timed by upstream × endpoint × outcome. (The upstreams' calls are
observed alike by ``broker.upstream.http``, on its own connections.)

A transport wrapper rather than httpx event hooks, because hooks never see a call that got no response
(refused connection, timeout): exactly the calls an operator most needs counted.
"""

from __future__ import annotations

import select
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpcore
import httpx

from broker import logs
from broker.metrics import Metrics
from broker.outbound import tls

# Names the endpoint of a call from the request alone, from a fixed vocabulary (bounded labels).
EndpointNamer = Callable[[httpx.Request], str]


def relying_party_endpoint(request: httpx.Request) -> str:
    return "backchannel_logout" if request.method == "POST" else "document"


class ObservedTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        inner: httpx.AsyncBaseTransport | None,
        metrics: Metrics,
        upstream: str,
        endpoint_of: EndpointNamer,
    ) -> None:
        self._inner = inner or pooled_transport()
        self._metrics = metrics
        self._upstream = upstream
        self._endpoint_of = endpoint_of

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request_id = logs.request_id.get()
        if request_id is not None:
            request.headers["X-Request-ID"] = request_id
        started = time.perf_counter()
        outcome = "unreachable"
        try:
            response = await self._inner.handle_async_request(request)
            outcome = f"{response.status_code // 100}xx"
            return response
        except httpx.TimeoutException:
            outcome = "timeout"
            raise
        finally:
            self._metrics.upstream_calls.labels(self._upstream, self._endpoint_of(request), outcome).observe(
                time.perf_counter() - started
            )

    async def aclose(self) -> None:
        await self._inner.aclose()


def pooled_transport() -> httpx.AsyncHTTPTransport:
    """httpx's own transport, its pool's check of idle connections made cheap.

    Before every request (and after every response) httpcore's pool asks each idle connection whether its
    socket turned readable, i.e. whether the server closed it; through anyio each answer built a dict of a
    dozen socket attributes first (issue 7: 4 % of a login's CPU at 32 concurrent logins, two upstream
    calls each over a pool of some twenty connections). The same poll, on the socket kept at connect."""
    transport = httpx.AsyncHTTPTransport(verify=tls.client_context())
    pool = getattr(transport, "_pool", None)
    if isinstance(pool, httpcore.AsyncConnectionPool):  # httpx's layout today; else left as it is
        pool._network_backend = _KeptSocketBackend(pool._network_backend)
    return transport


class _KeptSocketBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return _KeptSocketStream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _KeptSocketStream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _KeptSocketStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> httpcore.AsyncNetworkStream:
        return _KeptSocketStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return _readable(self._socket)
        return self._inner.get_extra_info(info)


def _readable(sock: socket.socket | None) -> bool:
    """httpcore's own test: a socket gone (or whose peer closed it, so that a read returns at once) is
    readable."""
    descriptor = sock.fileno() if sock is not None else -1
    if descriptor < 0:
        return True
    poller = select.poll()
    poller.register(descriptor, select.POLLIN)
    return bool(poller.poll(0))
