"""Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3.1,
OIDC Core §9, RFC 7523 §2.2).

Every client is registered with exactly one method; a request made with another is refused, as is a request
that uses two at once. Client secrets carry 256 bits of entropy, so a fast keyed hash (HMAC-SHA-256) stores
them safely; a slow password hash on every token request would only cost CPU.
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

import jwt

from broker.errors import InvalidClient, InvalidRequest

_HASH_PREFIX = "hmac-sha256$"

CLIENT_SECRET_BASIC = "client_secret_basic"
CLIENT_SECRET_POST = "client_secret_post"
PRIVATE_KEY_JWT = "private_key_jwt"
NONE = "none"
AUTH_METHODS = (CLIENT_SECRET_BASIC, CLIENT_SECRET_POST, PRIVATE_KEY_JWT, NONE)
SECRET_METHODS = (CLIENT_SECRET_BASIC, CLIENT_SECRET_POST)
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    secret: str | None
    method: str  # client_secret_basic | client_secret_post | private_key_jwt | none
    assertion: str | None = None


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str, key: bytes) -> str:
    return _HASH_PREFIX + hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()


def secret_matches(secret: str, stored: str | None, key: bytes) -> bool:
    # Always compute, so an unknown client costs the same time as a wrong secret.
    candidate = hash_secret(secret, key)
    return hmac.compare_digest(candidate, stored or _HASH_PREFIX + "0" * 64)


def credentials(authorization: str | None, form: Mapping[str, str]) -> ClientCredentials:
    """Reads the client's credentials from the Authorization header or the form, never two methods."""
    has_assertion = "client_assertion" in form or "client_assertion_type" in form
    if authorization is not None:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            raise InvalidClient("unsupported authentication scheme")
        if "client_secret" in form or has_assertion:
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
        return ClientCredentials(basic_id, basic_secret, CLIENT_SECRET_BASIC)
    if has_assertion:
        return _assertion_credentials(form)
    form_id = form.get("client_id")
    if not form_id:
        raise InvalidClient("client authentication is required")
    form_secret = form.get("client_secret")
    return ClientCredentials(form_id, form_secret, CLIENT_SECRET_POST if form_secret is not None else NONE)


def _assertion_credentials(form: Mapping[str, str]) -> ClientCredentials:
    """RFC 7523 §2.2 / RFC 7521 §4.2: the client is the assertion's ``sub`` (checked again on verify)."""
    if "client_secret" in form:
        raise InvalidRequest("client_secret and client_assertion given together")
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        raise InvalidClient(f"client_assertion_type must be {ASSERTION_TYPE}")
    assertion = form.get("client_assertion")
    if not assertion:
        raise InvalidClient("client_assertion is required")
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise InvalidClient("client_assertion is not a JWT") from exc
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidClient("client_assertion has no sub")
    if "client_id" in form and form["client_id"] != subject:
        raise InvalidClient("client_id differs from the assertion's subject")
    return ClientCredentials(subject, None, PRIVATE_KEY_JWT, assertion)
