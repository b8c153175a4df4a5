"""What the use cases need, built once by ``broker.app.create_app`` (ORY Hydra's registry)."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from broker.clock import Clock
from broker.metrics import Metrics
from broker.oidc.keys import KeyRing
from broker.outbound.rp_http import ClientJwksCache, RelyingPartyHttp
from broker.password_pool import PasswordPool
from broker.settings import Settings
from broker.store.clients import EnabledClients
from broker.store.database import Database
from broker.upstream.upstreams import Upstreams


@functools.lru_cache(maxsize=32)
def _derive(secret_key: str, purpose: str) -> bytes:
    # Asked on every answer that carries a pairwise subject or checks a client secret: derived once.
    return hmac.new(secret_key.encode(), purpose.encode(), hashlib.sha256).digest()


@dataclass
class Registry:
    settings: Settings
    clock: Clock
    db: Database
    upstreams: Upstreams
    metrics: Metrics
    keyring: Callable[[], Awaitable[KeyRing]]
    rp_http: RelyingPartyHttp
    client_jwks: ClientJwksCache
    # The enabled clients /authorize reads, while this process hears of every change (PostgreSQL).
    enabled_clients: EnabledClients
    # Set when a logout queued back-channel deliveries, so this replica's worker starts at once.
    backchannel_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    # Password hashing in bounded worker threads (issue 8): never on the event loop.
    passwords: PasswordPool = field(default_factory=PasswordPool)

    @property
    def vneid(self) -> Upstreams:
        """The upstreams by their first name (scripts and tests close them as ``registry.vneid``)."""
        return self.upstreams

    def derived_key(self, purpose: str) -> bytes:
        """A key per purpose from BROKER_SECRET_KEY, so one leak does not open the others."""
        return _derive(self.settings.secret_key, purpose)
