"""Proof Key for Code Exchange (RFC 7636). Only S256: ``plain`` is refused (RFC 9700 §2.1.1)."""

from __future__ import annotations

import hmac
import re

from authlib.oauth2.rfc7636 import create_s256_code_challenge

# RFC 7636 §4.1/§4.2: 43-128 characters of the unreserved set.
_CODE_VALUE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def is_valid_challenge(challenge: str) -> bool:
    return bool(_CODE_VALUE.fullmatch(challenge))


def verify(verifier: str, challenge: str) -> bool:
    if not _CODE_VALUE.fullmatch(verifier):
        return False
    return hmac.compare_digest(create_s256_code_challenge(verifier), challenge)
