"""Step 1: an RP sends the browser to /authorize. Validate, then answer from the SSO session or open a
login flow (OIDC Core §3.1.2.1-§3.1.2.6)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from broker.clock import seconds
from broker.domain.login_flow import FlowState
from broker.errors import LoginRequired, OAuthError
from broker.login import issue_code, sso, vneid_start
from broker.login.ids import digest, new_token
from broker.login.mint import may_refresh
from broker.login.page import LoginPage
from broker.oidc import assurance, authorize, scopes
from broker.registry import Registry
from broker.store import flows
from broker.store.tables import Client, LoginFlow, SsoSession


@dataclass(frozen=True)
class RedirectToClient:
    url: str


async def start(
    registry: Registry, query: Sequence[tuple[str, str]], browser: str, session_cookie: str | None = None
) -> RedirectToClient | LoginPage:
    """Raises InvalidAuthorizationRequest when the client or redirect URI cannot be trusted."""
    client_ids = [value for name, value in query if name == "client_id"]
    client = await registry.enabled_clients.get(client_ids[0]) if len(client_ids) == 1 else None
    client_id, redirect_uri = authorize.trusted_redirect_uri(query, client.redirect_uris if client else None)
    assert client is not None
    issuer = registry.settings.issuer
    now = registry.clock()
    current = await sso.current_for_login(registry, session_cookie)
    try:
        request = authorize.parse(query, client_id, redirect_uri)
        min_level = assurance.required_level(
            request.acr_values, client.default_acr_values or [], client.minimum_acr
        )
        reason = sso.login_needed(current, request, min_level, now)
        if "none" in request.prompt and reason is not None:
            raise LoginRequired("the user must log in at the broker")
    except OAuthError as error:
        registry.metrics.logins.labels("authorize", error.error).inc()
        return RedirectToClient(authorize.error_url(redirect_uri, error, authorize.raw_state(query), issuer))
    flow_id = new_token()
    values: dict[str, Any] = {
        "id": flow_id,
        "browser_hash": digest(browser),
        "state": FlowState.STARTED,
        "client_id": request.client_id,
        "redirect_uri": request.redirect_uri,
        "scope": _scope_for(client, request.scope),
        "rp_state": request.state,
        "nonce": request.nonce,
        "code_challenge": request.code_challenge,
        "prompt": " ".join(sorted(request.prompt)) or None,
        "created_at": now,
        "expires_at": now + seconds(registry.settings.login_flow_ttl_seconds),
    }
    if reason is None:
        assert current is not None
        return RedirectToClient(await _answer_from_session(registry, LoginFlow(**values), current))
    force_login = reason in ("prompt_login", "max_age")
    prepared = await vneid_start.prepare(registry, flow_id, values["prompt"], min_level, force_login)
    if prepared is not None:  # pending at the upstream from the start: the page's button goes there
        values |= {"state": FlowState.UPSTREAM_PENDING, **prepared.columns()}
    # The rows, not the models: nothing else reads this flow in this request.
    await flows.add_alone(  # one statement, its own transaction
        registry.db,
        values,
        {
            "flow_id": flow_id,
            "min_level": min_level,
            "force_login": force_login,
            "prior_sid": current.sid if current is not None else None,
        },
    )
    # The page is this request's answer (as Keycloak's authorization endpoint answers with its form): a
    # redirect to it would cost the browser a request and the broker a read of the flow just written.
    form = None
    if prepared is not None:
        own = frozenset(value for name, value in prepared.fields if name in _FLOW_OWN) | {flow_id}
        form = (prepared.action, prepared.fields, own)
    return LoginPage(flow_id, client.name or client_id, form)


# The upstream request's parameters that differ from one flow to the next (the rest is configuration).
_FLOW_OWN = frozenset({"state", "nonce", "code_challenge"})


async def _answer_from_session(registry: Registry, flow: LoginFlow, current: SsoSession) -> str:
    """Single sign-on: a code at once, with the session's own login time and level."""
    flow.state = FlowState.AUTHENTICATED
    flow.account_id = current.account_id
    flow.auth_time = current.auth_time
    flow.acr = current.acr
    flow.amr = list(current.amr)
    async with registry.db.transaction() as session:
        await flows.add(session, flow)
        url = await issue_code.issue(registry, session, flow.id, sid=current.sid)
    registry.metrics.sessions.labels("reused").inc()
    return url


def _scope_for(client: Client, scope: str) -> str:
    """offline_access only for clients registered for refresh tokens (OIDC Core §11)."""
    if scopes.OFFLINE_ACCESS in scopes.parse(scope) and not may_refresh(client):
        return " ".join(item for item in scopes.parse(scope) if item != scopes.OFFLINE_ACCESS)
    return scope
