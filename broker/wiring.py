"""The registry of one process (database, upstreams, relying-party HTTP, keys, password pool), built
without the HTTP app: ``broker.app`` adds the app around it, and CLI commands import only this (the app's
modules cost ~0.35 s of every command's start-up, a tenth of ``report cleanup`` at a million accounts)."""

from __future__ import annotations

from datetime import timedelta

from broker.clock import Clock, system_clock
from broker.login.keys import KeyRingSource, KeyTiming
from broker.metrics import Metrics
from broker.observed_http import ObservedTransport, relying_party_endpoint
from broker.outbound import tls
from broker.outbound.endpoints import PublicAddressTransport
from broker.outbound.rp_http import ClientJwksCache, RelyingPartyHttp
from broker.password_pool import PasswordPool
from broker.registry import Registry
from broker.settings import Settings
from broker.store.clients import EnabledClients
from broker.store.database import Database
from broker.store.key_encryption import KeyEncryption
from broker.upstream.upstreams import build_upstreams

VERSION = "0.1.0"


def build_registry(
    settings: Settings,
    clock: Clock | None = None,
) -> Registry:
    clock = clock or system_clock
    metrics = Metrics()
    metrics.info.labels(VERSION).set(1)
    key_encryption = KeyEncryption.from_config(
        settings.key_encryption_key.get_secret_value() if settings.key_encryption_key else None,
        settings.key_encryption_key_file,
        settings.secret_key,
    )
    db = Database(
        settings.database_url,
        count_round_trips=settings.bench_count_round_trips,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout_seconds,
        metrics=metrics,
        key_encryption=key_encryption,
    )
    upstreams = build_upstreams(settings.upstream_configs(), clock, metrics, tls.client_context())
    rp_http = RelyingPartyHttp(
        settings.rp_connect_timeout_seconds,
        settings.rp_read_timeout_seconds,
        transport=ObservedTransport(None, metrics, "relying_party", relying_party_endpoint),
        push_transport=ObservedTransport(
            None if settings.ssf_push_allow_private_addresses else PublicAddressTransport(),
            metrics,
            "relying_party",
            relying_party_endpoint,
        ),
    )
    return Registry(
        settings=settings,
        clock=clock,
        db=db,
        upstreams=upstreams,
        metrics=metrics,
        keyring=KeyRingSource(db, clock, KeyTiming.from_settings(settings)),
        rp_http=rp_http,
        client_jwks=ClientJwksCache(rp_http, clock, timedelta(seconds=settings.client_jwks_cache_seconds)),
        enabled_clients=EnabledClients(db),
        passwords=PasswordPool(
            settings.password_hash_workers, settings.password_hash_queue, metrics.hash_queue
        ),
    )


async def close_registry(registry: Registry) -> None:
    registry.passwords.close()
    await registry.upstreams.aclose()
    await registry.rp_http.aclose()
    await registry.db.dispose()
