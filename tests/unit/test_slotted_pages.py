"""Issue 7: /authorize's login page is rendered once per client, language and upstream form, and the
flow's own values (its id, its upstream state, nonce and PKCE challenge) are filled in. What a browser gets
must be byte for byte the page a full render gives for the same values, in either language, with the same
cookies; a template that would change a value falls back to the full render."""

from __future__ import annotations

import secrets
from typing import Any

from jinja2 import DictLoader
from starlette.requests import Request

from broker.api.pages import Pages, Slots

STATIC = "/static/broker.css"


def _pages() -> Pages:
    pages = Pages("vi", secure_cookies=True, auto_reload=False)
    pages._static_paths[""] = STATIC  # what url_for gives with the app's routes
    return pages


def _request(query: str = "", cookie: str = "") -> Request:
    headers = [(b"cookie", cookie.encode())] if cookie else []
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/authorize",
            "query_string": query.encode(),
            "headers": headers,
        }
    )


def _context(flow: str, state: str, nonce: str, challenge: str) -> dict[str, Any]:
    fields = [
        ("response_type", "code"),
        ("client_id", "broker-dev"),
        ("redirect_uri", "https://sso.example/login/vneid/callback"),
        ("scope", "openid profile vneid"),
        ("state", state),
        ("nonce", nonce),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
    return {
        "client_name": 'Cổng dịch vụ công <tỉnh> & "thành phố"',
        "upstreams": [],
        "upstream_form": ("https://vneid.example/authorize", fields),
        "flow_id": flow,
        "login_url": f"/login?flow={flow}",
        "vneid_start_url": "/login/vneid",
        "password_url": "/login/password",
        "cancel_url": "/login/cancel",
    }


def _both(pages: Pages, request: Request, hinted: str | None = None) -> tuple[Any, Any]:
    flow, nonce, challenge = (secrets.token_urlsafe(32) for _ in range(3))
    full = pages.render(
        request,
        "login.html",
        switch_to=f"/login?flow={flow}",
        hinted=hinted,
        **_context(flow, flow, nonce, challenge),
    )
    slot = Slots()
    slotted_flow = slot(flow)
    context = _context(slotted_flow, slotted_flow, slot(nonce), slot(challenge))
    quick = pages.render_slotted(
        request, "login.html", slot, switch_to=f"/login?flow={slotted_flow}", hinted=hinted, **context
    )
    return full, quick


def test_the_login_page_filled_in_is_the_page_rendered_in_full_for_every_flow_and_language() -> None:
    pages = _pages()
    for request, hinted, language in [
        (_request(), None, "vi"),
        (_request(), "en", "en"),  # a relying party's ui_locales
        (_request("lang=en"), None, "en"),  # the citizen's choice, remembered in a cookie
        (_request(cookie="broker_lang=en"), "vi", "en"),
    ]:
        for _ in range(3):  # the first renders the shape, the others fill it
            full, quick = _both(pages, request, hinted)
            assert quick.body == full.body
            assert quick.headers.getlist("set-cookie") == full.headers.getlist("set-cookie")
            assert quick.status_code == full.status_code == 200
            assert f'<html lang="{language}">'.encode() in quick.body
    assert len(pages._slotted or {}) == 2  # one shape per language


def test_each_page_carries_its_own_flow_and_nothing_of_another() -> None:
    pages = _pages()
    first, second = _both(pages, _request())[1], _both(pages, _request())[1]
    assert first.body != second.body
    assert len(first.body) == len(second.body)  # same shape, values of the same length


def test_a_template_that_changes_a_value_is_rendered_in_full_each_time() -> None:
    pages = _pages()
    for environment in pages._environments.values():
        environment.loader = DictLoader({"shout.html": "<p>{{ flow_id|upper }} {{ flow_id }}</p>"})
    for _ in range(2):
        flow = secrets.token_urlsafe(16)
        slot = Slots()
        page = pages.render_slotted(_request(), "shout.html", slot, switch_to="/x", flow_id=slot(flow))
        assert page.body.decode() == f"<p>{flow.upper()} {flow}</p>"


def test_only_url_safe_tokens_fill_slots() -> None:
    slot = Slots()
    for value in ("a b", "<b>", "x&y=z", ""):
        try:
            slot(value)
        except ValueError:
            continue
        raise AssertionError(value)
