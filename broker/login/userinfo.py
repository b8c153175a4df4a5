"""The userinfo endpoint's use case (OIDC Core §5.3) with Bearer tokens (RFC 6750)."""

from __future__ import annotations

from typing import Any

from broker.login.bearer import MissingToken, authenticate_bearer
from broker.login.token import account_claims
from broker.oidc import scopes
from broker.registry import Registry

__all__ = ["MissingToken", "claims"]  # MissingToken: the router tells a bare challenge apart


async def claims(registry: Registry, authorization: str | None) -> dict[str, Any]:
    context = await authenticate_bearer(registry, authorization)
    released = scopes.released_claims(context.record.scope, account_claims(context.account))
    return {"sub": context.account.sub, **released}
