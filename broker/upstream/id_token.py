"""Validation of VNeID's ID tokens (OIDC Core §3.1.3.7). Time is passed in, never read here.

The signature is checked by joserfc, as the broker's own tokens are (``broker.oidc.keys``): PyJWT's decode
checks each character of the token in Python (issue 7). The claims are compared here, each rule PyJWT's
decode applied before kept: the required claims, ``iss``, ``aud`` (a string or a list of strings),
``sub`` and ``jti`` strings, ``nbf``; and the times against the injected clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from pydantic_core import from_json

from broker.errors import UpstreamError
from broker.upstream.jwks import JwksCache

# Asymmetric algorithms only: never "none", never HS* (a public key used as an HMAC secret).
ALLOWED_ALGS = ("RS256", "PS256", "ES256")
# Keys are only ever taken from VNeID's JWKS, never from the token's own header.
_FORBIDDEN_HEADERS = ("jku", "x5u", "jwk", "x5c")
_REQUIRED = ("iss", "sub", "aud", "exp", "iat")
# Registered header parameters are type-checked; others are let through (PyJWT let them through too).
_REGISTRY = jws.JWSRegistry(algorithms=list(ALLOWED_ALGS), strict_check_header=False)


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
        signed = jws.extract_compact(token.encode("ascii"), registry=_REGISTRY)
        header = signed.headers()
        _REGISTRY.check_header(header)
    except (JoseError, ValueError) as exc:  # UnicodeError is a ValueError
        raise UpstreamError("id_token_invalid", "malformed token") from exc
    alg = header.get("alg")
    if alg not in ALLOWED_ALGS:
        raise UpstreamError("id_token_invalid", f"algorithm {alg!r} not allowed")
    if any(name in header for name in _FORBIDDEN_HEADERS):
        raise UpstreamError("id_token_invalid", "key reference in the token header")
    key = await keys.key(header.get("kid"))
    try:
        valid = jws.validate_compact(signed, key, registry=_REGISTRY)
    except (JoseError, ValueError, TypeError) as exc:  # e.g. an EC key named by an RS256 token
        raise UpstreamError("id_token_invalid", type(exc).__name__) from exc
    if not valid:
        raise UpstreamError("id_token_invalid", "bad signature")
    claims = _claims(signed.payload, issuer, client_id)
    _check_times(claims, now, leeway)
    if claims.get("nonce") != nonce:
        raise UpstreamError("id_token_invalid", "nonce mismatch")
    audience = claims["aud"]
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != client_id:
        raise UpstreamError("id_token_invalid", "azp mismatch")
    return claims


def _claims(payload: bytes, issuer: str, client_id: str) -> dict[str, Any]:
    try:
        claims = from_json(payload)
    except ValueError as exc:
        raise UpstreamError("id_token_invalid", "malformed token") from exc
    if not isinstance(claims, dict):
        raise UpstreamError("id_token_invalid", "malformed token")
    for name in _REQUIRED:
        if claims.get(name) is None:
            raise UpstreamError("id_token_invalid", f'Token is missing the "{name}" claim')
    if claims["iss"] != issuer:
        raise UpstreamError("id_token_invalid", "Invalid issuer")
    audience = claims["aud"]
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or not audiences or not all(isinstance(a, str) for a in audiences):
        raise UpstreamError("id_token_invalid", "Invalid claim format in token")
    if client_id not in audiences:
        raise UpstreamError("id_token_invalid", "Audience doesn't match")
    if not isinstance(claims["sub"], str):
        raise UpstreamError("id_token_invalid", "Subject must be a string")
    if "jti" in claims and not isinstance(claims["jti"], str):
        raise UpstreamError("id_token_invalid", "JWT ID must be a string")
    return claims


def _check_times(claims: dict[str, Any], now: datetime, leeway: timedelta) -> None:
    try:
        expires = float(claims["exp"])
        issued = float(claims["iat"])
        not_before = float(claims["nbf"]) if "nbf" in claims else None
    except (TypeError, ValueError) as exc:
        raise UpstreamError("id_token_invalid", "exp/iat/nbf not numeric") from exc
    instant = now.timestamp()
    slack = leeway.total_seconds()
    if expires <= instant - slack:
        raise UpstreamError("id_token_invalid", "expired")
    if issued > instant + slack:
        raise UpstreamError("id_token_invalid", "issued in the future")
    if not_before is not None and not_before > instant + slack:
        raise UpstreamError("id_token_invalid", "not yet valid (nbf)")
