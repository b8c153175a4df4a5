"""The OpenID Provider's endpoints: discovery, JWKS, authorize, token, userinfo, introspection, revocation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from broker import i18n
from broker.api.deps import (
    BROWSER_COOKIE,
    BrowserDep,
    RegistryDep,
    SessionCookieDep,
    get_pages,
    get_registry,
    set_token_cookie,
)
from broker.api.json_answer import JsonAnswer
from broker.api.login import render_login_page
from broker.errors import InvalidClient, InvalidRequest, OAuthError, StoreUnavailable, TemporarilyUnavailable
from broker.login import authorize, bearer, introspection, revocation, token, userinfo
from broker.login.ids import new_token
from broker.oidc import discovery
from broker.oidc.params import parse_form
from broker.registry import Registry

router = APIRouter()

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.get("/.well-known/openid-configuration", tags=["discovery"])
async def openid_configuration(request: Request) -> Response:
    """OpenID Provider metadata (OIDC Discovery 1.0 §4)."""
    # No injected dependency on the two most requested endpoints: solving one is a tenth of their cost.
    registry = get_registry(request)
    ring = await registry.keyring()
    return Response(
        discovery.metadata_bytes(registry.settings.issuer, tuple(ring.algorithms())),
        media_type="application/json",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get("/jwks", tags=["discovery"])
async def jwks(request: Request) -> Response:
    """The broker's public signing keys (RFC 7517), every key with a ``kid``."""
    registry = get_registry(request)
    ring = await registry.keyring()
    # Cacheable, but never longer than a new key is published before it signs (see broker.login.keys).
    max_age = registry.settings.jwks_max_age_seconds
    return Response(
        ring.jwks_bytes,
        media_type="application/json",
        headers={"Cache-Control": f"public, max-age={max_age}"},
    )


@router.get("/authorize", tags=["oidc"])
async def authorize_get(
    request: Request, registry: RegistryDep, browser: BrowserDep, session_cookie: SessionCookieDep
) -> Response:
    """Authorization endpoint (RFC 6749 §4.1.1, OIDC Core §3.1.2.1): a redirect with a code from the SSO
    session when it can, else the login page (200)."""
    return await _authorize(request, registry, browser, session_cookie, request.query_params.multi_items())


@router.post("/authorize", tags=["oidc"])
async def authorize_post(
    request: Request, registry: RegistryDep, browser: BrowserDep, session_cookie: SessionCookieDep
) -> Response:
    """Authorization endpoint by form POST (OIDC Core §3.1.2.1)."""
    form = parse_form(await request.body(), request.headers.get("content-type"))
    return await _authorize(request, registry, browser, session_cookie, list(form.items()))


async def _authorize(
    request: Request,
    registry: RegistryDep,
    browser: str | None,
    session_cookie: str | None,
    query: list[tuple[str, str]],
) -> Response:
    browser_id = browser or new_token()
    outcome = await authorize.start(registry, query, browser_id, session_cookie)
    if isinstance(outcome, authorize.RedirectToClient):
        response: Response = RedirectResponse(outcome.url, status_code=303)
    else:
        hinted = i18n.from_ui_locales(next((value for name, value in query if name == "ui_locales"), None))
        response = render_login_page(
            request, registry, get_pages(request), outcome, at_authorize=True, hinted=hinted
        )
    if browser is None:
        set_token_cookie(response, BROWSER_COOKIE, browser_id, registry.settings.secure_cookies)
    return response


@router.post("/token", tags=["oidc"])
async def token_endpoint(request: Request) -> JSONResponse:
    """Token endpoint (RFC 6749 §3.2, §4.1.3); form-encoded body only."""
    # Also answered before the routing, by broker.api.lean, through the same function.
    return await token_answer(
        get_registry(request),  # not injected: see userinfo_answer
        await request.body(),
        request.headers.get("content-type"),
        request.headers.get("authorization"),
    )


async def token_answer(
    registry: Registry, body: bytes, content_type: str | None, authorization: str | None
) -> JSONResponse:
    try:
        form = parse_form(body, content_type)
        answer = await token.exchange(registry, form, authorization)
    except StoreUnavailable:
        return _token_error(registry, TemporarilyUnavailable("try again later"), authorization)
    except OAuthError as error:
        return _token_error(registry, error, authorization)
    return JsonAnswer(answer, headers=NO_STORE)


@router.post("/introspect", tags=["oidc"])
async def introspection_endpoint(request: Request) -> JSONResponse:
    """Token introspection (RFC 7662 §2), for the authenticated client's own tokens."""
    return await introspection_answer(
        get_registry(request),
        await request.body(),
        request.headers.get("content-type"),
        request.headers.get("authorization"),
    )


async def introspection_answer(
    registry: Registry, body: bytes, content_type: str | None, authorization: str | None
) -> JSONResponse:
    try:
        form = parse_form(body, content_type)
        answer = await introspection.introspect(registry, form, authorization)
    except StoreUnavailable:
        return _client_error(TemporarilyUnavailable("try again later"))
    except OAuthError as error:
        return _client_error(error)
    return JsonAnswer(answer, headers=NO_STORE)


@router.post("/revoke", tags=["oidc"])
async def revocation_endpoint(request: Request) -> Response:
    """Token revocation (RFC 7009 §2): 200 for any token, 503 when the revocation could not be stored."""
    registry = get_registry(request)
    authorization = request.headers.get("authorization")
    try:
        form = parse_form(await request.body(), request.headers.get("content-type"))
        await revocation.revoke(registry, form, authorization)
    except StoreUnavailable:
        return _client_error(TemporarilyUnavailable("the revocation could not be stored; try again"))
    except OAuthError as error:
        return _client_error(error)
    return Response(status_code=200, headers=NO_STORE)


def _client_error(error: OAuthError) -> JSONResponse:
    """RFC 6749 §5.2 errors, as RFC 7009 §2.2.1 and RFC 7662 §2.3 use them; 503 asks to retry later."""
    headers = dict(NO_STORE)
    if isinstance(error, InvalidClient):
        headers["WWW-Authenticate"] = 'Basic realm="broker"'
    if isinstance(error, TemporarilyUnavailable):
        headers["Retry-After"] = "5"
    return JSONResponse(error.body(), status_code=error.status_code, headers=headers)


def _token_error(registry: Any, error: OAuthError, authorization: str | None) -> JSONResponse:
    """RFC 6749 §5.2: JSON error; 401 with a challenge for a failed client authentication."""
    registry.metrics.token_errors.labels(error.error).inc()
    headers = dict(NO_STORE)
    if isinstance(error, InvalidClient):
        headers["WWW-Authenticate"] = 'Basic realm="broker"'
    if isinstance(error, TemporarilyUnavailable):
        headers["Retry-After"] = str(registry.settings.unavailable_retry_after_seconds)
    return JSONResponse(error.body(), status_code=error.status_code, headers=headers)


@router.get("/userinfo", tags=["oidc"])
async def userinfo_get(request: Request) -> JSONResponse:
    """UserInfo endpoint (OIDC Core §5.3), Bearer token in the Authorization header (RFC 6750 §2.1)."""
    return await userinfo_answer(get_registry(request), request.headers.get("authorization"))


@router.post("/userinfo", tags=["oidc"])
async def userinfo_post(request: Request) -> JSONResponse:
    return await userinfo_answer(get_registry(request), request.headers.get("authorization"))


async def userinfo_answer(registry: Registry, authorization: str | None) -> JSONResponse:
    # The registry is read, not injected, on the token endpoints: solving a dependency per request was a
    # visible share of their cost (FastAPI's solve_dependencies), for an object that never changes. Also
    # answered before the routing, by broker.api.lean, through this same function.
    try:
        claims = await userinfo.claims(registry, authorization)
    except StoreUnavailable:
        return JSONResponse({"error": "temporarily_unavailable"}, status_code=503, headers=NO_STORE)
    except userinfo.MissingToken:
        return JSONResponse({}, status_code=401, headers={**NO_STORE, "WWW-Authenticate": bearer.challenge()})
    except (OAuthError, InvalidRequest) as error:
        return JSONResponse(
            error.body(),
            status_code=error.status_code,
            headers={**NO_STORE, "WWW-Authenticate": bearer.challenge(error)},
        )
    return JsonAnswer(claims, headers=NO_STORE)
