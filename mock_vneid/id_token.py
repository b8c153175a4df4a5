"""The ID token (OIDC Core §2, §3.1.3.6), signed RS256 with the active key."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta
from typing import Any

import jwt

from mock_vneid.citizens import Citizen
from mock_vneid.claims import AMR, acr_for, identity_claims
from mock_vneid.clock import epoch
from mock_vneid.keys import ALGORITHM, SigningKey


def at_hash(access_token: str) -> str:
    """OIDC Core §3.1.3.6: left half of the SHA-256 of the access token, base64url."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


def id_token_claims(
    *,
    issuer: str,
    audience: str,
    subject: str,
    citizen: Citizen,
    nonce: str,
    auth_time: datetime,
    issued_at: datetime,
    lifetime: timedelta,
    access_token: str,
) -> dict[str, Any]:
    return {
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "exp": epoch(issued_at + lifetime),
        "iat": epoch(issued_at),
        "auth_time": epoch(auth_time),
        "nonce": nonce,
        "acr": acr_for(citizen),
        "amr": list(AMR),
        "at_hash": at_hash(access_token),
        **identity_claims(citizen),
    }


def sign(claims: dict[str, Any], key: SigningKey) -> str:
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": "JWT"})
