"""Calls to one upstream: every call bounded by connect and read timeouts, timed in the metrics, and
counted by that upstream's circuit breaker. Idempotent GETs get one retry on a network failure; the code
exchange gets one retry on a 5xx only (the upstream failed before using the code, or the retry is refused
as a replay: never a second login), none on a timeout (the code may have been spent).

The connections are ``broker.upstream.wire``'s (HTTP/1.1 on kept-alive connections, parsed by httptools):
httpx's client cost about three times aiohttp's per call, and aiohttp's about 2.5 times this one's (issue 7:
~1,000, ~300 and ~120 µs of CPU per call with its socket's, against a loopback server), two calls in every
login. Each call carries the request id of the request that caused it
(``X-Request-ID``) and is timed by upstream × endpoint × outcome, as ``broker.observed_http`` does for the
relying parties' calls; redirects are never followed and proxies are not taken from the environment."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from prometheus_client import Histogram
from pydantic_core import from_json

from broker import logs
from broker.errors import UpstreamError
from broker.metrics import Metrics
from broker.upstream.breaker import CircuitBreaker, UpstreamUnavailable
from broker.upstream.wire import Connections

# No answer at all: refused, reset, closed before answering, a body cut short, or a timeout
# (``broker.upstream.wire``'s failures are all OSErrors; TimeoutError is one).
_FAILURES = (OSError,)
# Like httpx's own pool (the client this replaced): at most 100 connections, an idle one kept 5 s.
_MAX_CONNECTIONS = 100
_KEEPALIVE_SECONDS = 5.0


class UpstreamHttp:
    def __init__(
        self,
        *,
        metrics: Metrics,
        breaker: CircuitBreaker,
        connect_timeout: float,
        read_timeout: float,
        on_breaker_change: Callable[[], None],
        upstream: str = "vneid",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._metrics = metrics
        self.breaker = breaker
        self._on_breaker_change = on_breaker_change
        self._upstream = upstream
        # The time between two reads bounded by the read timeout (as httpx's was), the wait for a free
        # connection by the read timeout plus the connection's own (httpx's pool timeout was the former).
        # Nothing here belongs to an event loop until a call opens a connection.
        self._wire = Connections(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            pool_timeout=read_timeout + connect_timeout,
            limit=_MAX_CONNECTIONS,
            keepalive=_KEEPALIVE_SECONDS,
            ssl_context=ssl_context,
        )
        # Each labelled series looked up once (prometheus-client's labels() takes a lock and builds a key).
        self._children: dict[tuple[Histogram, tuple[str, ...]], Histogram] = {}

    async def aclose(self) -> None:
        await self._wire.close()

    async def get_json(
        self, name: str, url: str, headers: dict[str, str] | None = None, retries: int = 1
    ) -> Any:
        """A GET whose answer must be JSON (refused otherwise)."""
        self.breaker.check()
        try:
            body = await self._get_with_retry(name, url, headers, retries)
        except UpstreamUnavailable:
            self._record(reached=False)
            raise
        self._record(reached=True)
        return body

    async def post_token(self, url: str, form: dict[str, str], authorization: str | None) -> tuple[int, Any]:
        """The code exchange (RFC 6749 §4.1.3): status and JSON body; UpstreamUnavailable on its failures.
        ``authorization``: the value of the Authorization header (client_secret_basic), if any."""
        self.breaker.check()
        encoded = urlencode(form).encode("ascii")
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if authorization:
            headers["Authorization"] = authorization
        for attempt in range(2):
            started = time.perf_counter()
            outcome = "error"
            try:
                status, content = await self._send("POST", url, headers, encoded)
                if status >= 500:
                    if attempt == 0:
                        continue
                    raise UpstreamUnavailable("token_exchange_failed", f"HTTP {status}")
                body = from_json(content)
                outcome = "ok" if status == 200 else "refused"
                self._record(reached=True)
                return status, body
            except (*_FAILURES, ValueError) as exc:
                # Unreachable, or answering HTML/garbage: its side. No retry: the code may be spent.
                self._record(reached=False)
                raise UpstreamUnavailable("token_exchange_failed", type(exc).__name__) from exc
            except UpstreamUnavailable:
                self._record(reached=False)
                raise
            finally:
                self._observe("token", outcome, started)
        raise AssertionError("unreachable")

    async def call_logout(self, url: str) -> bool:
        """A back-channel logout call (the URL carries the upstream's token): True when it answered 2xx/3xx."""
        started = time.perf_counter()
        outcome = "error"
        try:
            status, _ = await self._send("GET", url, None)
            outcome = "ok" if status < 400 else "refused"
            return status < 400
        except _FAILURES:
            return False
        finally:
            self._observe("logout", outcome, started)

    async def _get_with_retry(self, name: str, url: str, headers: dict[str, str] | None, retries: int) -> Any:
        for attempt in range(retries + 1):
            started = time.perf_counter()
            outcome = "error"
            try:
                status, content = await self._send("GET", url, headers)
                if status >= 500:
                    raise UpstreamUnavailable(f"{name}_failed", f"HTTP {status}")
                if status != 200:
                    raise UpstreamError(f"{name}_failed", f"HTTP {status}")
                body = from_json(content)
                outcome = "ok"
                return body
            except _FAILURES as exc:
                if attempt == retries:
                    raise UpstreamUnavailable(f"{name}_unreachable", type(exc).__name__) from exc
            except ValueError as exc:
                raise UpstreamUnavailable(f"{name}_failed", "not JSON") from exc
            finally:
                self._observe(name, outcome, started)
        raise AssertionError("unreachable")

    async def _send(
        self, method: str, url: str, headers: Mapping[str, str] | None, body: bytes | None = None
    ) -> tuple[int, bytes]:
        """One request, its whole answer read; timed per upstream × endpoint × outcome (``2xx``…,
        ``timeout``, ``unreachable``) from the start until the answer's head arrived."""
        sent = dict(headers or {})
        request_id = logs.request_id.get()
        if request_id is not None:
            sent["X-Request-ID"] = request_id
        endpoint = vneid_endpoint(method, url, sent)
        started = time.perf_counter()
        try:
            status, content, head_at = await self._wire.request(method, url, sent, body)
        except _FAILURES as exc:
            head = getattr(exc, "head", None)
            if head is not None:  # the answer's head arrived, then the connection failed
                self._observe_call(endpoint, f"{head[0] // 100}xx", started, head[1])
            else:
                self._observe_call(
                    endpoint, "timeout" if isinstance(exc, TimeoutError) else "unreachable", started
                )
            raise
        self._observe_call(endpoint, f"{status // 100}xx", started, head_at)
        return status, content

    def _observe_call(self, endpoint: str, outcome: str, started: float, ended: float | None = None) -> None:
        labels = (self._upstream, endpoint, outcome)
        ended = time.perf_counter() if ended is None else ended
        self._series(self._metrics.upstream_calls, labels).observe(ended - started)

    def _observe(self, endpoint: str, outcome: str, started: float) -> None:
        self._series(self._metrics.upstream_latency, (endpoint, outcome)).observe(
            time.perf_counter() - started
        )

    def _series(self, metric: Histogram, labels: tuple[str, ...]) -> Histogram:
        child = self._children.get((metric, labels))
        if child is None:
            child = self._children[metric, labels] = metric.labels(*labels)
        return child

    def _record(self, reached: bool) -> None:
        was_open = self.breaker.is_open
        if reached:
            self.breaker.record_success()
        else:
            self.breaker.record_failure()
        if self.breaker.is_open != was_open:  # the gauge over every upstream's breaker, only when it moves
            self._on_breaker_change()


def vneid_endpoint(method: str, url: str, headers: Mapping[str, str]) -> str:
    """The call's endpoint from the request alone, from a fixed vocabulary (bounded labels)."""
    path = urlsplit(url).path
    if path.endswith("/.well-known/openid-configuration"):
        return "discovery"
    if method == "POST":
        return "token"
    if any(name.lower() == "authorization" for name in headers):
        return "userinfo"
    if "jwks" in path or "certs" in path or path.endswith("/keys"):
        return "jwks"
    return "other"
