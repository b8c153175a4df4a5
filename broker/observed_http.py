"""Outgoing HTTP, observed: every call to VNeID or to a relying party carries the request id of the request
that caused it (``X-Request-ID``) and is timed by upstream × endpoint × outcome.

A transport wrapper rather than httpx event hooks, because hooks never see a call that got no response
(refused connection, timeout): exactly the calls an operator most needs counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from broker import logs
from broker.metrics import Metrics
from broker.outbound import tls

# Names the endpoint of a call from the request alone, from a fixed vocabulary (bounded labels).
EndpointNamer = Callable[[httpx.Request], str]


def vneid_endpoint(request: httpx.Request) -> str:
    path = request.url.path
    if path.endswith("/.well-known/openid-configuration"):
        return "discovery"
    if request.method == "POST":
        return "token"
    if "authorization" in request.headers:
        return "userinfo"
    if "jwks" in path or "certs" in path or path.endswith("/keys"):
        return "jwks"
    return "other"


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
        self._inner = inner or httpx.AsyncHTTPTransport(verify=tls.client_context())
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
