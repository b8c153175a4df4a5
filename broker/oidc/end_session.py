"""RP-Initiated Logout 1.0 §2-§3: the end-session request, the ``id_token_hint`` and the redirect after.

The hint must be an ID token this broker signed for the client; an expired one is accepted (§2: the OP
SHOULD accept ID Tokens whose exp has passed). ``post_logout_redirect_uri`` is followed only when it is,
byte for byte, one the client registered (§3); otherwise the person sees a page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from broker.oidc.keys import KeyRing
from broker.oidc.params import single_valued


@dataclass(frozen=True)
class EndSessionRequest:
    id_token_hint: str | None
    post_logout_redirect_uri: str | None
    state: str | None
    client_id: str | None


@dataclass(frozen=True)
class Hint:
    client_id: str
    sub: str
    sid: str | None


def parse(params: Sequence[tuple[str, str]]) -> EndSessionRequest:
    values = single_valued(params)
    return EndSessionRequest(
        id_token_hint=values.get("id_token_hint"),
        post_logout_redirect_uri=values.get("post_logout_redirect_uri"),
        state=values.get("state"),
        client_id=values.get("client_id"),
    )


def verify_hint(token: str, ring: KeyRing, issuer: str) -> Hint | None:
    """The hint's client, subject and session, or None when we did not sign it for a single audience."""
    try:
        claims: dict[str, Any] = ring.verify(token, issuer=issuer, require=("iss", "sub", "aud"))
    except (jwt.PyJWTError, ValueError):
        return None
    audience = claims["aud"]
    if isinstance(audience, list):
        audience = audience[0] if len(audience) == 1 else None
    if not isinstance(audience, str) or not isinstance(claims["sub"], str):
        return None
    sid = claims.get("sid")
    return Hint(audience, claims["sub"], sid if isinstance(sid, str) else None)


def redirect_allowed(uri: str | None, registered: Sequence[str] | None) -> bool:
    return uri is not None and uri in (registered or ())
