"""The authorization code grant at the token endpoint (RFC 6749 §4.1.3–4.1.4, RFC 7636 §4.6)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from mock_vneid.claims import subject
from mock_vneid.context import MockContext
from mock_vneid.errors import InvalidGrant, InvalidRequest, UnsupportedGrantType
from mock_vneid.faults import FaultPlan, sign_with_fault, tamper_claims
from mock_vneid.id_token import id_token_claims
from mock_vneid.params import Params
from mock_vneid.pkce import is_valid_verifier, verifies
from mock_vneid.store import AccessToken, AuthorizationCode


def _required(form: Params, name: str) -> str:
    value = form.get(name)
    if value is None:
        raise InvalidRequest(f"{name} is required")
    return value


def redeem(ctx: MockContext, form: Params, client_id: str) -> AuthorizationCode:
    code_value = _required(form, "code")
    redirect_uri = _required(form, "redirect_uri")
    verifier = form.get("code_verifier")
    if verifier is not None and not is_valid_verifier(verifier):
        raise InvalidRequest("code_verifier must be 43–128 unreserved characters")
    code = ctx.store.codes.get(code_value, ctx.now())
    if code is None:
        raise InvalidGrant("the code is unknown or expired")
    if code.used:
        # RFC 6749 §4.1.2: a replayed code revokes what it issued, since one of the two holders is a thief.
        _revoke(ctx, code.access_token)
        raise InvalidGrant("the code was already used")
    # Any attempt burns the code, so a verifier cannot be guessed one try at a time.
    code.used = True
    if code.request.client_id != client_id:
        raise InvalidGrant("the code was issued to another client")
    if code.request.redirect_uri != redirect_uri:
        raise InvalidGrant("redirect_uri differs from the authorization request")
    # A request with a challenge needs its verifier (always, in oidc mode); the other modes' clients may
    # send neither, as their public integrations do.
    if code.request.code_challenge or verifier is not None:
        if verifier is None:
            raise InvalidRequest("code_verifier is required")
        if not verifies(verifier, code.request.code_challenge):
            raise InvalidGrant("code_verifier does not match the code_challenge")
    return code


def _revoke(ctx: MockContext, access_token: str | None) -> None:
    token = ctx.store.access_tokens.get(access_token, ctx.now()) if access_token else None
    if token is not None:
        token.revoked = True


def exchange(ctx: MockContext, form: Params, client_id: str, plan: FaultPlan | None) -> dict[str, Any]:
    """The successful token response body; `plan` tampers with the ID token when the tests ask."""
    grant_type = _required(form, "grant_type")
    if grant_type != "authorization_code":
        raise UnsupportedGrantType("only authorization_code is supported")
    code = redeem(ctx, form, client_id)
    citizen = ctx.citizens.get(code.citizen_number)
    if citizen is None:  # the directory is fixed at start-up, so only a bug lands here
        raise InvalidGrant("the citizen is unknown")
    settings, now = ctx.settings, ctx.now()
    access_token = ctx.store.access_tokens.add(
        AccessToken(citizen.identification_number, client_id, code.request.scope),
        now + timedelta(seconds=settings.access_token_ttl_seconds),
        now,
    )
    code.access_token = access_token
    skew = timedelta(seconds=plan.clock_offset_seconds if plan else 0)
    claims = id_token_claims(
        issuer=settings.issuer,
        audience=client_id,
        subject=subject(citizen, settings.subject_secret),
        citizen=citizen,
        nonce=code.request.nonce,
        auth_time=code.auth_time + skew,
        issued_at=now + skew,
        lifetime=timedelta(seconds=settings.id_token_ttl_seconds),
        access_token=access_token,
    )
    fault = plan.id_token if plan else None
    if plan is not None:
        claims = {name: value for name, value in claims.items() if name not in plan.id_token_drop_claims}
    return {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": settings.access_token_ttl_seconds,
        "id_token": sign_with_fault(tamper_claims(claims, fault), ctx.keys, fault),
        "scope": " ".join(code.request.scope),
    }
