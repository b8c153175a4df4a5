"""Token introspection (RFC 7662) for the relying parties' own tokens.

The caller authenticates (§2.1); a token it did not receive is ``active: false``, exactly like an unknown
one, so a client learns nothing about other clients' tokens. The account must still be allowed tokens
(broker.login.issuance), so a frozen account's tokens go inactive at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jwt

from broker.login import client_authentication, subjects
from broker.login.bearer import issued_claims, named
from broker.login.ids import digest
from broker.login.issuance import may_issue_view
from broker.oidc import access_tokens, client_auth, introspection, revocation
from broker.registry import Registry
from broker.store import refresh_tokens, token_views
from broker.store.tables import Client


async def introspect(
    registry: Registry, form: Mapping[str, str], authorization: str | None
) -> dict[str, Any]:
    issuer = registry.settings.issuer
    credentials = client_auth.credentials(authorization, form)
    token = form.get("token") or ""
    named = _named_access_token(token) if access_tokens.shape(token) else None
    if named is None:
        client = await client_authentication.authenticate(
            registry, credentials, f"{issuer}/introspect", allow_public=False
        )
        return await _refresh_token(registry, client, revocation.parse(form).token)
    # An access token: the caller and the token read in one round trip (issue 7).
    unverified, jti = named
    found, view = await token_views.caller_and_access_token(registry.db, credentials.client_id, jti)
    caller = await client_authentication.authenticate_found(
        registry, credentials, found, f"{issuer}/introspect", allow_public=False
    )
    return await _access_token(registry, caller, token, unverified, view)


def _named_access_token(token: str) -> tuple[dict[str, Any], str] | None:
    """The claims a token shows and the ``jti`` it names, unverified; None when it names none: not one of
    ours, inactive like any other unknown token (``_refresh_token``)."""
    try:
        return named(token)
    except (jwt.PyJWTError, ValueError):
        return None


async def _access_token(
    registry: Registry,
    client: token_views.Caller,
    token: str,
    unverified: dict[str, Any],
    view: token_views.AccessTokenView | None,
) -> dict[str, Any]:
    issuer = registry.settings.issuer
    ring = await registry.keyring()
    now = registry.clock()
    try:
        claims = issued_claims(
            ring, token, view, unverified=unverified, audience=issuer, issuer=issuer, require=("jti", "exp")
        )
    except (jwt.PyJWTError, ValueError):
        return dict(introspection.INACTIVE)
    if view is None or view.token.client_id != client.client_id:
        return dict(introspection.INACTIVE)
    record, account = view.token, view.holder.account
    if record.revoked_at is not None or record.expires_at <= now:
        return dict(introspection.INACTIVE)
    if not may_issue_view(registry, view.holder, now).allowed:
        return dict(introspection.INACTIVE)
    return introspection.active_response(
        issuer=issuer,
        client_id=record.client_id,
        sub=subjects.for_client(registry, client, account),
        scope=record.scope,
        token_type="Bearer",
        issued_at=record.created_at,
        expires_at=record.expires_at,
        sid=record.sid,
        acr=claims.get("acr") if isinstance(claims.get("acr"), str) else None,
    )


async def _refresh_token(registry: Registry, client: Client, token: str) -> dict[str, Any]:
    now = registry.clock()
    found = await refresh_tokens.with_account(registry.db, digest(token))
    if found is None or found[0].client_id != client.client_id:
        return dict(introspection.INACTIVE)
    record, holder = found
    if record.rotated_at is not None or record.revoked_at is not None or record.expires_at <= now:
        return dict(introspection.INACTIVE)
    if holder is None or not may_issue_view(registry, holder, now).allowed:
        return dict(introspection.INACTIVE)
    account = holder.account
    return introspection.active_response(
        issuer=registry.settings.issuer,
        client_id=record.client_id,
        sub=subjects.for_client(registry, client, account),
        scope=record.scope,
        token_type="refresh_token",
        issued_at=record.created_at,
        expires_at=record.expires_at,
        sid=record.sid,
        acr=record.acr,
        auth_time=record.auth_time,
    )
