"""Token revocation requests (RFC 7009 §2.1): ``token`` is required, ``token_type_hint`` only orders the
search (an unknown hint is ignored, §2.1: the server extends its search across all token types)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from broker.errors import InvalidRequest

ACCESS_TOKEN = "access_token"
REFRESH_TOKEN = "refresh_token"


@dataclass(frozen=True)
class TokenRequest:
    token: str
    hint: str | None


def parse(form: Mapping[str, str]) -> TokenRequest:
    """Also the request grammar of introspection (RFC 7662 §2.1)."""
    token = form.get("token")
    if not token:
        raise InvalidRequest("token is required")
    hint = form.get("token_type_hint")
    return TokenRequest(token, hint if hint in (ACCESS_TOKEN, REFRESH_TOKEN) else None)
