"""What the mock says about a citizen: the opaque subject, the identity claims, the level of assurance."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from mock_vneid.citizens import Citizen

ACR_LEVEL1 = "urn:vneid:loa:level1"
ACR_LEVEL2 = "urn:vneid:loa:level2"
ACR_VALUES = (ACR_LEVEL1, ACR_LEVEL2)
AMR = ("pwd",)

IDENTITY_CLAIMS = (
    "identification_number",
    "old_identification_number",
    "name",
    "birthdate",
    "gender",
    "phone_number",
    "email",
    "address",
)
ID_TOKEN_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "at_hash")
SUPPORTED_SCOPES = ("openid", "profile", "vneid")

_SUBJECT_BYTES = 16


def subject(citizen: Citizen, secret: str) -> str:
    """Stable across restarts and opaque: an RP cannot recover the identification number from it."""
    digest = hmac.new(secret.encode(), citizen.identification_number.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:_SUBJECT_BYTES]).rstrip(b"=").decode()


def acr_for(citizen: Citizen) -> str:
    # acr is voluntary (OIDC Core §5.5.1.1): the real level is reported whatever the RP asked for.
    return ACR_LEVEL2 if citizen.level == 2 else ACR_LEVEL1


def identity_claims(citizen: Citizen) -> dict[str, Any]:
    """The citizen's identity, shared by the ID token and userinfo; absent values are left out."""
    claims: dict[str, Any] = {
        "identification_number": citizen.identification_number,
        "old_identification_number": citizen.old_identification_number,
        "name": citizen.name,
        "birthdate": citizen.birthdate.isoformat(),
        "gender": citizen.gender,
        "phone_number": citizen.phone_number,
        "email": citizen.email,
        "address": citizen.address.model_dump(exclude_none=True) if citizen.address else None,
    }
    return {name: value for name, value in claims.items() if value is not None}
