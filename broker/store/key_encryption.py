"""Envelope encryption of the private keys the database holds (issue 12).

Each stored key gets a data key of its own (AES-256-GCM, the row's kid as associated data, so a
ciphertext moved to another row does not decrypt); the data key is stored wrapped by the
key-encryption key (Fernet). The key-encryption keys form a MultiFernet: the first wraps, all unwrap,
so rotating is: put the new key first, run ``broker keys rewrap`` (re-wraps only the small data keys),
then drop the old one.

Stored form: ``enc-v1.<wrapped data key>.<base64url(nonce || ciphertext)>``; a value starting with
``-----BEGIN`` is a clear PEM left by an older version, read as it is and sealed by ``broker db upgrade``
or ``broker keys rewrap``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "enc-v1."


class KeyDecryptionError(Exception):
    """A stored key cannot be decrypted with the configured key-encryption keys."""


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


class KeyEncryption:
    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("at least one key-encryption key is needed")
        self._wrap = MultiFernet([Fernet(key) for key in keys])

    @classmethod
    def from_config(cls, configured: str | None, key_file: Path | None, secret_key: str) -> KeyEncryption:
        """From ``BROKER_KEY_ENCRYPTION_KEY`` (comma-separated Fernet keys, newest first), else the file
        ``BROKER_KEY_ENCRYPTION_KEY_FILE`` (one per line, newest first), else a key derived from
        ``BROKER_SECRET_KEY`` (so development needs no set-up; production should keep the two apart)."""
        if configured:
            return cls([part.strip().encode() for part in configured.split(",") if part.strip()])
        if key_file is not None:
            lines = key_file.read_text(encoding="utf-8").splitlines()
            return cls([line.strip().encode() for line in lines if line.strip()])
        derived = hmac.new(secret_key.encode(), b"signing-key-encryption", hashlib.sha256).digest()
        return cls([base64.urlsafe_b64encode(derived)])

    def seal(self, kid: str, private_pem: str) -> str:
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(12)
        ciphertext = AESGCM(data_key).encrypt(nonce, private_pem.encode(), kid.encode())
        wrapped = self._wrap.encrypt(data_key).decode()
        return f"{PREFIX}{wrapped}.{base64.urlsafe_b64encode(nonce + ciphertext).decode()}"

    def open(self, kid: str, stored: str) -> str:
        if not is_sealed(stored):
            return stored  # a clear PEM from before encryption: sealed at the next upgrade or rewrap
        try:
            wrapped, sealed = stored[len(PREFIX) :].split(".", 1)
            data_key = self._wrap.decrypt(wrapped.encode())
            raw = base64.urlsafe_b64decode(sealed)
            return AESGCM(data_key).decrypt(raw[:12], raw[12:], kid.encode()).decode()
        except (InvalidToken, InvalidTag, ValueError) as exc:
            raise KeyDecryptionError(f"signing key {kid} does not decrypt with the configured keys") from exc

    def rewrap(self, kid: str, stored: str) -> str:
        """The same key under the newest key-encryption key (a clear PEM gets sealed)."""
        if not is_sealed(stored):
            return self.seal(kid, stored)
        wrapped, sealed = stored[len(PREFIX) :].split(".", 1)
        try:
            rewrapped = self._wrap.rotate(wrapped.encode()).decode()
        except InvalidToken as exc:
            raise KeyDecryptionError(f"signing key {kid} does not decrypt with the configured keys") from exc
        return f"{PREFIX}{rewrapped}.{sealed}"
