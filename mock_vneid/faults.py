"""Test controls: faults injected into the next token responses, for the broker's failure tests."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from jwt.algorithms import HMACAlgorithm
from jwt.api_jws import PyJWS
from pydantic import BaseModel, ConfigDict, Field

from mock_vneid.id_token import sign
from mock_vneid.keys import KeyRing, SigningKey

IdTokenFault = Literal[
    "bad_signature",
    "wrong_aud",
    "wrong_iss",
    "wrong_nonce",
    "missing_nonce",
    "expired",
    "future_iat",
    "alg_none",
    "hs256_with_public_key",
    "unknown_kid",
    "withdrawn_key",
]
TokenEndpointFault = Literal["http_500", "html_200", "slow"]
# The gateway's envelope spoiled on the next token response (vneid-gateway mode).
GatewayFault = Literal["tampered_data", "wrong_wrapped_key", "foreign_rp_key"]

# Far beyond any sane leeway, so the broker's refusal cannot be a coincidence of its clock.
_FAR_SECONDS = 3600


class FaultPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_token: IdTokenFault | None = None
    token_endpoint: TokenEndpointFault | None = None
    slow_seconds: float = Field(default=5, ge=0, le=120)
    clock_offset_seconds: int = 0
    times: int = Field(default=1, ge=1)
    # Userinfo faults for the access token issued with this plan (oauth2-userinfo and vneid-gateway).
    gateway: GatewayFault | None = None
    userinfo_subject_changed: bool = False
    drop_claims: list[str] = []
    # Claims left out of the ID token of the next token responses (oidc mode), userinfo still giving them.
    id_token_drop_claims: list[str] = []


@dataclass
class FaultBook:
    """The armed plan and how many token responses it still tampers with."""

    plan: FaultPlan | None = None
    remaining: int = 0

    def arm(self, plan: FaultPlan) -> None:
        self.plan, self.remaining = plan, plan.times

    def clear(self) -> None:
        self.plan, self.remaining = None, 0

    def take(self) -> FaultPlan | None:
        """The plan for this token response, counted as used."""
        if self.plan is None or self.remaining <= 0:
            return None
        plan = self.plan
        self.remaining -= 1
        if self.remaining == 0:
            self.plan = None
        return plan

    def describe(self) -> dict[str, Any]:
        return {"plan": self.plan.model_dump() if self.plan else None, "remaining": self.remaining}


def tamper_claims(claims: dict[str, Any], fault: IdTokenFault | None) -> dict[str, Any]:
    tampered = dict(claims)
    if fault == "wrong_aud":
        tampered["aud"] = "not-" + str(claims["aud"])
    elif fault == "wrong_iss":
        tampered["iss"] = "https://attacker.example"
    elif fault == "wrong_nonce":
        tampered["nonce"] = "not-" + str(claims["nonce"])
    elif fault == "missing_nonce":
        del tampered["nonce"]
    elif fault == "expired":
        lifetime = claims["exp"] - claims["iat"]
        tampered["exp"] = claims["iat"] - _FAR_SECONDS
        tampered["iat"] = tampered["auth_time"] = tampered["exp"] - lifetime
    elif fault == "future_iat":
        tampered["iat"] = claims["iat"] + _FAR_SECONDS
        tampered["exp"] = claims["exp"] + _FAR_SECONDS
    return tampered


def sign_with_fault(claims: dict[str, Any], keys: KeyRing, fault: IdTokenFault | None) -> str:
    if fault == "unknown_kid":
        return sign(claims, SigningKey.generate())
    if fault == "withdrawn_key" and keys.withdrawn:  # a key VNeID withdrew (rotate-keys with drop_old)
        return sign(claims, keys.withdrawn[0])
    if fault == "alg_none":
        return jwt.encode(claims, "", algorithm="none", headers={"kid": keys.active.kid})
    if fault == "hs256_with_public_key":
        return _hs256_keyed_by_public_pem(claims, keys.active)
    token = sign(claims, keys.active)
    return _flip_signature(token) if fault == "bad_signature" else token


class _PublicKeyAsHmacSecret(HMACAlgorithm):
    """PyJWT rightly refuses a PEM public key as an HMAC secret; the attack needs exactly that."""

    def prepare_key(self, key: str | bytes) -> bytes:
        return key if isinstance(key, bytes) else key.encode()


def _hs256_keyed_by_public_pem(claims: dict[str, Any], key: SigningKey) -> str:
    # The classic algorithm-confusion token: HMAC keyed with the published RSA public key (RFC 8725 §2.1).
    jws = PyJWS(algorithms=[])
    jws.register_algorithm("HS256", _PublicKeyAsHmacSecret(HMACAlgorithm.SHA256))
    payload = json.dumps(claims, separators=(",", ":")).encode()
    return jws.encode(payload, key.public_pem(), algorithm="HS256", headers={"kid": key.kid, "typ": "JWT"})


def _flip_signature(token: str) -> str:
    header, payload, signature = token.split(".")
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    flipped = bytes(b ^ 0xFF for b in raw[:8]) + raw[8:]
    return ".".join([header, payload, base64.urlsafe_b64encode(flipped).rstrip(b"=").decode()])
