"""The userinfo endpoint's use case (OIDC Core §5.3) with Bearer tokens (RFC 6750)."""

from __future__ import annotations

from typing import Any

import jwt

from broker.errors import InvalidRequest, InvalidToken
from broker.login import subjects
from broker.login.mint import account_claims
from broker.oidc import scopes
from broker.registry import Registry
from broker.store import accounts, clients, grants


class MissingToken(InvalidToken):
    """RFC 6750 §3.1: a request with no credentials gets a bare challenge, without an error code."""


def bearer_token(authorization: str | None) -> str:
    if authorization is None:
        raise MissingToken()
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        raise MissingToken()
    token = token.strip()
    if not token or " " in token:
        raise InvalidRequest("malformed Authorization header")
    return token


async def claims(registry: Registry, authorization: str | None) -> dict[str, Any]:
    token = bearer_token(authorization)
    ring = await registry.keyring()
    now = registry.clock()
    try:
        payload = ring.verify(
            token,
            audience=registry.settings.issuer,
            issuer=registry.settings.issuer,
            options={"require": ["exp", "jti", "sub"], "verify_exp": False, "verify_iat": False},
        )
    except (jwt.PyJWTError, ValueError) as exc:
        raise InvalidToken("the access token is invalid") from exc
    if float(payload["exp"]) <= now.timestamp():
        raise InvalidToken("the access token has expired")
    async with registry.db.read() as session:
        record = await grants.get_access_token(session, str(payload["jti"]))
        if record is None or record.revoked_at is not None:
            raise InvalidToken("the access token is not active")
        account = await accounts.get(session, record.account_id)
        client = await clients.get_enabled(session, record.client_id)
    if account is None or client is None:
        raise InvalidToken("the access token is not active")
    return {
        "sub": subjects.for_client(registry, client, account),
        **scopes.released_claims(record.scope, account_claims(account)),
    }
