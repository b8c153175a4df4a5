"""The account-event feed for relying parties (``broker.login.events``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from broker.api.deps import RegistryDep
from broker.errors import InvalidClient, OAuthError, StoreUnavailable
from broker.login import events

router = APIRouter(tags=["events"])

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# RFC 9745: deprecated since this release (2026-11-26T00:00:00Z); the successor is the SSF transmitter.
DEPRECATION = "@1795651200"

_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": "after",
        "in": "query",
        "required": False,
        "description": "cursor: the last event id already read (default 0: from the start)",
        "schema": {"type": "integer", "minimum": 0, "default": 0},
    },
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": f"at most this many events (1 to {events.MAX_LIMIT})",
        "schema": {
            "type": "integer",
            "minimum": 1,
            "maximum": events.MAX_LIMIT,
            "default": events.DEFAULT_LIMIT,
        },
    },
]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "`events` (`id`, `type`, `sub`, `data`, `created_at`) and `next_cursor`"},
    400: {"description": "`invalid_request`: a bad or repeated `after` or `limit`"},
    401: {"description": "`invalid_client`: HTTP Basic client authentication (client_secret_basic) failed"},
}


@router.get("/events", openapi_extra={"parameters": _PARAMETERS}, responses=_RESPONSES, deprecated=True)
async def read_events(request: Request, registry: RegistryDep) -> JSONResponse:
    """Deprecated (kept for one release): the Shared Signals transmitter at
    `/.well-known/ssf-configuration` delivers the same events. Account events after a cursor, oldest
    first, in commit order; HTTP Basic client authentication.

    Types: `account.linked`, `account.merged` (data: `surviving_sub`, `retired_sub`), `account.frozen`,
    `account.unfrozen`."""
    response = await _read(request, registry)
    response.headers["Deprecation"] = DEPRECATION
    response.headers["Link"] = (
        f'<{registry.settings.issuer}/.well-known/ssf-configuration>; rel="successor-version"'
    )
    return response


async def _read(request: Request, registry: RegistryDep) -> JSONResponse:
    try:
        page = await events.read(
            registry, request.headers.get("authorization"), request.query_params.multi_items()
        )
    except StoreUnavailable:
        return JSONResponse({"error": "temporarily_unavailable"}, status_code=503, headers=NO_STORE)
    except OAuthError as error:
        headers = dict(NO_STORE)
        if isinstance(error, InvalidClient):
            headers["WWW-Authenticate"] = 'Basic realm="broker"'
        return JSONResponse(error.body(), status_code=error.status_code, headers=headers)
    return JSONResponse(page, headers=NO_STORE)
