"""The end-session endpoint (RP-Initiated Logout 1.0 §2) and its confirmation page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from broker.api.deps import PagesDep, RegistryDep, SessionCookieDep, clear_session_cookie
from broker.login import logout
from broker.oidc.params import parse_form

router = APIRouter(tags=["logout"])


@router.get("/logout", name="end_session")
async def end_session_get(
    request: Request, registry: RegistryDep, pages: PagesDep, session_cookie: SessionCookieDep
) -> Response:
    """End-session endpoint: ``id_token_hint``, ``post_logout_redirect_uri``, ``state``, ``client_id``."""
    return await _end_session(request, registry, pages, session_cookie, request.query_params.multi_items())


@router.post("/logout", name="end_session_post")
async def end_session_post(
    request: Request, registry: RegistryDep, pages: PagesDep, session_cookie: SessionCookieDep
) -> Response:
    """End-session endpoint by form POST (RP-Initiated Logout 1.0 §2)."""
    form = parse_form(await request.body(), request.headers.get("content-type"))
    return await _end_session(request, registry, pages, session_cookie, list(form.items()))


@router.post("/logout/confirm", name="confirm_logout")
async def confirm_logout(
    request: Request, registry: RegistryDep, pages: PagesDep, session_cookie: SessionCookieDep
) -> Response:
    """The person confirmed the logout on the broker's page (a POST carrying the CSRF token)."""
    form = parse_form(await request.body(), request.headers.get("content-type"))
    try:
        done = await logout.confirm(registry, form, session_cookie)
    except logout.LogoutRefused as refused:
        return pages.error(request, "logout", 400, reason=refused.reason)
    return _done(request, registry, pages, done)


async def _end_session(
    request: Request,
    registry: RegistryDep,
    pages: PagesDep,
    session_cookie: str | None,
    params: list[tuple[str, str]],
) -> Response:
    try:
        outcome = await logout.request(registry, params, session_cookie)
    except logout.LogoutRefused as refused:
        return pages.error(request, "logout", 400, reason=refused.reason)
    if isinstance(outcome, logout.Confirm):
        return pages.render(
            request,
            "logout_confirm.html",
            confirm_url=request.url_for("confirm_logout").path,
            csrf=outcome.csrf,
            client_name=outcome.client_name,
            client_id=outcome.client_id,
            post_logout_redirect_uri=outcome.post_logout_redirect_uri,
            state=outcome.state,
        )
    return _done(request, registry, pages, outcome)


def _done(request: Request, registry: RegistryDep, pages: PagesDep, done: logout.Done) -> Response:
    response: Response
    if done.upstream_logout is not None:  # issue 10: the upstream's session ends in the browser too
        response = RedirectResponse(done.upstream_logout, status_code=303)
    elif done.redirect is not None:
        response = RedirectResponse(done.redirect, status_code=303)
    else:
        response = pages.render(request, "logged_out.html", client_name=done.client_name)
    clear_session_cookie(response, registry.settings.secure_cookies)
    return response
