"""Proof Key for Code Exchange, S256 only (RFC 7636)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

# §4.1: 43–128 characters of the unreserved set. An S256 challenge is one SHA-256, so exactly 43.
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_S256_CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")


def is_valid_challenge(challenge: str) -> bool:
    return bool(_S256_CHALLENGE.fullmatch(challenge))


def is_valid_verifier(verifier: str) -> bool:
    return bool(_VERIFIER.fullmatch(verifier))


def s256(verifier: str) -> str:
    """§4.2: BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def verifies(verifier: str, challenge: str) -> bool:
    return hmac.compare_digest(s256(verifier), challenge)
