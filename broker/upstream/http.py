"""Calls to one upstream: every call bounded by connect and read timeouts, timed in the metrics, and
counted by that upstream's circuit breaker. Idempotent GETs get one retry on a network failure; the code
exchange gets one retry on a 5xx only (the upstream failed before using the code, or the retry is refused
as a replay: never a second login), none on a timeout (the code may have been spent)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from broker.errors import UpstreamError
from broker.metrics import Metrics
from broker.upstream.breaker import CircuitBreaker, UpstreamUnavailable


class UpstreamHttp:
    def __init__(
        self,
        *,
        metrics: Metrics,
        breaker: CircuitBreaker,
        connect_timeout: float,
        read_timeout: float,
        on_breaker_change: Callable[[], None],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._metrics = metrics
        self.breaker = breaker
        self._on_breaker_change = on_breaker_change
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

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

    async def post_token(
        self, url: str, form: dict[str, str], auth: httpx.BasicAuth | None
    ) -> tuple[int, Any]:
        """The code exchange (RFC 6749 §4.1.3): status and JSON body; UpstreamUnavailable on its failures."""
        self.breaker.check()
        for attempt in range(2):
            started = time.perf_counter()
            outcome = "error"
            try:
                response = await self._client.post(url, data=form, auth=auth or httpx.USE_CLIENT_DEFAULT)
                if response.status_code >= 500:
                    if attempt == 0:
                        continue
                    raise UpstreamUnavailable("token_exchange_failed", f"HTTP {response.status_code}")
                body = response.json()
                outcome = "ok" if response.status_code == 200 else "refused"
                self._record(reached=True)
                return response.status_code, body
            except (httpx.TransportError, httpx.TimeoutException, ValueError) as exc:
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
            response = await self._client.get(url)
            outcome = "ok" if response.status_code < 400 else "refused"
            return response.status_code < 400
        except (httpx.TransportError, httpx.TimeoutException):
            return False
        finally:
            self._observe("logout", outcome, started)

    async def _get_with_retry(self, name: str, url: str, headers: dict[str, str] | None, retries: int) -> Any:
        for attempt in range(retries + 1):
            started = time.perf_counter()
            outcome = "error"
            try:
                response = await self._client.get(url, headers=headers)
                if response.status_code >= 500:
                    raise UpstreamUnavailable(f"{name}_failed", f"HTTP {response.status_code}")
                if response.status_code != 200:
                    raise UpstreamError(f"{name}_failed", f"HTTP {response.status_code}")
                body = response.json()
                outcome = "ok"
                return body
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                if attempt == retries:
                    raise UpstreamUnavailable(f"{name}_unreachable", type(exc).__name__) from exc
            except ValueError as exc:
                raise UpstreamUnavailable(f"{name}_failed", "not JSON") from exc
            finally:
                self._observe(name, outcome, started)
        raise AssertionError("unreachable")

    def _observe(self, endpoint: str, outcome: str, started: float) -> None:
        self._metrics.upstream_latency.labels(endpoint, outcome).observe(time.perf_counter() - started)

    def _record(self, reached: bool) -> None:
        if reached:
            self.breaker.record_success()
        else:
            self.breaker.record_failure()
        self._on_breaker_change()
