"""Validation of the authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1, RFC 7636 §4.3).

Client and redirect URI come first and apart: until both are trusted, an error must not redirect.
"""

from __future__ import annotations

import hmac

from mock_vneid.claims import SUPPORTED_SCOPES
from mock_vneid.errors import (
    InvalidRequest,
    InvalidScope,
    LoginRequired,
    RequestNotSupported,
    RequestUriNotSupported,
    UnsupportedResponseType,
)
from mock_vneid.params import Params, repeated_message
from mock_vneid.pkce import is_valid_challenge
from mock_vneid.settings import MockSettings
from mock_vneid.store import AuthorizationRequest


class UntrustedRedirect(Exception):
    """The client or its redirect URI is not known: answer with a page, never a redirect."""


def trusted_redirect(params: Params, settings: MockSettings) -> tuple[str, str]:
    if {"client_id", "redirect_uri"} & params.repeated:
        raise UntrustedRedirect("client_id and redirect_uri must each be sent once")
    client_id = params.get("client_id")
    if client_id is None:
        raise UntrustedRedirect("client_id is missing")
    if not hmac.compare_digest(client_id.encode(), settings.client_id.encode()):
        raise UntrustedRedirect("the client is not registered")
    redirect_uri = params.get("redirect_uri")
    if redirect_uri is None:
        raise UntrustedRedirect("redirect_uri is missing")
    # Byte-for-byte comparison: no case folding, prefixes or normalisation (RFC 9700 §4.1.3).
    if redirect_uri not in settings.redirect_uris:
        raise UntrustedRedirect("redirect_uri is not registered for this client")
    return client_id, redirect_uri


def parse_authorization_request(
    params: Params, client_id: str, redirect_uri: str, *, oidc: bool = True
) -> AuthorizationRequest:
    """``oidc=False`` (the oauth2-userinfo and vneid-gateway modes): nonce and PKCE are optional, as the
    national portal's and the gateway's clients send neither; "" stands for "not sent"."""
    if params.repeated:
        raise InvalidRequest(repeated_message(params))
    if "request" in params:
        raise RequestNotSupported("request objects are not supported")
    if "request_uri" in params:
        raise RequestUriNotSupported("request_uri is not supported")
    response_type = params.get("response_type")
    if response_type is None:
        raise InvalidRequest("response_type is required")
    if response_type != "code":
        raise UnsupportedResponseType("only response_type=code is supported")
    response_mode = params.get("response_mode")
    if response_mode not in (None, "query"):
        raise InvalidRequest("only response_mode=query is supported")
    scope = tuple((params.get("scope") or "").split())
    if "openid" not in scope:
        raise InvalidScope("scope must contain openid")
    state = params.get("state")
    if state is None:
        raise InvalidRequest("state is required")
    nonce = params.get("nonce")
    if nonce is None:
        if oidc:
            raise InvalidRequest("nonce is required")
        nonce = ""
    code_challenge = params.get("code_challenge")
    if code_challenge is None:
        if oidc:
            raise InvalidRequest("code_challenge is required (PKCE)")
        code_challenge = ""
    if code_challenge:
        if params.get("code_challenge_method") != "S256":
            raise InvalidRequest("code_challenge_method must be S256")
        if not is_valid_challenge(code_challenge):
            raise InvalidRequest("code_challenge must be 43 base64url characters")
    max_age = params.get("max_age")
    if max_age is not None and not max_age.isdigit():
        raise InvalidRequest("max_age must be a non-negative integer")
    prompt = (params.get("prompt") or "").split()
    if "none" in prompt:
        if len(prompt) > 1:
            raise InvalidRequest("prompt=none cannot be combined with other values")
        # The mock keeps no session, so there is never a user to log in silently.
        raise LoginRequired("the citizen must log in")
    return AuthorizationRequest(
        client_id=client_id,
        redirect_uri=redirect_uri,
        # Unknown scope values are ignored (OIDC Core §3.1.2.1), so they are not granted either.
        scope=tuple(s for s in dict.fromkeys(scope) if s in SUPPORTED_SCOPES),
        state=state,
        nonce=nonce,
        code_challenge=code_challenge,
        acr_values=tuple((params.get("acr_values") or "").split()),
        login_hint=params.get("login_hint") or "",
    )
