"""Signing keys: generation, JWK export (RFC 7517) and thumbprints (RFC 7638), signing with a key ring."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

SUPPORTED_ALGS = ("RS256", "ES256")
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def generate_private_pem(alg: str) -> str:
    key: PrivateKey
    if alg == "RS256":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif alg == "ES256":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ValueError(f"unsupported signing algorithm {alg}")
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_jwk(private_pem: str) -> dict[str, Any]:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    if isinstance(key, rsa.RSAPrivateKey):
        return RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    raise ValueError("unsupported key type")


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 §3: SHA-256 over the required members, lexicographically ordered, no whitespace."""
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class KeyPair:
    kid: str
    alg: str
    private_pem: str
    created_at: datetime | None = None
    retired_at: datetime | None = None

    def public(self) -> dict[str, Any]:
        return {**public_jwk(self.private_pem), "kid": self.kid, "alg": self.alg, "use": "sig"}


class KeyRing:
    """The keys the broker publishes and the one it signs with per algorithm, as of ``now``.

    Rotation without breaking a relying party's cache (OIDC Core §10.1.1): a new key is published at once
    but signs only ``publish_ahead`` after its creation, so every RP that caches the JWKS for at most that
    long already knows it; the key it replaces stops signing then (its ``retired_at``) and stays published
    until the last token it signed has expired. The ring holds only published keys (the store filters).
    """

    def __init__(
        self, keys: list[KeyPair], now: datetime | None = None, publish_ahead: timedelta = timedelta(0)
    ) -> None:
        self._keys = list(keys)
        self._published = [key.public() for key in self._keys]
        self._now = now
        self._publish_ahead = publish_ahead

    def jwks(self) -> dict[str, Any]:
        return {"keys": list(self._published)}

    def algorithms(self) -> list[str]:
        return sorted({key.alg for key in self._keys})

    def kids(self) -> list[str]:
        return [key.kid for key in self._keys]

    def signing_key(self, alg: str) -> KeyPair:
        live = [key for key in self._keys if key.alg == alg and not self._retired(key)]
        if not live:
            raise LookupError(f"no signing key for {alg}")
        active = [key for key in live if self._active(key)]
        # The first key of an algorithm signs at once: no relying party can hold an older key set.
        return active[-1] if active else live[0]

    def _retired(self, key: KeyPair) -> bool:
        return key.retired_at is not None and self._now is not None and key.retired_at <= self._now

    def _active(self, key: KeyPair) -> bool:
        if key.created_at is None or self._now is None:
            return True
        return key.created_at + self._publish_ahead <= self._now

    def sign(self, claims: dict[str, Any], alg: str, typ: str = "JWT") -> str:
        key = self.signing_key(alg)
        return jwt.encode(claims, key.private_pem, algorithm=alg, headers={"kid": key.kid, "typ": typ})

    def verify(self, token: str, **decode_options: Any) -> dict[str, Any]:
        """Verifies a token this broker signed (access tokens, id_token_hint); raises jwt.PyJWTError."""
        header = jwt.get_unverified_header(token)
        for key in self._keys:
            if key.kid == header.get("kid") and key.alg == header.get("alg"):
                public = jwt.PyJWK(key.public()).key
                return jwt.decode(token, public, algorithms=[key.alg], **decode_options)
        raise jwt.InvalidKeyError("unknown kid")
