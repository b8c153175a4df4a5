"""Token introspection responses (RFC 7662 §2.2).

Anything the caller may not learn about (unknown, expired, revoked, another client's token) is the bare
``{"active": false}``: §2.2 forbids saying why.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

INACTIVE: dict[str, Any] = {"active": False}


def active_response(
    *,
    issuer: str,
    client_id: str,
    sub: str,
    scope: str,
    token_type: str,
    issued_at: datetime,
    expires_at: datetime,
    sid: str | None = None,
    acr: str | None = None,
    auth_time: datetime | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "active": True,
        "iss": issuer,
        "client_id": client_id,
        "sub": sub,
        "scope": scope,
        "token_type": token_type,
        "iat": int(issued_at.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    if sid is not None:
        body["sid"] = sid
    if acr is not None:
        body["acr"] = acr
    if auth_time is not None:
        body["auth_time"] = int(auth_time.timestamp())
    return body
