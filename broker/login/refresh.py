"""The refresh_token grant (RFC 6749 §6, OIDC Core §12) with rotation (RFC 9700 §4.14.2).

Every use spends the token in one conditional UPDATE: of parallel refreshes with one token exactly one
wins. A spent token presented again means it leaked (or a client misbehaves): the whole grant is revoked,
refresh and access tokens alike, and the error is answered after that revocation is committed. The grant's
absolute lifetime is carried unchanged to every new token; ``sub``, ``auth_time`` and ``acr`` stay those of
the original login.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NoReturn

from broker.errors import InvalidGrant, InvalidRequest, InvalidScope, UnauthorizedClient
from broker.login.ids import digest
from broker.login.issuance import check_may_issue_view
from broker.login.mint import Grant, may_refresh, mint
from broker.oidc import scopes
from broker.registry import Registry
from broker.store import grants, refresh_tokens
from broker.store.tables import Client, RefreshToken
from broker.store.token_views import AccountView


async def redeem(
    registry: Registry,
    client: Client,
    form: Mapping[str, str],
    found: tuple[RefreshToken, AccountView | None] | None,
) -> dict[str, Any]:
    """``found``: the presented token's row and account, read with the client (``refresh_tokens.client_and_token``)."""
    presented = form.get("refresh_token")
    if not presented:
        raise InvalidRequest("refresh_token is required")
    if not may_refresh(client):
        raise UnauthorizedClient("the client is not registered for the refresh_token grant")
    token_hash = digest(presented)
    now = registry.clock()
    ring = await registry.keyring()
    # Read and checked first (with the client), then spent with its successor written in the same
    # statement (refresh_tokens.rotate), which alone decides who wins: a refusal here writes nothing.
    if found is None or found[0].client_id != client.client_id:
        raise InvalidGrant("the refresh token is invalid")
    token, holder = found
    if token.rotated_at is not None:
        await _revoke_reused(registry, token.grant_id, now)
    if token.revoked_at is not None or token.expires_at <= now:
        raise InvalidGrant("the refresh token has expired or was revoked")
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
    minted = mint(registry, ring, grant, grant_type="refresh_token", refresh_expires_at=token.expires_at)
    assert minted.refresh_row is not None
    if not await refresh_tokens.rotate(
        registry.db, token_hash, client.client_id, now, minted.access_row, minted.refresh_row
    ):
        # Spent, revoked or expired between the read and now: which one, the database says.
        async with registry.db.read() as session:
            spent = await refresh_tokens.get(session, token_hash)
        if spent is None or spent.rotated_at is None:
            raise InvalidGrant("the refresh token has expired or was revoked")
        await _revoke_reused(registry, token.grant_id, now)
    minted.count(registry)
    return minted.response


async def _revoke_reused(registry: Registry, grant_id: str, now: datetime) -> NoReturn:
    """A spent token presented again: the whole grant is revoked, committed, then refused."""
    async with registry.db.transaction() as session:
        await refresh_tokens.revoke_grant(session, grant_id, now)
        await grants.revoke_grant(session, grant_id, now)
    registry.metrics.token_errors.labels("refresh_token_reused").inc()
    raise InvalidGrant("the refresh token was already used; the grant is revoked")


def _narrowed_scope(granted: str, requested: str | None) -> str:
    """§6: a refresh may ask for fewer scopes than granted, never more."""
    if requested is None:
        return granted
    asked = scopes.parse(requested)
    if not set(asked) <= set(scopes.parse(granted)) or "openid" not in asked:
        raise InvalidScope("the requested scope exceeds the grant")
    return " ".join(dict.fromkeys(asked))
