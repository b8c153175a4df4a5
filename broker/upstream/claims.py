"""VNeID's claims to the neutral VerifiedIdentity (claims documented in mock_vneid/README.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from broker.domain.identity import VerifiedIdentity
from broker.domain.identity_numbers import is_cccd, is_cmnd
from broker.errors import UpstreamError

ACR_LEVELS = {"urn:vneid:loa:level1": 1, "urn:vneid:loa:level2": 2}


def to_identity(id_claims: dict[str, Any], userinfo: dict[str, Any], issuer: str) -> VerifiedIdentity:
    if userinfo.get("sub") != id_claims["sub"]:
        # OIDC Core §5.3.2: a userinfo response for another subject must not be used.
        raise UpstreamError("userinfo_invalid", "sub differs from the ID token")
    merged = {**userinfo, **id_claims}
    number = _text(merged.get("identification_number"))
    if number is not None and not is_cccd(number):
        raise UpstreamError("claims_invalid", "identification_number is not a valid number")
    old_number = _text(merged.get("old_identification_number"))
    if old_number is not None and not is_cmnd(old_number):
        old_number = None
    acr = _text(merged.get("acr")) or ""
    auth_time = merged.get("auth_time", merged["iat"])
    return VerifiedIdentity(
        issuer=issuer,
        subject=str(id_claims["sub"]),
        identification_number=number,
        old_identification_number=old_number,
        name=_text(merged.get("name")),
        birthdate=_date(merged.get("birthdate")),
        gender=merged.get("gender") if merged.get("gender") in ("male", "female") else None,
        level=ACR_LEVELS.get(acr, 1),
        acr=acr,
        amr=tuple(str(item) for item in merged.get("amr", []) if isinstance(item, str)),
        auth_time=datetime.fromtimestamp(float(auth_time), UTC),
    )


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
