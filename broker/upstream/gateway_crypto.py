"""VNeID gateway's envelope: ``{"data": …, "key": …}``, where ``key`` is an AES key wrapped with the relying
party's RSA public key (RSA PKCS#1 v1.5) and ``data`` is the JSON body encrypted with that AES key, in ECB
mode (what the working public adapters do) or CBC with the 16-byte IV in front (an earlier adapter's
assumption), by setting. The encrypted authorization code uses the same scheme, its wrapped key arriving
as the callback's ``encrypt_key``. Standard base64 for every binary field.

The scheme is VNeID's, not ours, and it has no integrity check of its own: a tampered ``data`` is caught
only when it no longer unpads or parses as a JSON object, so anything that survives must still pass
every check that follows (subject, required claims, levels). The primitives are ``cryptography``'s.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives import padding, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from broker.errors import UpstreamError

CipherMode = Literal["ecb", "cbc"]
_AES_KEY_SIZES = (16, 24, 32)
_BLOCK = 16


def load_private_key(file: Path | None, pem: str | None) -> rsa.RSAPrivateKey:
    """Read once, at start-up: a missing or wrong key is a configuration error, said clearly."""
    try:
        data = pem.encode() if pem else (file.read_bytes() if file else b"")
        key = serialization.load_pem_private_key(data, password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ValueError(f"gateway private key ({file or 'PEM setting'}) cannot be loaded: {exc}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the gateway private key must be an RSA key")
    return key


class GatewayCipher:
    def __init__(self, private_key: rsa.RSAPrivateKey, mode: CipherMode) -> None:
        self._key = private_key
        self._mode = mode

    def open_body(self, body: Any) -> dict[str, Any]:
        """The JSON object inside an encrypted token or userinfo body."""
        if not isinstance(body, dict) or not isinstance(body.get("data"), str):
            raise UpstreamError("gateway_body_invalid", "not an encrypted envelope")
        if not isinstance(body.get("key"), str):
            raise UpstreamError("gateway_body_invalid", "no wrapped key")
        plain = self._decrypt(body["data"], body["key"], "gateway_body_invalid")
        try:
            opened = json.loads(plain)
        except ValueError:
            raise UpstreamError("gateway_body_invalid", "data is not JSON") from None
        if not isinstance(opened, dict):
            raise UpstreamError("gateway_body_invalid", "data is not a JSON object")
        return opened

    def open_code(self, code: str, encrypt_key: str) -> str:
        plain = self._decrypt(code, encrypt_key, "gateway_code_invalid")
        try:
            text = plain.decode("utf-8")
        except UnicodeDecodeError:
            raise UpstreamError("gateway_code_invalid", "code is not text") from None
        if not text.isprintable() or not text:
            raise UpstreamError("gateway_code_invalid", "code is not text")
        return text

    def _decrypt(self, data: str, wrapped_key: str, reason: str) -> bytes:
        ciphertext, wrapped = _b64(data, reason), _b64(wrapped_key, reason)
        try:
            aes_key = self._key.decrypt(wrapped, PKCS1v15())
        except ValueError:
            raise UpstreamError(reason, "the key is not wrapped for this broker") from None
        # OpenSSL's implicit rejection answers a wrong wrapping with random bytes instead of an error:
        # those rarely have an AES key's length, and never unpad into JSON.
        if len(aes_key) not in _AES_KEY_SIZES:
            raise UpstreamError(reason, "the key is not wrapped for this broker")
        if self._mode == "cbc":
            if len(ciphertext) < 2 * _BLOCK:
                raise UpstreamError(reason, "too short for IV and data")
            iv, ciphertext = ciphertext[:_BLOCK], ciphertext[_BLOCK:]
            mode: modes.CBC | modes.ECB = modes.CBC(iv)
        else:
            mode = modes.ECB()  # noqa: S305 - VNeID's scheme, not our choice (docs/upstreams.md)
        if not ciphertext or len(ciphertext) % _BLOCK:
            raise UpstreamError(reason, "not whole AES blocks")
        decryptor = Cipher(algorithms.AES(aes_key), mode).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        unpadder = padding.PKCS7(_BLOCK * 8).unpadder()
        try:
            return unpadder.update(padded) + unpadder.finalize()
        except ValueError:
            raise UpstreamError(reason, "does not decrypt") from None


def _b64(value: str, reason: str) -> bytes:
    try:
        return base64.b64decode(value.replace("-", "+").replace("_", "/") + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise UpstreamError(reason, "not base64") from None


def create_key_files(private_file: Path, public_file: Path, key_size: int = 3072) -> bool:
    """The broker's gateway key pair, created once (the private key 0600); False when it already exists.
    The public half is what VNeID's registration (or mock VNeID) encrypts for."""
    if private_file.exists():
        key = load_private_key(private_file, None)
    else:
        private_file.parent.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        descriptor = os.open(private_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(pem)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    created = not public_file.exists() or public_file.read_bytes() != public
    public_file.write_bytes(public)
    return created
