"""The broker's own pages in a login: the choice of method, VNeID and back, the legacy password form,
the "link your VNeID" suggestion, and Case 3's choice of the account to keep."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from broker.api.deps import BrowserDep, PagesDep, RegistryDep, set_session_cookie
from broker.errors import IdentityRefused, LoginFlowError, UpstreamCancelled, UpstreamError
from broker.login import (
    cancel,
    choose_account,
    continue_login,
    legacy_password,
    page,
    vneid_callback,
    vneid_start,
)
from broker.login.outcomes import Outcome, Redirect

router = APIRouter(tags=["login"])

FlowField = Annotated[str | None, Form(alias="flow")]

_TEMPLATES = {
    "suggest_link": "suggest_link.html",
    "review_notice": "review_notice.html",
    "password_refused": "password_refused.html",
}


@router.get("/login", name="login_page")
async def login_page(
    request: Request, registry: RegistryDep, pages: PagesDep, browser: BrowserDep
) -> Response:
    model = await page.describe(registry, request.query_params.get("flow"), browser)
    upstreams = [(adapter.id, adapter.config.display_name) for adapter in registry.upstreams]
    return pages.render(
        request,
        "login.html",
        client_name=model.client_name,
        upstreams=upstreams if len(upstreams) > 1 else [],
        **_urls(request, model.flow_id),
    )


@router.post("/login/vneid", name="vneid_start")
async def start_vneid(
    request: Request,
    registry: RegistryDep,
    pages: PagesDep,
    browser: BrowserDep,
    flow: FlowField = None,
    upstream: Annotated[str | None, Form()] = None,
) -> Response:
    try:
        url = await vneid_start.start(registry, flow, browser, upstream)
    except UpstreamError as error:
        return _upstream_failure(request, registry, pages, error, flow)
    return RedirectResponse(url, status_code=303)


@router.get("/login/vneid/callback", name="vneid_callback")
async def vneid_callback_endpoint(
    request: Request, registry: RegistryDep, pages: PagesDep, browser: BrowserDep
) -> Response:
    params = dict(request.query_params)
    try:
        outcome = await vneid_callback.finish(registry, params, browser)
    except UpstreamError as error:
        return _upstream_failure(request, registry, pages, error, params.get("state"))
    return _respond(request, registry, pages, outcome)


@router.post("/login/password", name="legacy_password")
async def legacy_password_endpoint(
    request: Request,
    registry: RegistryDep,
    pages: PagesDep,
    browser: BrowserDep,
    flow: FlowField = None,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    # The client's address, from X-Forwarded-For only behind BROKER_TRUSTED_PROXIES (see broker.app).
    address = request.client.host if request.client else None
    outcome = await legacy_password.log_in(registry, flow, browser, username, password, address)
    return _respond(request, registry, pages, outcome)


@router.get("/login/choose", name="choose_account_page")
async def choose_account_page(
    request: Request, registry: RegistryDep, pages: PagesDep, browser: BrowserDep
) -> Response:
    flow_id = request.query_params.get("flow")
    shown = await choose_account.candidates(registry, flow_id, browser)
    assert flow_id is not None
    return pages.render(request, "choose_account.html", candidates=shown, **_urls(request, flow_id))


@router.post("/login/choose", name="choose_account")
async def choose_account_endpoint(
    request: Request,
    registry: RegistryDep,
    pages: PagesDep,
    browser: BrowserDep,
    flow: FlowField = None,
    keep: Annotated[str, Form()] = "",
) -> Response:
    if not keep.isdigit():
        raise LoginFlowError("choice_not_offered")
    outcome = await choose_account.choose(registry, flow, browser, int(keep))
    return _respond(request, registry, pages, outcome)


@router.post("/login/continue", name="continue_login")
async def continue_endpoint(
    request: Request, registry: RegistryDep, pages: PagesDep, browser: BrowserDep, flow: FlowField = None
) -> Response:
    outcome = await continue_login.resume(registry, flow, browser)
    return _respond(request, registry, pages, outcome)


@router.post("/login/cancel", name="cancel_login")
async def cancel_login(registry: RegistryDep, browser: BrowserDep, flow: FlowField = None) -> Response:
    return RedirectResponse(await cancel.cancel(registry, flow, browser), status_code=303)


def _respond(request: Request, registry: RegistryDep, pages: PagesDep, outcome: Outcome) -> Response:
    if isinstance(outcome, Redirect):
        response = RedirectResponse(outcome.url, status_code=303)
        if outcome.session_cookie is not None:
            set_session_cookie(response, outcome.session_cookie, registry.settings.secure_cookies)
        return response
    if outcome.name == "choose_account":
        url = request.url_for("choose_account_page").include_query_params(flow=outcome.flow_id)
        return RedirectResponse(str(url), status_code=303)
    if outcome.name == "account_refused":  # the policy's refusal, with its reason code
        return pages.error(request, "refused", 403, reason=outcome.reason)
    return pages.render(request, _TEMPLATES[outcome.name], **_urls(request, outcome.flow_id))


def _urls(request: Request, flow_id: str) -> dict[str, Any]:
    """Every form on the login pages posts the flow id to one of these."""
    return {
        "flow_id": flow_id,
        "login_url": f"{request.url_for('login_page').path}?{urlencode({'flow': flow_id})}",
        "vneid_start_url": request.url_for("vneid_start").path,
        "password_url": request.url_for("legacy_password").path,
        "choose_url": request.url_for("choose_account").path,
        "continue_url": request.url_for("continue_login").path,
        "cancel_url": request.url_for("cancel_login").path,
    }


def _upstream_failure(
    request: Request, registry: RegistryDep, pages: PagesDep, error: UpstreamError, flow_id: str | None
) -> Response:
    urls = _urls(request, flow_id) if flow_id else {}
    if isinstance(error, UpstreamCancelled):  # not a failure: the citizen may simply try again
        return pages.render(request, "upstream_cancelled.html", **urls)
    if isinstance(error, IdentityRefused):
        registry.metrics.logins.labels("vneid", "identity_refused").inc()
        return pages.render(request, "identity_refused.html", status_code=403, reason=error.reason, **urls)
    registry.metrics.logins.labels("vneid", error.reason).inc()
    return pages.error(request, "upstream", 502, reason=error.reason, **urls)
