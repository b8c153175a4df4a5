"""RS256 signing keys: persisted so that a restart publishes the same JWKS, rotatable in tests."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ALGORITHM = "RS256"
_KEY_SIZE = 2048


def jwk_thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 §3: SHA-256 over the required members, sorted, without whitespace."""
    jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    required = {"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


@dataclass(frozen=True)
class SigningKey:
    private_key: rsa.RSAPrivateKey
    kid: str

    @classmethod
    def generate(cls) -> SigningKey:
        return cls.of(rsa.generate_private_key(public_exponent=65537, key_size=_KEY_SIZE))

    @classmethod
    def of(cls, private_key: rsa.RSAPrivateKey) -> SigningKey:
        return cls(private_key, jwk_thumbprint(private_key.public_key()))

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "alg": ALGORITHM, "use": "sig"}

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def load_or_create(path: Path) -> SigningKey:
    """The key in `path`, created (mode 0600, parents too) when the file does not exist yet."""
    if not path.exists():
        _write_new_key(path)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError(f"{path} does not hold an RSA private key")
    return SigningKey.of(loaded)


def _write_new_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".signing-key-")  # mkstemp uses 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(SigningKey.generate().private_pem())
        # link() refuses to replace: when two processes start together, both end up with the first key.
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(temporary)


@dataclass
class KeyRing:
    """The active key signs; every published key appears in the JWKS."""

    active: SigningKey
    retired: list[SigningKey] = field(default_factory=list)
    # Keys dropped from the JWKS by a rotation: only the "withdrawn_key" test fault still signs with one.
    withdrawn: list[SigningKey] = field(default_factory=list)

    def published(self) -> list[SigningKey]:
        return [self.active, *self.retired]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.public_jwk() for key in self.published()]}

    def rotate(self, *, drop_old: bool) -> SigningKey:
        """Sign with a new key from now on. Kept in memory only: a restart returns to `key_file`."""
        if drop_old:
            self.withdrawn = [self.active, *self.retired, *self.withdrawn]
        self.retired = [] if drop_old else [self.active, *self.retired]
        self.active = SigningKey.generate()
        return self.active
