"""Verification of a private_key_jwt client assertion (RFC 7523 §3, OIDC Core §9).

iss = sub = client_id; ``aud`` names this authorization server (its issuer or token endpoint); ``exp`` is
required and must be near; ``jti`` is required (its single use is the store's job); only asymmetric
algorithms, and only keys the client registered (never a key named by the token itself).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from broker.errors import InvalidClient

ASYMMETRIC_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


@dataclass(frozen=True)
class VerifiedAssertion:
    jti: str
    expires_at: datetime


class UnknownKey(InvalidClient):
    """No registered key has the assertion's ``kid``: the caller may refetch the client's jwks_uri once."""


def key_for(token: str, jwks: dict[str, Any]) -> tuple[Any, str]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidClient("malformed client assertion") from exc
    alg = header.get("alg")
    if alg not in ASYMMETRIC_ALGS:
        raise InvalidClient("client assertion algorithm not allowed")
    kid = header.get("kid")
    candidates = [
        entry
        for entry in jwks.get("keys", [])
        if isinstance(entry, dict)
        and entry.get("use", "sig") == "sig"
        and (kid is None or entry.get("kid") == kid)
        and entry.get("alg", alg) == alg
    ]
    if not candidates or (kid is None and len(candidates) > 1):
        raise UnknownKey("no registered key matches the client assertion")
    try:
        return jwt.PyJWK(candidates[0], algorithm=alg).key, alg
    except jwt.PyJWTError as exc:
        raise InvalidClient("the registered key is unusable") from exc


def verify(
    token: str,
    *,
    jwks: dict[str, Any],
    client_id: str,
    audiences: Iterable[str],
    now: datetime,
    max_lifetime: timedelta,
    leeway: timedelta,
) -> VerifiedAssertion:
    key, alg = key_for(token, jwks)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[alg],
            audience=list(audiences),
            issuer=client_id,
            leeway=leeway,
            options={
                "require": ["iss", "sub", "aud", "exp", "jti"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise InvalidClient("client assertion rejected") from exc
    if claims["sub"] != client_id:
        raise InvalidClient("client assertion sub must be the client_id")
    exp = float(claims["exp"])
    if exp <= (now - leeway).timestamp():
        raise InvalidClient("client assertion expired")
    if exp > (now + max_lifetime + leeway).timestamp():
        raise InvalidClient("client assertion lives too long")
    iat = claims.get("iat")
    if isinstance(iat, int | float) and iat > (now + leeway).timestamp():
        raise InvalidClient("client assertion issued in the future")
    if not isinstance(claims["jti"], str) or not 0 < len(claims["jti"]) <= 255:
        raise InvalidClient("client assertion jti invalid")
    return VerifiedAssertion(claims["jti"], datetime.fromtimestamp(exp, now.tzinfo))
