"""The authorization endpoint's request and response (RFC 6749 §4.1, OIDC Core §3.1.2, RFC 9207)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from broker.errors import (
    InvalidAuthorizationRequest,
    InvalidRequest,
    InvalidScope,
    OAuthError,
    UnsupportedResponseType,
)
from broker.oidc import pkce, scopes
from broker.oidc.params import single_valued

PROMPT_VALUES = frozenset({"none", "login", "consent", "select_account"})


class RequestNotSupported(OAuthError):
    error = "request_not_supported"


class RequestUriNotSupported(OAuthError):
    error = "request_uri_not_supported"


@dataclass(frozen=True)
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    scope: str
    state: str | None
    nonce: str | None
    code_challenge: str
    prompt: frozenset[str]
    max_age: int | None = None
    acr_values: tuple[str, ...] = ()


def trusted_redirect_uri(
    query: Sequence[tuple[str, str]], registered: Sequence[str] | None
) -> tuple[str, str]:
    """Finds the client and redirect URI that errors may be sent to, or raises for a page.

    RFC 6749 §4.1.2.1: with a missing, invalid or mismatching redirect URI or client, the user is told
    and never redirected. The match is byte for byte (RFC 9700 §4.1.3): no normalisation at all.
    """
    client_ids = [value for name, value in query if name == "client_id"]
    redirect_uris = [value for name, value in query if name == "redirect_uri"]
    if len(client_ids) != 1 or not client_ids[0]:
        raise InvalidAuthorizationRequest("client_id_missing")
    if registered is None:
        raise InvalidAuthorizationRequest("client_unknown")
    if len(redirect_uris) != 1 or not redirect_uris[0]:
        raise InvalidAuthorizationRequest("redirect_uri_missing")
    if redirect_uris[0] not in registered:
        raise InvalidAuthorizationRequest("redirect_uri_mismatch")
    return client_ids[0], redirect_uris[0]


def raw_state(query: Sequence[tuple[str, str]]) -> str | None:
    """The state to echo in an error response, even when the request is otherwise broken."""
    states = [value for name, value in query if name == "state"]
    return states[0] if len(states) == 1 and states[0] else None


def parse(query: Sequence[tuple[str, str]], client_id: str, redirect_uri: str) -> AuthorizationRequest:
    """Validates everything but the client and redirect URI; raises errors to be redirected back."""
    params = single_valued(query)
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
    if "openid" not in scopes.parse(params.get("scope", "")):
        raise InvalidScope("the openid scope is required")
    challenge = params.get("code_challenge")
    if challenge is None:
        raise InvalidRequest("code_challenge is required (PKCE, S256)")
    if params.get("code_challenge_method") != "S256":
        raise InvalidRequest("code_challenge_method must be S256")
    if not pkce.is_valid_challenge(challenge):
        raise InvalidRequest("code_challenge must be 43-128 characters of [A-Za-z0-9-._~]")
    prompt = frozenset(scopes.parse(params.get("prompt", "")))
    if not prompt <= PROMPT_VALUES:
        raise InvalidRequest("unsupported prompt value")
    if "none" in prompt and len(prompt) > 1:
        raise InvalidRequest("prompt=none cannot be combined with other values")
    max_age = params.get("max_age")
    if max_age is not None and not (max_age.isascii() and max_age.isdigit()):
        raise InvalidRequest("max_age must be a non-negative integer")
    return AuthorizationRequest(
        client_id=client_id,
        redirect_uri=redirect_uri,
        scope=scopes.granted(params["scope"]),
        state=params.get("state"),
        nonce=params.get("nonce"),
        code_challenge=challenge,
        prompt=prompt,
        max_age=int(max_age) if max_age is not None else None,
        acr_values=tuple(scopes.parse(params.get("acr_values", ""))),
    )


def response_url(redirect_uri: str, params: dict[str, str | None]) -> str:
    """Adds response parameters to the redirect URI, keeping its own query (RFC 6749 §3.1.2)."""
    parts = urlsplit(redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.extend((name, value) for name, value in params.items() if value is not None)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def error_url(redirect_uri: str, error: OAuthError, state: str | None, issuer: str) -> str:
    return response_url(
        redirect_uri,
        {"error": error.error, "error_description": error.description, "state": state, "iss": issuer},
    )
