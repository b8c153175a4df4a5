"""Step 1: an RP sends the browser to /authorize. Validate, then open a login flow or answer at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from broker.domain.login_flow import FlowState
from broker.errors import LoginRequired, OAuthError
from broker.login.ids import digest, new_token
from broker.oidc import authorize
from broker.registry import Registry
from broker.store import clients, flows
from broker.store.tables import LoginFlow


@dataclass(frozen=True)
class RedirectToClient:
    url: str


@dataclass(frozen=True)
class ShowLoginPage:
    flow_id: str


async def start(
    registry: Registry, query: Sequence[tuple[str, str]], browser: str
) -> RedirectToClient | ShowLoginPage:
    """Raises InvalidAuthorizationRequest when the client or redirect URI cannot be trusted."""
    client_ids = [value for name, value in query if name == "client_id"]
    async with registry.db.read() as session:
        client = await clients.get(session, client_ids[0]) if len(client_ids) == 1 else None
    client_id, redirect_uri = authorize.trusted_redirect_uri(query, client.redirect_uris if client else None)
    issuer = registry.settings.issuer
    try:
        request = authorize.parse(query, client_id, redirect_uri)
        if "none" in request.prompt:
            # No broker session can exist yet, so silent authentication always needs a login.
            raise LoginRequired("the user is not logged in at the broker")
    except OAuthError as error:
        registry.metrics.logins.labels("authorize", error.error).inc()
        return RedirectToClient(authorize.error_url(redirect_uri, error, authorize.raw_state(query), issuer))
    now = registry.clock()
    flow = LoginFlow(
        id=new_token(),
        browser_hash=digest(browser),
        state=FlowState.STARTED,
        client_id=request.client_id,
        redirect_uri=request.redirect_uri,
        scope=request.scope,
        rp_state=request.state,
        nonce=request.nonce,
        code_challenge=request.code_challenge,
        prompt=" ".join(sorted(request.prompt)) or None,
        created_at=now,
        expires_at=now + timedelta(seconds=registry.settings.login_flow_ttl_seconds),
    )
    async with registry.db.transaction() as session:
        await flows.add(session, flow)
    return ShowLoginPage(flow.id)
