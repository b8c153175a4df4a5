"""Client authentication at the token endpoint (RFC 6749 §2.3.1, OIDC Core §9).

Client secrets carry 256 bits of entropy, so a fast keyed hash (HMAC-SHA-256) stores them safely; a slow
password hash on every token request would only cost CPU.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote_plus

from broker.errors import InvalidClient, InvalidRequest

_HASH_PREFIX = "hmac-sha256$"


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    secret: str | None
    method: str  # client_secret_basic | client_secret_post | none


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str, key: bytes) -> str:
    return _HASH_PREFIX + hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()


def secret_matches(secret: str, stored: str | None, key: bytes) -> bool:
    # Always compute, so an unknown client costs the same time as a wrong secret.
    candidate = hash_secret(secret, key)
    return hmac.compare_digest(candidate, stored or _HASH_PREFIX + "0" * 64)


def credentials(authorization: str | None, form: Mapping[str, str]) -> ClientCredentials:
    """Reads the client's credentials from the Authorization header or the form, never both."""
    if authorization is not None:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            raise InvalidClient("unsupported authentication scheme")
        if "client_secret" in form:
            raise InvalidRequest("client credentials given both in the header and in the body")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidClient("malformed basic credentials") from exc
        raw_id, sep, raw_secret = decoded.partition(":")
        if not sep or not raw_id:
            raise InvalidClient("malformed basic credentials")
        # §2.3.1: id and secret are form-urlencoded before being joined.
        basic_id, basic_secret = unquote_plus(raw_id), unquote_plus(raw_secret)
        if "client_id" in form and form["client_id"] != basic_id:
            raise InvalidRequest("client_id in the body differs from the authenticated client")
        return ClientCredentials(basic_id, basic_secret, "client_secret_basic")
    form_id = form.get("client_id")
    if not form_id:
        raise InvalidClient("client authentication is required")
    form_secret = form.get("client_secret")
    return ClientCredentials(
        form_id, form_secret, "client_secret_post" if form_secret is not None else "none"
    )
