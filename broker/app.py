"""``create_app``: the one wiring point. Nothing is built at import time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from broker import __doc__ as summary
from broker.api import admin, errors, events, login, logout, oidc, ops
from broker.api.headers import SecurityHeaders
from broker.api.limits import BodySizeLimit
from broker.api.pages import Pages
from broker.clock import Clock, system_clock
from broker.login import backchannel
from broker.login.keys import KeyRingSource, KeyTiming, ensure_signing_keys
from broker.metrics import Metrics
from broker.outbound.rp_http import ClientJwksCache, RelyingPartyHttp
from broker.password_pool import PasswordPool
from broker.registry import Registry
from broker.settings import Settings
from broker.store.database import Database
from broker.upstream.breaker import CircuitBreaker
from broker.upstream.vneid import VNeIDClient

VERSION = "0.1.0"


def build_registry(
    settings: Settings,
    clock: Clock | None = None,
    upstream_transport: httpx.AsyncBaseTransport | None = None,
) -> Registry:
    clock = clock or system_clock
    metrics = Metrics()
    metrics.info.labels(VERSION).set(1)
    db = Database(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout_seconds,
    )
    vneid = VNeIDClient(
        issuer=settings.vneid_issuer,
        client_id=settings.vneid_client_id,
        client_secret=settings.vneid_client_secret,
        redirect_uri=f"{settings.issuer}/login/vneid/callback",
        scope=settings.vneid_scope,
        clock=clock,
        metrics=metrics,
        connect_timeout=settings.vneid_connect_timeout_seconds,
        read_timeout=settings.vneid_read_timeout_seconds,
        leeway=timedelta(seconds=settings.vneid_leeway_seconds),
        jwks_min_refetch=timedelta(seconds=settings.vneid_jwks_min_refetch_seconds),
        metadata_ttl=timedelta(seconds=settings.vneid_metadata_ttl_seconds),
        breaker=CircuitBreaker(
            clock, settings.vneid_breaker_failures, timedelta(seconds=settings.vneid_breaker_cooldown_seconds)
        ),
        transport=upstream_transport,
    )
    rp_http = RelyingPartyHttp(settings.rp_connect_timeout_seconds, settings.rp_read_timeout_seconds)
    return Registry(
        settings=settings,
        clock=clock,
        db=db,
        vneid=vneid,
        metrics=metrics,
        keyring=KeyRingSource(db, clock, KeyTiming.from_settings(settings)),
        rp_http=rp_http,
        client_jwks=ClientJwksCache(rp_http, clock, timedelta(seconds=settings.client_jwks_cache_seconds)),
        passwords=PasswordPool(settings.password_hash_workers, settings.password_hash_queue),
    )


async def close_registry(registry: Registry) -> None:
    registry.passwords.close()
    await registry.vneid.aclose()
    await registry.rp_http.aclose()
    await registry.db.dispose()


def create_app(
    settings: Settings | None = None,
    clock: Clock | None = None,
    upstream_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    settings = settings or Settings()
    registry = build_registry(settings, clock, upstream_transport)
    db = registry.db

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await ensure_signing_keys(db, registry.clock)
        worker = (
            asyncio.create_task(backchannel.run_worker(registry)) if settings.backchannel_worker else None
        )
        yield
        if worker is not None:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        await close_registry(registry)

    app = FastAPI(
        title="VNeID SSO broker",
        description=summary,
        version=VERSION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.registry = registry
    app.state.pages = Pages(settings.default_language, settings.secure_cookies)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_form_bytes)
    if settings.trusted_proxy_list:
        # X-Forwarded-For names the client only when the connection comes from a trusted proxy; the
        # server's own proxy handling is off (`broker serve`), so this setting alone decides.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list)
    app.add_middleware(SecurityHeaders)
    errors.install(app)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    for router in (oidc.router, login.router, logout.router, ops.router, admin.router, events.router):
        app.include_router(router)
    return app


def create_app_from_environment() -> FastAPI:
    """For ``uvicorn --factory broker.app:create_app_from_environment``."""
    return create_app(Settings())
