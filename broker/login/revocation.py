"""Token revocation (RFC 7009).

§2.1: revoking a refresh token revokes its whole grant, access tokens included; revoking an access token
revokes that token. §2.2: an invalid, unknown or another client's token still answers 200, with no effect.
A revocation that could not be stored raises StoreUnavailable: the endpoint answers 503, never 200.
"""

from __future__ import annotations

from collections.abc import Mapping

import jwt

from broker.login import client_authentication
from broker.login.ids import digest, matches_digest
from broker.oidc import access_tokens, client_auth, revocation
from broker.registry import Registry
from broker.store import grants, refresh_tokens
from broker.store.tables import Client


async def revoke(registry: Registry, form: Mapping[str, str], authorization: str | None) -> None:
    client = await client_authentication.authenticate(
        registry, client_auth.credentials(authorization, form), f"{registry.settings.issuer}/revoke"
    )
    request = revocation.parse(form)
    if access_tokens.shape(request.token):
        await _revoke_access_token(registry, client, request.token)
    else:
        await _revoke_refresh_token(registry, client, request.token)


async def _revoke_access_token(registry: Registry, client: Client, token: str) -> None:
    issuer = registry.settings.issuer
    opaque = access_tokens.shape(token) == access_tokens.OPAQUE
    try:
        if opaque:
            # Only its row can say it is ours: its hash, checked below.
            jti = access_tokens.opaque_jti(token)
        else:
            ring = await registry.keyring()
            jti = str(ring.verify(token, audience=issuer, issuer=issuer, require=("jti",))["jti"])
    except (jwt.PyJWTError, ValueError):
        return
    async with registry.db.transaction() as session:
        record = await grants.get_access_token(session, jti)
        if record is None or record.client_id != client.client_id:
            return
        if opaque and not matches_digest(token, record.token_hash):
            return
        await grants.revoke_access_token(session, record.jti, registry.clock())


async def _revoke_refresh_token(registry: Registry, client: Client, token: str) -> None:
    now = registry.clock()
    async with registry.db.transaction() as session:
        record = await refresh_tokens.get(session, digest(token))
        if record is not None and record.client_id == client.client_id:
            await refresh_tokens.revoke_grant(session, record.grant_id, now)
            await grants.revoke_grant(session, record.grant_id, now)
