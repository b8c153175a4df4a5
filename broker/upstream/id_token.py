"""Validation of VNeID's ID tokens (OIDC Core §3.1.3.7). Time is passed in, never read here."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import jwt

from broker.errors import UpstreamError
from broker.upstream.jwks import JwksCache

# Asymmetric algorithms only: never "none", never HS* (a public key used as an HMAC secret).
ALLOWED_ALGS = ("RS256", "PS256", "ES256")
# Keys are only ever taken from VNeID's JWKS, never from the token's own header.
_FORBIDDEN_HEADERS = ("jku", "x5u", "jwk", "x5c")


async def verify(
    token: str,
    *,
    keys: JwksCache,
    issuer: str,
    client_id: str,
    nonce: str,
    now: datetime,
    leeway: timedelta,
) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise UpstreamError("id_token_invalid", "malformed token") from exc
    alg = header.get("alg")
    if alg not in ALLOWED_ALGS:
        raise UpstreamError("id_token_invalid", f"algorithm {alg!r} not allowed")
    if any(name in header for name in _FORBIDDEN_HEADERS):
        raise UpstreamError("id_token_invalid", "key reference in the token header")
    key = await keys.key(header.get("kid"))
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=[alg],
            audience=client_id,
            issuer=issuer,
            # exp/iat are checked below against the injected clock, not the system clock.
            options={
                "require": ["iss", "sub", "aud", "exp", "iat"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidSignatureError as exc:
        raise UpstreamError("id_token_invalid", "bad signature") from exc
    except jwt.PyJWTError as exc:
        raise UpstreamError("id_token_invalid", str(exc)) from exc
    _check_times(claims, now, leeway)
    if claims.get("nonce") != nonce:
        raise UpstreamError("id_token_invalid", "nonce mismatch")
    audience = claims["aud"]
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != client_id:
        raise UpstreamError("id_token_invalid", "azp mismatch")
    return claims


def _check_times(claims: dict[str, Any], now: datetime, leeway: timedelta) -> None:
    try:
        expires = float(claims["exp"])
        issued = float(claims["iat"])
    except (TypeError, ValueError) as exc:
        raise UpstreamError("id_token_invalid", "exp/iat not numeric") from exc
    instant = now.timestamp()
    slack = leeway.total_seconds()
    if expires <= instant - slack:
        raise UpstreamError("id_token_invalid", "expired")
    if issued > instant + slack:
        raise UpstreamError("id_token_invalid", "issued in the future")
