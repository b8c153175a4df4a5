"""Bearer access tokens the broker issued (RFC 6750), checked for every resource that takes one.

A token is accepted when it is the one stored (its SHA-256 is its row's, the row found by the ``jti`` it
names; a JWT issued before migration 0015 by its signature), its issuer and audience are the broker's, it
has not expired and its row is still active. A JWT's roles (RFC 9068) count only while the account still
holds them in the database, so a revoked role stops working at once, even with an unexpired token; an
opaque token (``broker.oidc.access_tokens``) carries none, and the roles are those the account holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt

from broker.errors import InvalidRequest, InvalidToken, OAuthError
from broker.login.ids import matches_digest
from broker.login.issuance import may_issue_view
from broker.oidc import access_tokens
from broker.oidc.keys import KeyRing, unverified_claims
from broker.registry import Registry
from broker.store import token_views
from broker.store.tables import AccessToken, Account
from broker.store.token_views import AccessTokenView, TokenClient


class MissingToken(InvalidToken):
    """RFC 6750 §3.1: a request with no credentials gets a bare challenge, without an error code."""


@dataclass(frozen=True)
class BearerContext:
    payload: dict[str, Any]  # the verified claims
    record: AccessToken  # the stored token: its scope and client are authoritative
    account: Account
    roles: frozenset[str]  # in the token AND still held in the database
    client: TokenClient | None = None  # the token's client, None once it is disabled


def bearer_token(authorization: str | None) -> str:
    """RFC 6750 §2.1: ``Authorization: Bearer <token>``; any other scheme counts as no credentials."""
    if authorization is None:
        raise MissingToken()
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        raise MissingToken()
    token = token.strip()
    if not token or " " in token:
        raise InvalidRequest("malformed Authorization header")
    return token


async def authenticate_bearer(registry: Registry, authorization: str | None) -> BearerContext:
    token = bearer_token(authorization)
    ring = await registry.keyring()
    now = registry.clock()
    issuer = registry.settings.issuer
    try:
        # The row first (by the jti the token names), then the token checked against it.
        unverified, jti = named(token)
        view = await token_views.access_token_view(registry.db, jti)
        payload = issued_claims(
            ring, token, view, unverified=unverified, audience=issuer, issuer=issuer, require=_REQUIRED
        )
    except (jwt.PyJWTError, ValueError) as exc:
        raise InvalidToken("the access token is invalid") from exc
    # Expiry against the broker's clock, not PyJWT's, so that time can be fixed in tests.
    if float(payload["exp"]) <= now.timestamp():
        raise InvalidToken("the access token has expired")
    if view is None or view.token.revoked_at is not None:
        raise InvalidToken("the access token is not active")
    if not may_issue_view(registry, view.holder, now).allowed:
        # Frozen, merged or disabled since the token was issued: nothing more is released.
        raise InvalidToken("the access token is not active")
    held = set(view.holder.roles)
    return BearerContext(
        payload, view.token, view.holder.account, frozenset(_token_roles(payload) & held), view.client
    )


_REQUIRED = ("exp", "jti", "sub")  # of a JWT


def named(token: str) -> tuple[dict[str, Any], str]:
    """The claims an access token shows (none, for an opaque one) and the ``jti`` it names, before anything
    about it is verified: only to find its row. Raises ValueError or jwt.PyJWTError for anything else."""
    if access_tokens.shape(token) == access_tokens.OPAQUE:
        return {}, access_tokens.opaque_jti(token)
    unverified = unverified_claims(token)
    return unverified, named_jti(unverified)


def issued_claims(
    ring: KeyRing,
    token: str,
    view: AccessTokenView | None,
    *,
    unverified: dict[str, Any],
    issuer: str,
    audience: str,
    require: tuple[str, ...],
) -> dict[str, Any]:
    """The claims of an access token the broker issued, given its row (``view``, by the jti it names).

    A JWT: ``KeyRing.verify_issued`` (its hash against the stored one). An opaque token says nothing
    itself: it counts only if its hash is the stored one, and its claims are its row's, as the broker
    wrote them. Raises jwt.PyJWTError when it is not a token the broker issued."""
    stored_hash = view.token.token_hash if view is not None else None
    if access_tokens.shape(token) != access_tokens.OPAQUE:
        return ring.verify_issued(
            token, stored_hash, unverified=unverified, audience=audience, issuer=issuer, require=require
        )
    if view is None or not matches_digest(token, stored_hash):
        raise jwt.InvalidTokenError("not the token issued")
    record = view.token
    return {
        "iss": issuer,
        "aud": audience,
        "jti": record.jti,
        "client_id": record.client_id,
        "scope": record.scope,
        "iat": int(record.created_at.timestamp()),
        "exp": int(record.expires_at.timestamp()),
        "roles": list(view.holder.roles),
        **({"acr": record.acr} if record.acr else {}),
    }


def named_jti(unverified: dict[str, Any]) -> str:
    """The ``jti`` a token names, before anything about it is verified: only to find its row."""
    jti = unverified.get("jti")
    if not isinstance(jti, str):
        raise jwt.InvalidTokenError("no jti")
    return jti


def _token_roles(payload: dict[str, Any]) -> set[str]:
    claimed = payload.get("roles")
    if not isinstance(claimed, list):
        return set()
    return {role for role in claimed if isinstance(role, str)}


def challenge(error: OAuthError | None = None) -> str:
    """RFC 6750 §3: the challenge names the error; descriptions are ours, so no quoting hazards."""
    if error is None:
        return 'Bearer realm="broker"'
    value = f'Bearer realm="broker", error="{error.error}"'
    if error.description:
        value += f', error_description="{error.description}"'
    return value
