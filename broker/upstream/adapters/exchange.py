"""The code exchange every adapter shares (RFC 6749 §4.1.3): a form with the code, the client
authenticated as configured, PKCE's verifier when the upstream takes PKCE."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote_plus

from broker.errors import UpstreamError
from broker.upstream.config import UpstreamConfig
from broker.upstream.http import UpstreamHttp


async def exchange_code(
    http: UpstreamHttp,
    config: UpstreamConfig,
    endpoint: str,
    code: str,
    redirect_uri: str,
    code_verifier: str,
) -> dict[str, Any]:
    """The token response body: a JSON object (still encrypted for the gateway); UpstreamError if refused."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if config.pkce:
        form["code_verifier"] = code_verifier
    authorization: str | None = None
    if config.token_auth == "client_secret_basic":
        # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
        pair = f"{quote_plus(config.client_id)}:{quote_plus(config.client_secret)}"
        authorization = "Basic " + base64.b64encode(pair.encode("ascii")).decode("ascii")
    else:
        form |= {"client_id": config.client_id, "client_secret": config.client_secret}
    status, body = await http.post_token(endpoint, form, authorization)
    if status == 401:
        # VNeID's gateway answers 401 to everything when the caller's address is not on its allow-list.
        raise UpstreamError("token_exchange_failed", "HTTP 401 (client refused, or address not allowed)")
    if status != 200 or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        # An expired or replayed code (invalid_grant): refused, but the upstream is up.
        raise UpstreamError("token_exchange_failed", f"HTTP {status} {error or ''}".strip())
    return body
