"""Random identifiers and the hashes under which secrets are stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid


def new_token() -> str:
    """256 bits, URL-safe: flow ids, codes, verifiers, nonces."""
    return secrets.token_urlsafe(32)


def new_subject() -> str:
    """The broker's own stable subject identifier: random, never derived from a personal number."""
    return str(uuid.uuid4())


def digest(value: str) -> str:
    """Codes are stored by SHA-256: they carry 256 bits, so a leaked table cannot be replayed."""
    return hashlib.sha256(value.encode()).hexdigest()


def matches_digest(value: str, stored: str | None) -> bool:
    """Whether ``value`` is the secret stored as ``stored`` by ``digest``, compared in constant time; never
    when nothing is stored."""
    return stored is not None and hmac.compare_digest(digest(value), stored)
