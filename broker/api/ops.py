"""Operations: Prometheus metrics, liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from broker.api.deps import RegistryDep
from broker.errors import StoreUnavailable, UpstreamError
from broker.metrics import CONTENT_TYPE_LATEST
from broker.store.key_encryption import KeyDecryptionError

router = APIRouter(tags=["operations"])


@router.get("/metrics")
async def metrics(registry: RegistryDep) -> Response:
    return Response(registry.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


@router.get("/healthz")
async def healthz() -> JSONResponse:
    """Liveness: the process answers (whatever the database or VNeID do: restarting would not help)."""
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
async def readyz(registry: RegistryDep) -> JSONResponse:
    """Readiness: the database answers, the signing keys load and decrypt (one per algorithm), and, with
    BROKER_READYZ_CHECKS_UPSTREAM, VNeID's metadata is at hand. 503 names the failing parts."""
    body: dict[str, Any] = {}
    failing: list[str] = []
    try:
        await registry.db.ping()
        body["database"] = "up"
    except (StoreUnavailable, OSError):
        body["database"] = "down"
        failing.append("database")
    try:
        ring = await registry.keyring()
        algorithms = ring.algorithms()
        for alg in algorithms:
            ring.signing_key(alg)
        if not algorithms:
            raise LookupError("no signing key")
        body["signing_keys"] = "ok"
        body["signing_algs"] = algorithms
    except (StoreUnavailable, OSError, KeyDecryptionError, LookupError):
        body["signing_keys"] = "unavailable"
        failing.append("signing_keys")
    if registry.settings.readyz_checks_upstream:
        try:
            for upstream in registry.upstreams:
                await upstream.check_ready()
            body["upstream_metadata"] = "ok"
        except UpstreamError:
            body["upstream_metadata"] = "unavailable"
            failing.append("upstream_metadata")
    if failing:
        return JSONResponse({"status": "unavailable", "failing": failing, **body}, status_code=503)
    return JSONResponse({"status": "ready", **body})
