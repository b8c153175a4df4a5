"""Client authentication at the token endpoint (RFC 6749 §2.3.1): client_secret_basic or _post."""

from __future__ import annotations

import base64
import binascii
import hmac
from urllib.parse import unquote_plus

from mock_vneid.errors import InvalidClient, InvalidRequest
from mock_vneid.params import Params
from mock_vneid.settings import MockSettings


def authenticate_client(authorization: str | None, form: Params, settings: MockSettings) -> str:
    """The authenticated client_id, or an error named after its wire code."""
    if authorization is not None:
        if "client_secret" in form:
            raise InvalidRequest("the client authenticated in more than one way")
        client_id, secret = _basic_credentials(authorization)
        body_client_id = form.get("client_id")
        if body_client_id is not None and body_client_id != client_id:
            raise InvalidClient("client_id in the body differs from the Authorization header")
        basic = True
    else:
        client_id, secret = form.get("client_id") or "", form.get("client_secret") or ""
        if not client_id or not secret:
            raise InvalidClient("client authentication is required")
        basic = False
    # Both comparisons always run, so timing does not say which part was wrong.
    id_ok = hmac.compare_digest(client_id.encode(), settings.client_id.encode())
    secret_ok = hmac.compare_digest(secret.encode(), settings.client_secret.encode())
    if not (id_ok and secret_ok):
        raise InvalidClient("client authentication failed", basic_challenge=basic)
    return client_id


def _basic_credentials(authorization: str) -> tuple[str, str]:
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise InvalidClient("the Authorization header must use the Basic scheme")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient("the Basic credentials are not valid base64") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise InvalidClient("the Basic credentials lack a colon")
    # §2.3.1: both parts are form-urlencoded before they are joined.
    return unquote_plus(client_id), unquote_plus(secret)
