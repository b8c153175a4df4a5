"""The broker's own pages in a login: the choice of method, VNeID and back, the legacy password form,
the "link your VNeID" suggestion, and Case 3's choice of the account to keep."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from broker.admin import source_systems
from broker.api.deps import BrowserDep, PagesDep, RegistryDep, set_session_cookie
from broker.api.pages import Pages, Slots, is_token
from broker.domain.source_systems import display_name
from broker.errors import IdentityRefused, LoginFlowError, UpstreamCancelled, UpstreamError
from broker.login import (
    cancel,
    choose_account,
    choose_later,
    continue_login,
    legacy_password,
    page,
    vneid_callback,
    vneid_start,
)
from broker.login.outcomes import Outcome, Redirect
from broker.registry import Registry
from broker.settings import VIETNAM

router = APIRouter(tags=["login"])

FlowField = Annotated[str | None, Form(alias="flow")]

_TEMPLATES = {
    "suggest_link": "suggest_link.html",
    "review_notice": "review_notice.html",
    "review_reminder": "review_notice.html",
    "password_refused": "password_refused.html",
    "upstream_cancelled": "upstream_cancelled.html",
}


@router.get("/login", name="login_page")
async def login_page(
    request: Request, registry: RegistryDep, pages: PagesDep, browser: BrowserDep
) -> Response:
    """The login page again, for a flow /authorize opened: its language links and a reload lead here."""
    model = await page.describe(registry, request.query_params.get("flow"), browser)
    return render_login_page(request, registry, pages, model)


def render_login_page(
    request: Request,
    registry: Registry,
    pages: Pages,
    model: page.LoginPage,
    *,
    at_authorize: bool = False,
    hinted: str | None = None,
) -> Response:
    """``at_authorize``: the page is /authorize's answer, whose address cannot show it again (a reload
    opens a new flow), so its language links lead to GET /login for the same flow. ``hinted``: its
    ``ui_locales``' language (``Pages.render``)."""
    upstreams = [(adapter.id, adapter.config.display_name) for adapter in registry.upstreams]
    if not at_authorize:
        urls = _urls(request, model.flow_id)
        return pages.render(
            request,
            "login.html",
            hinted=hinted,
            client_name=model.client_name,
            upstreams=upstreams if len(upstreams) > 1 else [],
            upstream_form=model.upstream_form[:2] if model.upstream_form else None,
            **urls,
        )
    # Rendered once per client, language and upstream form; the flow's id and its upstream state, nonce
    # and PKCE challenge filled in (Pages.render_slotted).
    slot = Slots()
    urls = _urls(request, slot(model.flow_id))
    form = None
    if model.upstream_form:
        action, fields, own = model.upstream_form
        form = (
            action,
            tuple(
                (name, slot(value) if value in own and is_token(value) else value) for name, value in fields
            ),
        )
    # Tuples, not lists: the context is the rendered shape's key as it is (Pages.render_slotted).
    return pages.render_slotted(
        request,
        "login.html",
        slot,
        switch_to=urls["login_url"],
        hinted=hinted,
        client_name=model.client_name,
        upstreams=tuple(upstreams) if len(upstreams) > 1 else (),
        upstream_form=form,
        **urls,
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
    named = _named(await source_systems.all_names(registry), shown)
    return pages.render(request, "choose_account.html", candidates=named, **_urls(request, flow_id))


@router.get("/login/choose/confirm", name="choose_confirm_page")
async def choose_confirm_page(
    request: Request, registry: RegistryDep, pages: PagesDep, browser: BrowserDep
) -> Response:
    """Says what will be merged into what before anything is: the merge itself is the POST below."""
    flow_id = request.query_params.get("flow")
    keep = request.query_params.get("keep", "")
    shown = _named(
        await source_systems.all_names(registry), await choose_account.candidates(registry, flow_id, browser)
    )
    if not keep.isdigit() or int(keep) not in {candidate.account_id for candidate in shown}:
        raise LoginFlowError("choice_not_offered")
    assert flow_id is not None
    return pages.render(
        request,
        "choose_confirm.html",
        keep=int(keep),
        kept=[candidate for candidate in shown if candidate.account_id == int(keep)],
        merged=[candidate for candidate in shown if candidate.account_id != int(keep)],
        **_urls(request, flow_id),
    )


@router.post("/login/choose/later", name="choose_later")
async def choose_later_endpoint(
    request: Request, registry: RegistryDep, pages: PagesDep, browser: BrowserDep, flow: FlowField = None
) -> Response:
    """Case 3, "decide later": the login continues, and the group goes to the officers."""
    outcome = await choose_later.decide_later(registry, flow, browser)
    return _respond(request, registry, pages, outcome)


@router.get("/login/page/{name}", name="login_page_again")
async def login_page_again(
    name: str, request: Request, registry: RegistryDep, pages: PagesDep, browser: BrowserDep
) -> Response:
    """A page first answered to a POST or at the VNeID callback, shown again for the same flow: where
    its language links lead (those URLs cannot be reloaded)."""
    flow_id = await page.shown_again(registry, request.query_params.get("flow"), browser, name)
    if name == "upstream_failed":
        reason = request.query_params.get("reason", "")[:64]
        return _upstream_page(request, pages, reason if reason.isidentifier() else None, flow_id)
    return _page(request, pages, name, flow_id)


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
    return _page(request, pages, outcome.name, outcome.flow_id)


def _page(request: Request, pages: PagesDep, name: str, flow_id: str) -> Response:
    return pages.render(
        request,
        _TEMPLATES[name],
        switch_to=_again_url(request, name, flow_id),
        reminder=name == "review_reminder",
        **_urls(request, flow_id),
    )


def _again_url(request: Request, name: str, flow_id: str, **extra: str) -> str:
    path = request.url_for("login_page_again", name=name).path
    return f"{path}?{urlencode({'flow': flow_id, **extra})}"


@dataclass(frozen=True)
class _NamedCandidate:
    account_id: int
    source_name: str
    username: str
    created_at: datetime | None


def _named(names: dict[str, str], shown: list[choose_account.Candidate]) -> list[_NamedCandidate]:
    return [
        _NamedCandidate(
            c.account_id,
            display_name(c.source_system, names),
            c.username,
            # Stored in UTC; people read dates in Vietnam time (a midnight import is the day before in UTC).
            c.created_at.astimezone(VIETNAM) if c.created_at else None,
        )
        for c in shown
    ]


def _urls(request: Request, flow_id: str) -> dict[str, Any]:
    """Every form on the login pages posts the flow id to one of these."""
    paths = login_paths(request)
    query = urlencode({"flow": flow_id})
    return {
        "flow_id": flow_id,
        "login_url": f"{paths['login_page']}?{query}",
        "vneid_start_url": paths["vneid_start"],
        "password_url": paths["legacy_password"],
        "choose_url": paths["choose_account"],
        "choose_page_url": f"{paths['choose_account_page']}?{query}",
        "confirm_url": paths["choose_confirm_page"],
        "later_url": paths["choose_later"],
        "continue_url": paths["continue_login"],
        "cancel_url": paths["cancel_login"],
    }


_PAGES = (
    "login_page",
    "vneid_start",
    "legacy_password",
    "choose_account",
    "choose_account_page",
    "choose_confirm_page",
    "choose_later",
    "continue_login",
    "cancel_login",
)


def login_paths(request: Request) -> dict[str, str]:
    """The login pages' paths, looked up once per app and root path (issue 7: each ``url_for`` walks the
    routes; ten of them were 1.5 % of a login's CPU)."""
    known: dict[str, dict[str, str]] | None = getattr(request.app.state, "login_paths", None)
    if known is None:
        known = request.app.state.login_paths = {}
    root = request.scope.get("root_path", "")
    paths = known.get(root)
    if paths is None:
        paths = known[root] = {name: request.url_for(name).path for name in _PAGES}
    return paths


def _upstream_failure(
    request: Request, registry: RegistryDep, pages: PagesDep, error: UpstreamError, flow_id: str | None
) -> Response:
    urls = _urls(request, flow_id) if flow_id else {}
    if isinstance(error, UpstreamCancelled):  # not a failure: the citizen may simply try again
        if flow_id:
            return _page(request, pages, "upstream_cancelled", flow_id)  # its language links keep the flow
        return pages.render(request, "upstream_cancelled.html")
    if isinstance(error, IdentityRefused):
        registry.metrics.logins.labels("vneid", "identity_refused").inc()
        return pages.render(request, "identity_refused.html", status_code=403, reason=error.reason, **urls)
    registry.metrics.logins.labels("vneid", error.reason).inc()
    return _upstream_page(request, pages, error.reason, flow_id, status_code=502)


def _upstream_page(
    request: Request, pages: PagesDep, reason: str | None, flow_id: str | None, status_code: int = 200
) -> Response:
    if not flow_id:
        return pages.error(request, "upstream", status_code, reason=reason)
    # At the callback URL the flow id is the `state`, which the language links must not echo; they lead
    # to a GET that shows this page again for the same flow.
    again = _again_url(request, "upstream_failed", flow_id, **({"reason": reason} if reason else {}))
    return pages.error(
        request, "upstream", status_code, reason=reason, switch_to=again, **_urls(request, flow_id)
    )
