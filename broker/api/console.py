"""The officers' console at /console: thin routes over the console use cases (broker.admin.console_*).

Staff sign in through the broker itself (see broker.admin.console_auth). Every page needs a live console
session; every POST carries the session's CSRF token; what each section shows depends on the roles the
officer holds now."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from broker.admin import (
    console_accounts,
    console_auth,
    console_clients,
    console_dashboard,
    console_lookup,
    console_reviews,
)
from broker.admin.console_auth import Officer
from broker.api.deps import PagesDep, RegistryDep

router = APIRouter(tags=["console"])

CONSOLE_COOKIE = "broker_console"
LOGIN_COOKIE = "broker_console_login"
_PATH = "/console"
CsrfField = Annotated[str, Form(alias="csrf")]
_SECTION_PAGES = {
    "reviews.html": "/console/reviews",
    "lookup.html": "/console/lookup",
    "new_account.html": "/console/accounts/new",
}


async def _officer(request: Request, registry: RegistryDep) -> Officer | None:
    return await console_auth.current(registry, request.cookies.get(CONSOLE_COOKIE))


def _render(
    request: Request,
    pages: PagesDep,
    officer: Officer | None,
    template: str,
    status_code: int = 200,
    **ctx: Any,
) -> Response:
    if request.method != "GET" or request.url.path == "/console/callback":
        # A page answered to a POST (or at the callback) cannot be reloaded: its language links lead to
        # the section's own page.
        ctx.setdefault("switch_to", _SECTION_PAGES.get(template, "/console"))
    return pages.render(
        request,
        f"console/{template}",
        status_code=status_code,
        officer=officer,
        may_review=officer is not None and console_reviews.may_review(officer),
        may_look_up=officer is not None and console_lookup.may_look_up(officer),
        may_create=officer is not None and console_accounts.may_create(officer),
        may_see_dashboard=officer is not None and console_dashboard.may_see(officer),
        may_see_clients=officer is not None and console_clients.may_see(officer),
        **ctx,
    )


def _signed_out(request: Request, pages: PagesDep, status_code: int = 401) -> Response:
    return _render(request, pages, None, "sign_in.html", status_code=status_code)


async def _admitted(
    request: Request, registry: RegistryDep, pages: PagesDep, may: Callable[[Officer], bool]
) -> Officer | Response:
    """The signed-in officer when their roles allow the section; otherwise the page that says why."""
    officer = await _officer(request, registry)
    if officer is None:
        return _signed_out(request, pages)
    if not may(officer):
        return _refused(request, pages, officer, "role_required")
    return officer


def _refused(request: Request, pages: PagesDep, officer: Officer, reason: str) -> Response:
    return _render(request, pages, officer, "refused.html", status_code=403, reason=reason)


@router.get("/console", name="console_home")
async def console_home(request: Request, registry: RegistryDep, pages: PagesDep) -> Response:
    officer = await _officer(request, registry)
    if officer is None:
        return _signed_out(request, pages, status_code=200)
    return _render(request, pages, officer, "home.html")


@router.get("/console/login", name="console_login")
async def console_login(registry: RegistryDep) -> Response:
    start = await console_auth.begin(registry)
    response = RedirectResponse(start.authorize_url, status_code=303)
    _set_cookie(response, LOGIN_COOKIE, start.cookie, console_auth.LOGIN_COOKIE_SECONDS, registry)
    return response


def _set_cookie(response: Response, name: str, value: str, max_age: int, registry: RegistryDep) -> None:
    """The console's cookies: HttpOnly, SameSite=Lax, secure behind https, sent to the console only."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=registry.settings.secure_cookies,
        path=_PATH,
    )


@router.get("/console/callback", name="console_callback")
async def console_callback(request: Request, registry: RegistryDep, pages: PagesDep) -> Response:
    params = request.query_params
    try:
        cookie = await console_auth.finish(
            registry, params.get("code"), params.get("state"), request.cookies.get(LOGIN_COOKIE)
        )
    except console_auth.ConsoleSignInRefused as refused:
        return _render(request, pages, None, "sign_in.html", status_code=403, reason=refused.reason)
    response = RedirectResponse(request.url_for("console_home").path, status_code=303)
    response.delete_cookie(LOGIN_COOKIE, path=_PATH)
    _set_cookie(response, CONSOLE_COOKIE, cookie, registry.settings.console_session_ttl_seconds, registry)
    return response


@router.post("/console/logout", name="console_logout")
async def console_logout(
    request: Request, registry: RegistryDep, pages: PagesDep, csrf: CsrfField = ""
) -> Response:
    officer = await _officer(request, registry)
    if officer is not None and console_auth.csrf_ok(officer, csrf):
        await console_auth.sign_out(registry, officer)
    response = RedirectResponse(request.url_for("console_home").path, status_code=303)
    response.delete_cookie(CONSOLE_COOKIE, path=_PATH)
    return response


@router.get("/console/reviews", name="console_reviews")
async def reviews_page(request: Request, registry: RegistryDep, pages: PagesDep) -> Response:
    officer = await _admitted(request, registry, pages, console_reviews.may_review)
    if isinstance(officer, Response):
        return officer
    groups = await console_reviews.queue(registry)
    return _render(request, pages, officer, "reviews.html", groups=groups, decision=None)


@router.post("/console/reviews/{item_id}", name="console_review_decide")
async def review_decide(
    item_id: int,
    request: Request,
    registry: RegistryDep,
    pages: PagesDep,
    csrf: CsrfField = "",
    action: Annotated[str, Form()] = "",
    keep: Annotated[str, Form()] = "",
) -> Response:
    officer = await _officer(request, registry)
    if officer is None:
        return _signed_out(request, pages)
    if not console_auth.csrf_ok(officer, csrf):
        return _refused(request, pages, officer, "csrf")
    try:
        decision = await console_reviews.decide(registry, officer, item_id, action, keep or None)
    except console_reviews.ReviewRefused as refused:
        groups = await console_reviews.queue(registry)
        return _render(
            request,
            pages,
            officer,
            "reviews.html",
            status_code=409,
            groups=groups,
            decision=None,
            error=refused.reason,
        )
    groups = await console_reviews.queue(registry)
    return _render(request, pages, officer, "reviews.html", groups=groups, decision=decision)


@router.get("/console/lookup", name="console_lookup")
async def lookup_page(request: Request, registry: RegistryDep, pages: PagesDep) -> Response:
    officer = await _admitted(request, registry, pages, console_lookup.may_look_up)
    if isinstance(officer, Response):
        return officer
    return _render(request, pages, officer, "lookup.html", result=None)


@router.post("/console/lookup", name="console_lookup_run")
async def lookup_run(
    request: Request,
    registry: RegistryDep,
    pages: PagesDep,
    csrf: CsrfField = "",
    query: Annotated[str, Form()] = "",
) -> Response:
    """A POST, so that the number looked up never appears in a URL (logs, history, Referer)."""
    officer = await _officer(request, registry)
    if officer is None:
        return _signed_out(request, pages)
    if not console_auth.csrf_ok(officer, csrf):
        return _refused(request, pages, officer, "csrf")
    try:
        result = await console_lookup.look_up(registry, officer, query)
    except console_lookup.LookupRefused as refused:
        status = 403 if refused.reason == "role_required" else 400
        return _render(
            request, pages, officer, "lookup.html", status_code=status, result=None, error=refused.reason
        )
    return _render(request, pages, officer, "lookup.html", result=result)


@router.get("/console/accounts/new", name="console_new_account")
async def new_account_page(request: Request, registry: RegistryDep, pages: PagesDep) -> Response:
    officer = await _admitted(request, registry, pages, console_accounts.may_create)
    if isinstance(officer, Response):
        return officer
    return _render(request, pages, officer, "new_account.html", created=None, form={})


@router.post("/console/accounts", name="console_create_account")
async def create_account(request: Request, registry: RegistryDep, pages: PagesDep) -> Response:
    officer = await _officer(request, registry)
    if officer is None:
        return _signed_out(request, pages)
    form = {key: value for key, value in (await request.form()).items() if isinstance(value, str)}
    if not console_auth.csrf_ok(officer, form.pop("csrf", None)):
        return _refused(request, pages, officer, "csrf")
    outcome = await console_accounts.create(registry, officer, form)
    status = 201 if outcome.created is not None else (403 if outcome.refusal else 400)
    return _render(
        request,
        pages,
        officer,
        "new_account.html",
        status_code=status,
        created=outcome.created,
        refusal=outcome.refusal,
        invalid=outcome.invalid_fields,
        form=form,
    )


@router.get("/console/dashboard", name="console_dashboard")
async def dashboard_page(request: Request, registry: RegistryDep, pages: PagesDep) -> Response:
    officer = await _admitted(request, registry, pages, console_dashboard.may_see)
    if isinstance(officer, Response):
        return officer
    board = await console_dashboard.dashboard(registry)
    return _render(request, pages, officer, "dashboard.html", board=board)


@router.get("/console/dashboard/cleanup.{extension}", name="console_dashboard_download")
async def dashboard_download(
    extension: str, request: Request, registry: RegistryDep, pages: PagesDep
) -> Response:
    officer = await _admitted(request, registry, pages, console_dashboard.may_see)
    if isinstance(officer, Response):
        return officer
    if extension not in console_dashboard.DOWNLOADS:
        return pages.error(request, "not_found", 404)
    content, media_type = await console_dashboard.download(registry, officer, extension)
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="cleanup.{extension}"'},
    )


@router.get("/console/clients", name="console_clients")
async def clients_page(request: Request, registry: RegistryDep, pages: PagesDep) -> Response:
    officer = await _admitted(request, registry, pages, console_clients.may_see)
    if isinstance(officer, Response):
        return officer
    return _render(
        request, pages, officer, "clients.html", clients=await console_clients.registered(registry)
    )
