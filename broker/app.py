"""``create_app``: the one wiring point. Nothing is built at import time."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from broker import __doc__ as summary
from broker.admin import gauges
from broker.api import admin, console, errors, events, login, logout, oidc, ops, ssf
from broker.api.documents import PrebuiltDocuments
from broker.api.edge import Edge
from broker.api.lean import LeanApp
from broker.api.pages import Pages
from broker.clock import Clock
from broker.login import backchannel, ssf_push
from broker.login.keys import KeyRingSource, ensure_signing_keys, follow_rotations
from broker.settings import Settings
from broker.store.clients import follow_changes
from broker.wiring import VERSION, build_registry, close_registry


def create_app(
    settings: Settings | None = None,
    clock: Clock | None = None,
    *,
    freeze_heap: bool = False,
) -> FastAPI:
    """``freeze_heap``: for the process that owns the app (``broker serve``), never for an app one of
    many in a process (tests, embedding), whose garbage ``gc.freeze()`` would keep forever."""
    settings = settings or Settings()
    registry = build_registry(settings, clock)
    db = registry.db
    keyring = registry.keyring

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await ensure_signing_keys(db, registry.clock)
        keys = (
            asyncio.create_task(follow_rotations(db, keyring)) if isinstance(keyring, KeyRingSource) else None
        )
        clients = asyncio.create_task(follow_changes(registry.enabled_clients, db))
        worker = (
            asyncio.create_task(backchannel.run_worker(registry)) if settings.backchannel_worker else None
        )
        refresher = asyncio.create_task(gauges.run_refresher(registry))
        signals = asyncio.create_task(ssf_push.run_worker(registry)) if settings.ssf_worker else None
        # What start-up built (modules, routes, compiled statements, the key ring) lives as long as the
        # process: kept out of the collector's full passes, which walked all of it again and again
        # (7 % of userinfo's CPU in the profile, bench/README.md).
        if freeze_heap:
            gc.freeze()
            # A young collection walks whatever the requests in flight hold, however recently it last ran:
            # at Python's 700 allocations it ran several times per request, 3.5 % of a login's CPU under
            # load, and promoted their objects to be walked again. At 10,000, under 0.1 % (py-spy), for at
            # most that many container objects more waiting to be freed (bench/README.md, eighth round).
            gc.set_threshold(10_000, 10, 10)
        yield
        for task in (worker, keys, clients, refresher, signals):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await close_registry(registry)

    app = LeanApp(
        title="VNeID SSO broker",
        description=summary,
        version=VERSION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # FastAPI's own OpenTelemetry would look up the global providers on every request; the broker's
        # metrics are Prometheus (broker.metrics) and it configures no tracing.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.registry = registry
    app.state.pages = Pages(
        settings.default_language,
        settings.secure_cookies,
        settings.citizen_vneid_only_from,
        auto_reload=settings.reload_templates,
    )
    # The requests broker.api.lean answers before the routing pass through all of these layers, and only
    # them (LeanApp).
    if settings.trusted_proxy_list:
        # X-Forwarded-For names the client only when the connection comes from a trusted proxy; the
        # server's own proxy handling is off (`broker serve`), so this setting alone decides.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list)
    # Inside the edge, outside the routing: see broker.api.documents.
    app.add_middleware(PrebuiltDocuments, registry=registry)
    # Outermost: every answer has an id and the security headers, every body its cap, every bug its 500.
    app.add_middleware(
        Edge,
        metrics=registry.metrics,
        max_body_bytes=settings.max_form_bytes,
        count_round_trips=settings.bench_count_round_trips,
    )
    errors.install(app)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    for router in (
        oidc.router,
        login.router,
        logout.router,
        ops.router,
        admin.router,
        events.router,
        console.router,
        ssf.router,
    ):
        app.include_router(router)
    return app


def create_app_from_environment() -> FastAPI:
    """For ``uvicorn --factory broker.app:create_app_from_environment`` (logs set up as `broker serve` does)."""
    from broker import logs

    settings = Settings()
    logs.configure(settings.log_level, settings.log_format)
    return create_app(settings)
