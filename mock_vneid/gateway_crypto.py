"""The gateway's envelope, from VNeID's side: a fresh AES-256 key per message, wrapped with the relying
party's RSA public key (PKCS#1 v1.5); the JSON encrypted with it in ECB, or in CBC with the IV in front.
``cryptography`` does the work; this module only arranges it as the gateway does (docs/upstreams.md)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives import padding, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

CipherMode = Literal["ecb", "cbc"]


def load_public_key(file: Path | None, pem: str | None) -> rsa.RSAPublicKey:
    data = pem.encode() if pem else (file.read_bytes() if file else b"")
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the relying party's key must be an RSA public key")
    return key


def seal(plain: bytes, public_key: rsa.RSAPublicKey, mode: CipherMode) -> tuple[str, str]:
    """(data, key), both standard base64."""
    aes_key = os.urandom(32)
    return _encrypt(plain, aes_key, mode), _b64(public_key.encrypt(aes_key, PKCS1v15()))


def seal_json(body: dict[str, Any], public_key: rsa.RSAPublicKey, mode: CipherMode) -> dict[str, str]:
    data, key = seal(json.dumps(body, ensure_ascii=False).encode(), public_key, mode)
    return {"data": data, "key": key}


def _encrypt(plain: bytes, aes_key: bytes, mode: CipherMode) -> str:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain) + padder.finalize()
    if mode == "cbc":
        iv = os.urandom(16)
        encryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).encryptor()
        return _b64(iv + encryptor.update(padded) + encryptor.finalize())
    encryptor = Cipher(algorithms.AES(aes_key), modes.ECB()).encryptor()  # noqa: S305 - VNeID's scheme
    return _b64(encryptor.update(padded) + encryptor.finalize())


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
