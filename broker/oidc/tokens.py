"""Claims of the tokens the broker issues: ID tokens (OIDC Core §2, §3.1.3.6) and JWT access tokens
(RFC 9068)."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any

_HASHES = {"RS256": hashlib.sha256, "ES256": hashlib.sha256}


def half_hash(value: str, alg: str) -> str:
    """``at_hash``: the left half of the hash of the token, base64url (OIDC Core §3.1.3.6)."""
    digest = _HASHES[alg](value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


def id_token_claims(
    *,
    issuer: str,
    sub: str,
    client_id: str,
    now: datetime,
    ttl_seconds: int,
    auth_time: datetime,
    acr: str,
    amr: list[str],
    nonce: str | None,
    access_token: str | None,
    alg: str,
    released: dict[str, Any],
    sid: str | None = None,
) -> dict[str, Any]:
    """OIDC Core §2; ``sid`` names the broker session (Back-Channel Logout 1.0 §2.1)."""
    claims: dict[str, Any] = {
        **released,
        "iss": issuer,
        "sub": sub,
        "aud": client_id,
        "azp": client_id,
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + ttl_seconds,
        "auth_time": int(auth_time.timestamp()),
        "acr": acr,
        "amr": amr,
    }
    if nonce is not None:
        claims["nonce"] = nonce
    if sid is not None:
        claims["sid"] = sid
    if access_token is not None:
        claims["at_hash"] = half_hash(access_token, alg)
    return claims


def access_token_claims(
    *,
    issuer: str,
    sub: str,
    client_id: str,
    jti: str,
    scope: str,
    now: datetime,
    ttl_seconds: int,
    auth_time: datetime,
    acr: str,
) -> dict[str, Any]:
    return {
        "iss": issuer,
        "sub": sub,
        "aud": issuer,  # the broker's own userinfo is the resource
        "client_id": client_id,
        "jti": jti,
        "scope": scope,
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + ttl_seconds,
        "auth_time": int(auth_time.timestamp()),
        "acr": acr,
    }
