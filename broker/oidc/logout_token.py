"""Logout tokens (OIDC Back-Channel Logout 1.0 §2.4): a JWT with ``typ: logout+jwt``, iss, aud, iat, exp,
jti, the back-channel logout event, ``sid`` and/or ``sub``, and never a nonce."""

from __future__ import annotations

from datetime import datetime
from typing import Any

EVENT = "http://schemas.openid.net/event/backchannel-logout"
TYP = "logout+jwt"


def claims(
    *,
    issuer: str,
    client_id: str,
    sub: str | None,
    sid: str | None,
    jti: str,
    now: datetime,
    ttl_seconds: int,
) -> dict[str, Any]:
    if sub is None and sid is None:
        raise ValueError("a logout token names a sub, a sid, or both")
    body: dict[str, Any] = {
        "iss": issuer,
        "aud": client_id,
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + ttl_seconds,
        "jti": jti,
        "events": {EVENT: {}},
    }
    if sub is not None:
        body["sub"] = sub
    if sid is not None:
        body["sid"] = sid
    return body
