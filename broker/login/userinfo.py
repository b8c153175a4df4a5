"""The userinfo endpoint's use case (OIDC Core §5.3) with Bearer tokens (RFC 6750)."""

from __future__ import annotations

from typing import Any

from broker.errors import InvalidToken
from broker.login import subjects
from broker.login.bearer import MissingToken, authenticate_bearer
from broker.login.mint import account_claims
from broker.oidc import scopes
from broker.registry import Registry

__all__ = ["MissingToken", "claims"]  # MissingToken: the router tells a bare challenge apart


async def claims(registry: Registry, authorization: str | None) -> dict[str, Any]:
    context = await authenticate_bearer(registry, authorization)
    client = context.client  # read with the token, in the same statement
    if client is None:
        raise InvalidToken("the access token is not active")
    return {
        "sub": subjects.for_client(registry, client, context.account),
        **scopes.released_claims(context.record.scope, account_claims(context.account)),
    }
