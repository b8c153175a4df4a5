"""Scopes and the claims each releases (OIDC Core §5.4, plus the broker's own scopes)."""

from __future__ import annotations

from typing import Any

SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "openid": (),
    "profile": ("name", "birthdate", "gender"),
    "identification": ("identification_number", "old_identification_number"),
    "account": ("account_type",),
    # OIDC Core §11: a refresh token that outlives the broker session (logout does not revoke it).
    "offline_access": (),
}
OFFLINE_ACCESS = "offline_access"
SUPPORTED_SCOPES = tuple(SCOPE_CLAIMS)
ALL_CLAIMS = tuple(claim for claims in SCOPE_CLAIMS.values() for claim in claims)


def parse(scope: str) -> list[str]:
    return [item for item in scope.split(" ") if item]


def granted(requested: str) -> str:
    """The requested scopes that the broker knows, in request order; unknown ones are ignored (§3.1.2.1)."""
    seen: list[str] = []
    for item in parse(requested):
        if item in SCOPE_CLAIMS and item not in seen:
            seen.append(item)
    return " ".join(seen)


def released_claims(scope: str, available: dict[str, Any]) -> dict[str, Any]:
    released: dict[str, Any] = {}
    for item in parse(scope):
        for claim in SCOPE_CLAIMS.get(item, ()):
            if available.get(claim) is not None:
                released[claim] = available[claim]
    return released
