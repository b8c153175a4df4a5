"""Operations: Prometheus metrics, liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from broker.api.deps import RegistryDep
from broker.errors import StoreUnavailable

router = APIRouter(tags=["operations"])


@router.get("/metrics")
async def metrics(registry: RegistryDep) -> Response:
    return Response(generate_latest(registry.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/healthz")
async def healthz() -> JSONResponse:
    """Liveness: the process answers."""
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
async def readyz(registry: RegistryDep) -> JSONResponse:
    """Readiness: the database answers and signing keys are loaded."""
    try:
        await registry.db.ping()
        ring = await registry.keyring()
    except (StoreUnavailable, OSError):
        return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
    return JSONResponse({"status": "ready", "database": "up", "signing_algs": ring.algorithms()})
