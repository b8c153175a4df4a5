"""The refresh_token grant (RFC 6749 §6, OIDC Core §12) with rotation (RFC 9700 §4.14.2).

Every use spends the token in one conditional UPDATE: of parallel refreshes with one token exactly one
wins. A spent token presented again means it leaked (or a client misbehaves): the whole grant is revoked,
refresh and access tokens alike, and the error is answered after that revocation is committed. The grant's
absolute lifetime is carried unchanged to every new token; ``sub``, ``auth_time`` and ``acr`` stay those of
the original login.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from broker.errors import InvalidGrant, InvalidRequest, InvalidScope, UnauthorizedClient
from broker.login.ids import digest
from broker.login.issuance import check_may_issue_view
from broker.login.mint import Grant, may_refresh, mint
from broker.oidc import scopes
from broker.registry import Registry
from broker.store import grants, refresh_tokens
from broker.store.tables import Client


async def redeem(registry: Registry, client: Client, form: Mapping[str, str]) -> dict[str, Any]:
    presented = form.get("refresh_token")
    if not presented:
        raise InvalidRequest("refresh_token is required")
    if not may_refresh(client):
        raise UnauthorizedClient("the client is not registered for the refresh_token grant")
    token_hash = digest(presented)
    now = registry.clock()
    ring = await registry.keyring()
    reused = False
    async with registry.db.transaction() as session:
        spent_now = await refresh_tokens.spend_with_account(session, token_hash, client.client_id, now)
        if spent_now is None:
            spent = await refresh_tokens.get(session, token_hash)
            if spent is None or spent.client_id != client.client_id:
                raise InvalidGrant("the refresh token is invalid")
            if spent.rotated_at is None:
                raise InvalidGrant("the refresh token has expired or was revoked")
            await refresh_tokens.revoke_grant(session, spent.grant_id, now)
            await grants.revoke_grant(session, spent.grant_id, now)
            reused = True
        else:
            token, holder = spent_now
            scope = _narrowed_scope(token.scope, form.get("scope"))
            if holder is None:
                raise InvalidGrant("the account no longer exists")
            check_may_issue_view(registry, holder, now)
            grant = Grant(
                grant_id=token.grant_id,
                client=client,
                account=holder.account,
                roles=holder.roles,
                scope=scope,
                auth_time=token.auth_time,
                acr=token.acr,
                amr=list(token.amr),
                sid=token.sid,
            )
            response = await mint(
                registry,
                session,
                ring,
                grant,
                grant_type="refresh_token",
                refresh_expires_at=token.expires_at,
            )
    if reused:
        registry.metrics.token_errors.labels("refresh_token_reused").inc()
        raise InvalidGrant("the refresh token was already used; the grant is revoked")
    return response


def _narrowed_scope(granted: str, requested: str | None) -> str:
    """§6: a refresh may ask for fewer scopes than granted, never more."""
    if requested is None:
        return granted
    asked = scopes.parse(requested)
    if not set(asked) <= set(scopes.parse(granted)) or "openid" not in asked:
        raise InvalidScope("the requested scope exceeds the grant")
    return " ".join(dict.fromkeys(asked))
