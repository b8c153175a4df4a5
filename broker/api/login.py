"""The broker's own pages in a login: the choice of method, the trip to VNeID and back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from broker.api.deps import BrowserDep, PagesDep, RegistryDep, set_session_cookie
from broker.errors import UpstreamError
from broker.login import cancel, page, vneid_callback, vneid_start

router = APIRouter(tags=["login"])

FlowField = Annotated[str | None, Form(alias="flow")]


@router.get("/login", name="login_page")
async def login_page(
    request: Request, registry: RegistryDep, pages: PagesDep, browser: BrowserDep
) -> Response:
    model = await page.describe(registry, request.query_params.get("flow"), browser)
    return pages.render(
        request,
        "login.html",
        flow_id=model.flow_id,
        client_name=model.client_name,
        vneid_start_url=request.url_for("vneid_start").path,
        cancel_url=request.url_for("cancel_login").path,
    )


@router.post("/login/vneid", name="vneid_start")
async def start_vneid(
    request: Request, registry: RegistryDep, pages: PagesDep, browser: BrowserDep, flow: FlowField = None
) -> Response:
    try:
        url = await vneid_start.start(registry, flow, browser)
    except UpstreamError as error:
        return _upstream_failure(request, registry, pages, error, flow)
    return RedirectResponse(url, status_code=303)


@router.get("/login/vneid/callback", name="vneid_callback")
async def vneid_callback_endpoint(
    request: Request, registry: RegistryDep, pages: PagesDep, browser: BrowserDep
) -> Response:
    params = dict(request.query_params)
    try:
        signed_in = await vneid_callback.finish(registry, params, browser)
    except UpstreamError as error:
        return _upstream_failure(request, registry, pages, error, params.get("state"))
    response = RedirectResponse(signed_in.url, status_code=303)
    if signed_in.session_cookie is not None:
        set_session_cookie(response, signed_in.session_cookie, registry.settings.secure_cookies)
    return response


@router.post("/login/cancel", name="cancel_login")
async def cancel_login(registry: RegistryDep, browser: BrowserDep, flow: FlowField = None) -> Response:
    return RedirectResponse(await cancel.cancel(registry, flow, browser), status_code=303)


def _upstream_failure(
    request: Request, registry: RegistryDep, pages: PagesDep, error: UpstreamError, flow_id: str | None
) -> Response:
    registry.metrics.logins.labels("vneid", error.reason).inc()
    return pages.error(
        request,
        "upstream",
        502,
        reason=error.reason,
        flow_id=flow_id,
        vneid_start_url=request.url_for("vneid_start").path,
        cancel_url=request.url_for("cancel_login").path,
    )
