"""Errors named after their wire codes.

One class per OAuth 2.0 / OIDC error code (RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3, OIDC Core §3.1.2.6),
so handlers translate them to the wire without a lookup table; and the broker's own page errors.
"""

from __future__ import annotations

from typing import ClassVar


class OAuthError(Exception):
    error: ClassVar[str] = "invalid_request"
    status_code: ClassVar[int] = 400

    def __init__(self, description: str | None = None) -> None:
        super().__init__(description or self.error)
        self.description = description

    def body(self) -> dict[str, str]:
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return body


class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidClient(OAuthError):
    error = "invalid_client"
    status_code = 401


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class UnsupportedResponseType(OAuthError):
    error = "unsupported_response_type"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class AccessDenied(OAuthError):
    error = "access_denied"
    status_code = 403


class LoginRequired(OAuthError):
    error = "login_required"


class UnmetAuthenticationRequirements(OAuthError):
    """OpenID Connect Core Unmet Authentication Requirements 1.0 §4: the login did not reach the level the
    RP (or its registration) requires."""

    error = "unmet_authentication_requirements"


class InvalidClientMetadata(OAuthError):
    """RFC 7591 §3.2.2: a registration value is invalid."""

    error = "invalid_client_metadata"


class ServerError(OAuthError):
    error = "server_error"
    status_code = 500


class TemporarilyUnavailable(OAuthError):
    error = "temporarily_unavailable"
    status_code = 503


class InvalidToken(OAuthError):
    """RFC 6750 §3.1: the access token is missing, expired, revoked or malformed."""

    error = "invalid_token"
    status_code = 401


class InsufficientScope(OAuthError):
    error = "insufficient_scope"
    status_code = 403


class InvalidAuthorizationRequest(Exception):
    """The client or redirect_uri cannot be trusted: shown as a page, never redirected (RFC 6749 §4.1.2.1)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ClientRedirect(Exception):
    """An OAuth error to deliver at the client's (already verified) redirect URI, as a 303."""

    def __init__(self, url: str) -> None:
        super().__init__("redirect to the client")
        self.url = url


class LoginFlowError(Exception):
    """A broken or replayed browser login flow (unknown, expired, used, or not this browser's)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UpstreamError(Exception):
    """VNeID failed or answered something we cannot trust; ``reason`` is a short machine code."""

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class UpstreamCancelled(UpstreamError):
    """The citizen cancelled at the upstream (``error=access_denied`` at the callback): not a failure."""


class IdentityRefused(UpstreamError):
    """The upstream vouched for someone the broker cannot take: a required claim missing, not a citizen,
    a subject that changed. Shown with the hotline; ``reason`` goes to the audit."""


class StoreConflict(Exception):
    """A uniqueness constraint refused a write (e.g. a concurrent first login already linked)."""


class StoreUnavailable(Exception):
    """The database could not be reached or failed: fail closed with 503, never pretend success."""


class StoreRejectedInput(Exception):
    """The database refused a value as malformed (e.g. a NUL byte): the request was bad input, not an
    outage."""


class StoreGuardFailed(Exception):
    """A guarded write matched other than the rows it had to (``core_rows.defer_expecting``): nothing of
    its transaction was written. ``refusal`` is what the guard's caller named the case."""

    def __init__(self, refusal: str) -> None:
        super().__init__(refusal)
        self.refusal = refusal


class PolicyRefused(Exception):
    """THE policy refused this login (broker.domain.policy): a page carrying its reason code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Overloaded(Exception):
    """Too much work is already waiting (e.g. for the password workers): 503 with Retry-After at once."""
