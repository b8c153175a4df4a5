"""The UserInfo endpoint (OIDC Core §5.3), a protected resource under RFC 6750."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from mock_vneid.claims import identity_claims, subject
from mock_vneid.deps import ContextDep
from mock_vneid.errors import InvalidRequest, InvalidToken, OAuthError
from mock_vneid.params import FORM_CONTENT_TYPE, read_form

router = APIRouter()

_REALM = 'Bearer realm="mock-vneid"'
_NO_STORE = {"Cache-Control": "no-store"}


class _NoCredentials(Exception):
    """RFC 6750 §3.1: a request without any token gets a bare challenge, no error code."""


async def _bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    from_body = None
    content_type = request.headers.get("content-type", "")
    if request.method == "POST" and content_type.lower().startswith(FORM_CONTENT_TYPE):
        from_body = (await read_form(request)).get("access_token")
    if header is not None and from_body is not None:
        raise InvalidRequest("the access token was sent in more than one way")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidRequest("the Authorization header must use the Bearer scheme")
        return token.strip()
    if from_body is not None:
        return from_body
    raise _NoCredentials


@router.api_route("/userinfo", methods=["GET", "POST"])
async def userinfo(request: Request, ctx: ContextDep) -> Response:
    try:
        token_value = await _bearer_token(request)
        token = ctx.store.access_tokens.get(token_value, ctx.now())
        if token is None or token.revoked:
            raise InvalidToken("the access token is unknown, expired or revoked")
        citizen = ctx.citizens.get(token.citizen_number)
        if citizen is None:
            raise InvalidToken("the access token's citizen is unknown")
    except _NoCredentials:
        body = {"error_description": "an access token is required"}
        return JSONResponse(body, 401, {"WWW-Authenticate": _REALM, **_NO_STORE})
    except OAuthError as exc:
        challenge = f'{_REALM}, error="{exc.error}", error_description="{exc.description}"'
        body = {"error": exc.error, "error_description": exc.description}
        return JSONResponse(body, exc.status_code, {"WWW-Authenticate": challenge, **_NO_STORE})
    claims = {"sub": subject(citizen, ctx.settings.subject_secret), **identity_claims(citizen)}
    return JSONResponse(claims, headers=_NO_STORE)
