"""The upstreams' client (broker.upstream.http, on broker.upstream.wire's connections) over real loopback
servers: connections are reused, one the server closed while idle is not (the next call, a code exchange
included, gets a fresh connection and its answer), redirects are not followed, timeouts and refused connections are the
"unreachable" failures the pages name, and each call is in the metrics with its outcome."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from broker import logs
from broker.clock import FixedClock
from broker.errors import UpstreamError
from broker.metrics import Metrics
from broker.upstream.breaker import CircuitBreaker, UpstreamUnavailable
from broker.upstream.http import UpstreamHttp
from tests.support.raw_http import Server, serve
from tests.support.raw_http import answer as raw_answer

TOKEN = json.dumps({"access_token": "a", "token_type": "Bearer"}).encode()


def answer(body: bytes = TOKEN, status: str = "200 OK", extra: str = "") -> bytes:
    return raw_answer(body, status, extra)


NOW = datetime(2024, 6, 15, 8, 0, tzinfo=UTC)


class Client:
    def __init__(self, read_timeout: float = 5.0) -> None:
        self.metrics = Metrics()
        self.breaker = CircuitBreaker(FixedClock(NOW), 5, timedelta(seconds=30))
        self.http = UpstreamHttp(
            metrics=self.metrics,
            breaker=self.breaker,
            connect_timeout=1.0,
            read_timeout=read_timeout,
            on_breaker_change=lambda: None,
            upstream="vneid",
        )

    def calls(self, endpoint: str, outcome: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "broker_upstream_call_seconds_count",
            {"upstream": "vneid", "endpoint": endpoint, "outcome": outcome},
        )
        return value or 0.0


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    made = Client()
    yield made
    await made.http.aclose()


async def exchange(client: Client, url: str) -> tuple[int, object]:
    return await client.http.post_token(
        f"{url}/token", {"code": "c d", "grant_type": "authorization_code"}, None
    )


async def test_a_kept_alive_connection_is_reused(client: Client) -> None:
    server = Server(reply=answer())
    async for url in serve(server):
        for _ in range(3):
            assert await exchange(client, url) == (200, {"access_token": "a", "token_type": "Bearer"})
            assert await client.http.get_json(
                "userinfo", f"{url}/userinfo", {"Authorization": "Bearer a"}
            ) == {
                "access_token": "a",
                "token_type": "Bearer",
            }
    assert server.connections == 1
    assert client.calls("token", "2xx") == 3
    assert client.calls("userinfo", "2xx") == 3


async def test_a_connection_the_server_closed_while_idle_is_not_reused(client: Client) -> None:
    server = Server(reply=answer(), answers_per_connection=1)
    async for url in serve(server):
        for _ in range(3):
            assert (await exchange(client, url))[
                0
            ] == 200  # a POST: never retried, so never sent on a dead one
            await asyncio.sleep(0.05)  # the server's close reaches the idle connection
            assert await client.http.get_json("discovery", f"{url}/.well-known/openid-configuration")
            await asyncio.sleep(0.05)
    assert server.connections == 6
    assert client.calls("token", "2xx") == 3
    assert client.calls("discovery", "2xx") == 3


async def test_the_code_exchange_sends_the_form_the_client_authentication_and_the_request_id(
    client: Client,
) -> None:
    server = Server(reply=answer())
    authorization = "Basic " + base64.b64encode(b"broker:s%3Acret").decode()
    request_id = logs.request_id.set("req-7")
    try:
        async for url in serve(server):
            await client.http.post_token(f"{url}/token", {"code": "c d&e", "grant_type": "x"}, authorization)
    finally:
        logs.request_id.reset(request_id)
    line, headers, body = server.requests[0]
    assert line == "POST /token HTTP/1.1"
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    assert headers["authorization"] == authorization
    assert headers["x-request-id"] == "req-7"
    assert body == b"code=c+d%26e&grant_type=x"


async def test_a_cookie_the_upstream_sets_is_never_sent_back(client: Client) -> None:
    """One client serves every citizen's exchange: a cookie one answer set would ride along the next
    citizen's calls."""
    server = Server(reply=answer(extra="Set-Cookie: session=citizen-a; Path=/\r\n"))
    async for url in serve(server):
        url = url.replace("127.0.0.1", "localhost")  # a name: a jar keeps no cookie of a bare address
        for _ in range(2):
            await exchange(client, url)
            await client.http.get_json("userinfo", f"{url}/userinfo", {"Authorization": "Bearer a"})
    assert len(server.requests) == 4
    assert all("cookie" not in headers for _, headers, _ in server.requests)


async def test_a_redirect_is_not_followed(client: Client) -> None:
    server = Server(reply=answer(b"", "302 Found", "Location: http://127.0.0.1:1/elsewhere\r\n"))
    async for url in serve(server):
        with pytest.raises(UpstreamError, match="userinfo_failed"):
            await client.http.get_json("userinfo", f"{url}/userinfo", {"Authorization": "Bearer a"})
        with pytest.raises(UpstreamUnavailable):  # not JSON: the token endpoint answered garbage
            await exchange(client, url)
    assert len(server.requests) == 2
    assert client.calls("userinfo", "3xx") == 1


async def test_a_read_timeout_is_unreachable_and_counted_as_a_timeout() -> None:
    client = Client(read_timeout=0.3)
    server = Server(reply=answer(), delay=2)
    try:
        async for url in serve(server):
            started = time.monotonic()
            with pytest.raises(UpstreamUnavailable, match="token_exchange_failed"):
                await exchange(client, url)
            with pytest.raises(UpstreamUnavailable, match="userinfo_unreachable"):
                await client.http.get_json("userinfo", f"{url}/u", {"Authorization": "Bearer a"}, retries=0)
            assert time.monotonic() - started < 1.5  # two calls, each bounded by the read timeout
    finally:
        await client.http.aclose()
    assert client.calls("token", "timeout") == 1
    assert client.calls("userinfo", "timeout") == 1
    assert len(server.requests) == 2  # the code exchange is never retried after a timeout


async def test_a_refused_connection_is_unreachable_and_the_get_is_retried_once(client: Client) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(UpstreamUnavailable, match="token_exchange_failed"):
        await exchange(client, url)
    with pytest.raises(UpstreamUnavailable, match="discovery_unreachable"):
        await client.http.get_json("discovery", f"{url}/.well-known/openid-configuration")
    assert client.calls("token", "unreachable") == 1
    assert client.calls("discovery", "unreachable") == 2  # the idempotent GET's one retry


async def test_a_5xx_at_the_token_endpoint_is_retried_once(client: Client) -> None:
    server = Server(reply=answer(b"{}", "503 Service Unavailable"))
    async for url in serve(server):
        with pytest.raises(UpstreamUnavailable, match="token_exchange_failed"):
            await exchange(client, url)
    assert len(server.requests) == 2
    assert client.calls("token", "5xx") == 2


async def test_a_server_that_hangs_up_mid_answer_is_unreachable(client: Client) -> None:
    server = Server(reply=answer()[:-5], answers_per_connection=1)  # the body cut short, then closed
    async for url in serve(server):
        with pytest.raises(UpstreamUnavailable, match="token_exchange_failed"):
            await exchange(client, url)
    assert client.calls("token", "2xx") == 1  # the head arrived
