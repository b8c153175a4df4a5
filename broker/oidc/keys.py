"""Signing keys: generation, JWK export (RFC 7517) and thumbprints (RFC 7638), signing with a key ring."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
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

    def public(self) -> dict[str, Any]:
        return {**public_jwk(self.private_pem), "kid": self.kid, "alg": self.alg, "use": "sig"}


class KeyRing:
    """The keys the broker signs with (newest per algorithm) and publishes (all unretired)."""

    def __init__(self, keys: list[KeyPair]) -> None:
        self._keys = list(keys)
        self._published = [key.public() for key in self._keys]

    def jwks(self) -> dict[str, Any]:
        return {"keys": list(self._published)}

    def algorithms(self) -> list[str]:
        return sorted({key.alg for key in self._keys})

    def signing_key(self, alg: str) -> KeyPair:
        candidates = [key for key in self._keys if key.alg == alg]
        if not candidates:
            raise LookupError(f"no signing key for {alg}")
        return candidates[-1]

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
