"""Authorization responses: back to the client's redirect URI, with `iss` (RFC 9207)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi.responses import RedirectResponse

from mock_vneid.errors import OAuthError


def with_query(uri: str, values: dict[str, str]) -> str:
    """Adds to the query, keeping what the registered URI already had (RFC 6749 §3.1.2)."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(values.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def authorization_response(
    redirect_uri: str, issuer: str, state: str | None, values: dict[str, str], status_code: int
) -> RedirectResponse:
    response_values = {**values, **({"state": state} if state is not None else {}), "iss": issuer}
    return RedirectResponse(with_query(redirect_uri, response_values), status_code=status_code)


def error_response(
    redirect_uri: str, issuer: str, state: str | None, error: OAuthError, status_code: int
) -> RedirectResponse:
    values = {"error": error.error, "error_description": error.description}
    return authorization_response(redirect_uri, issuer, state, values, status_code)
