"""Discovery and JWKS answered from their prebuilt bytes before FastAPI's routing (issue 7).

They are the most requested documents and the same bytes for everyone until the key ring changes;
routing, the request object and the endpoint call were most of their cost in the profile. This layer
sits inside the edge (``broker.api.edge``), so the answers still carry their request id,
security headers, metrics and log line. Anything else (another method, a failing key ring) goes on to
the routes in ``broker.api.oidc``, which answer the same documents the ordinary way.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from broker.oidc import discovery
from broker.registry import Registry

DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/jwks"
_JSON = (b"content-type", b"application/json")
_DISCOVERY_CACHE = (b"cache-control", b"public, max-age=3600")


@dataclass(frozen=True)
class PrebuiltRoute:
    """What the edge's observation reads of a matched route: its template."""

    path: str


_ROUTES = {DISCOVERY_PATH: PrebuiltRoute(DISCOVERY_PATH), JWKS_PATH: PrebuiltRoute(JWKS_PATH)}


class PrebuiltDocuments:
    def __init__(self, app: ASGIApp, registry: Registry) -> None:
        self.app = app
        self.registry = registry
        # Cacheable, but never longer than a new key is published before it signs (see broker.login.keys).
        self._jwks_cache = (
            b"cache-control",
            f"public, max-age={registry.settings.jwks_max_age_seconds}".encode(),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = _ROUTES.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "GET" else None
        if route is None or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        try:
            ring = await self.registry.keyring()
        except Exception:
            # The routes meet the same failure and answer it as every other error is answered.
            await self.app(scope, receive, send)
            return
        if route.path == JWKS_PATH:
            body, cache = ring.jwks_bytes, self._jwks_cache
        else:
            body = discovery.metadata_bytes(self.registry.settings.issuer, tuple(ring.algorithms()))
            cache = _DISCOVERY_CACHE
        scope["route"] = route
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [_JSON, (b"content-length", str(len(body)).encode()), cache],
            }
        )
        await send({"type": "http.response.body", "body": body})
