"""The configured upstreams, built once at start-up: one adapter, one HTTP client and one circuit
breaker each. The first is the default (the login page's first button, and the one chosen when a form
names none)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from datetime import timedelta

from broker.clock import Clock
from broker.metrics import Metrics
from broker.upstream.adapters.base import UpstreamAdapter
from broker.upstream.adapters.oauth2_userinfo import OAuth2UserinfoAdapter
from broker.upstream.adapters.oidc import OidcAdapter
from broker.upstream.adapters.vneid_gateway import VneidGatewayAdapter
from broker.upstream.breaker import CircuitBreaker
from broker.upstream.config import UpstreamConfig
from broker.upstream.gateway_crypto import GatewayCipher, load_private_key
from broker.upstream.http import UpstreamHttp


class Upstreams:
    def __init__(self, adapters: list[UpstreamAdapter]) -> None:
        self._adapters = {adapter.id: adapter for adapter in adapters}
        self.default = adapters[0]
        # The login page's one upstream button can be prepared with the page (broker.login.vneid_start).
        self.only = adapters[0] if len(adapters) == 1 else None

    def __iter__(self) -> Iterator[UpstreamAdapter]:
        return iter(self._adapters.values())

    def get(self, upstream_id: str | None) -> UpstreamAdapter | None:
        return self.default if upstream_id is None else self._adapters.get(upstream_id)

    async def aclose(self) -> None:
        for adapter in self:
            await adapter.aclose()


def build_upstreams(
    configs: list[UpstreamConfig],
    clock: Clock,
    metrics: Metrics,
    ssl_context: ssl.SSLContext | None = None,
) -> Upstreams:
    """Keys are read here, once: a gateway key that cannot load stops the start-up. Each upstream's calls
    are labelled in the metrics by its id; ``ssl_context`` verifies the upstreams' servers."""
    breakers: list[CircuitBreaker] = []

    def publish() -> None:
        metrics.upstream_circuit_open.set(1 if any(breaker.is_open for breaker in breakers) else 0)

    adapters: list[UpstreamAdapter] = []
    for config in configs:
        breaker = CircuitBreaker(
            clock, config.breaker_failures, timedelta(seconds=config.breaker_cooldown_seconds)
        )
        breakers.append(breaker)
        http = UpstreamHttp(
            metrics=metrics,
            breaker=breaker,
            connect_timeout=config.connect_timeout_seconds,
            read_timeout=config.read_timeout_seconds,
            on_breaker_change=publish,
            upstream=config.id,
            ssl_context=ssl_context,
        )
        adapters.append(_adapter(config, http, clock))
    return Upstreams(adapters)


def _adapter(config: UpstreamConfig, http: UpstreamHttp, clock: Clock) -> UpstreamAdapter:
    if config.type == "oidc":
        return OidcAdapter(config, http, clock)
    if config.type == "oauth2-userinfo":
        return OAuth2UserinfoAdapter(config, http)
    key = load_private_key(config.private_key_file, config.private_key_pem)
    return VneidGatewayAdapter(config, http, GatewayCipher(key, config.cipher_mode))
