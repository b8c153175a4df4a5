"""A login's three light requests (/authorize, the login page, the VNeID start) are answered before FastAPI's
routing (broker/api/lean.py): every cookie, header, page, error page and metric series must still be the
routes' own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.conftest import DEMO_PASSWORD, Stack
from tests.support.browser import Browser
from tests.support.html_forms import flow_of, form_with
from tests.support.op import AN

PAGE_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


def _has_page_headers(response: httpx.Response) -> None:
    for name, value in PAGE_HEADERS.items():
        assert response.headers[name] == value, (name, response.headers)
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["content-type"] == "text/html; charset=utf-8"


async def _chunked(body: bytes) -> AsyncIterator[bytes]:
    yield body


async def test_the_login_steps_keep_their_cookies_headers_and_metrics(stack: Stack, browser: Browser) -> None:
    rp = await stack.register_client()
    attempt = browser.attempt(rp)
    authorized = await browser.http.get(
        f"{stack.broker_url}/authorize", params=attempt.params, headers={"X-Request-ID": "rp-req-9"}
    )
    # The login page is /authorize's own answer: no redirect to it, no second request.
    assert authorized.status_code == 200 and "location" not in authorized.headers
    assert authorized.headers["x-request-id"] == "rp-req-9"
    _has_page_headers(authorized)
    cookie = authorized.headers["set-cookie"]
    assert cookie.startswith("broker_browser=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Path=/" in cookie and "Secure" not in cookie  # an http issuer
    page = authorized
    assert '<html lang="vi">' in page.text and "Đăng nhập bằng VNeID" in page.text
    form = form_with(page.text, str(page.url), "flow")
    flow_id = form.fields["flow"]
    assert form.action == f"{stack.broker_url}/login/vneid" and flow_id
    # Its language links show the same flow's page again at /login (a reload of /authorize opens another).
    assert f'href="/login?flow={flow_id}&amp;lang=en"' in page.text

    english = await browser.http.get(f"{stack.broker_url}/login", params={"flow": flow_id, "lang": "en"})
    assert english.status_code == 200 and '<html lang="en">' in english.text
    assert "Sign in with VNeID" in english.text and "Đăng nhập bằng VNeID" not in english.text
    assert english.headers["set-cookie"].startswith("broker_lang=en;")
    again = await browser.http.get(f"{stack.broker_url}/login", params={"flow": flow_id})
    assert '<html lang="en">' in again.text  # the language cookie is read

    started = await browser.http.post(form.action, data={"flow": "", **form.fields})
    assert started.status_code == 303 and "set-cookie" not in started.headers
    upstream = urlsplit(started.headers["location"])
    assert started.headers["location"].startswith(stack.vneid_url)
    assert parse_qs(upstream.query)["state"] == [flow_id]

    # The callback, answered before the routing too: back to the RP with a code and the RP's state.
    vneid_page = await browser.follow(started)
    callback = await browser.follow(await browser.sign_in_at_vneid(vneid_page, AN, DEMO_PASSWORD))
    assert urlsplit(str(callback.request.url)).path == "/login/vneid/callback"
    assert callback.status_code == 303 and callback.headers["x-content-type-options"] == "nosniff"
    assert callback.headers["x-request-id"]
    back = urlsplit(callback.headers["location"])
    assert callback.headers["location"].startswith(rp.redirect_uri)
    assert parse_qs(back.query)["state"] == [attempt.params["state"]] and parse_qs(back.query)["code"]
    # A callback nobody started: the error page, from the route's own handling.
    stray = await browser.http.get(
        f"{stack.broker_url}/login/vneid/callback", params={"state": "x", "code": "y"}
    )
    assert stray.status_code == 400 and '<html lang="en">' in stray.text
    _has_page_headers(stray)

    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"{stack.broker_url}/metrics")).text
    for route in ("/authorize", "/login", "/login/vneid", "/login/vneid/callback"):
        assert f'route="{route}"' in metrics, route


async def test_their_refusals_are_the_error_pages(stack: Stack, browser: Browser) -> None:
    rp = await stack.register_client()
    unknown_client = await browser.http.get(
        f"{stack.broker_url}/authorize", params={**browser.attempt(rp).params, "client_id": "nobody"}
    )
    assert unknown_client.status_code == 400
    _has_page_headers(unknown_client)
    assert "Yêu cầu đăng nhập không hợp lệ" in unknown_client.text
    assert "set-cookie" not in unknown_client.headers  # refused before the browser cookie, as the route
    # No flow for this browser: the login page and the VNeID start refuse with the flow error page.
    for refused in (
        await browser.http.get(f"{stack.broker_url}/login", params={"flow": "nope"}),
        await browser.http.get(f"{stack.broker_url}/login"),
        await browser.http.post(f"{stack.broker_url}/login/vneid", data={"flow": "nope"}),
        await browser.http.post(f"{stack.broker_url}/login/vneid", data={"flow": ""}),
        await browser.http.post(f"{stack.broker_url}/login/vneid?lang=en", data={"upstream": "nope"}),
    ):
        assert refused.status_code == 400, refused.text[:300]
        _has_page_headers(refused)
        assert (
            "Phiên đăng nhập đã hết hạn hoặc không hợp lệ" in refused.text
            or "upstream_unknown" in refused.text
        )
    assert '<html lang="en">' in refused.text  # its ?lang= is read on a POST too

    # A flow opened by another browser is not this one's.
    authorized = await browser.http.get(f"{stack.broker_url}/authorize", params=browser.attempt(rp).params)
    flow_id = flow_of(authorized)
    async with httpx.AsyncClient() as stranger:
        for response in (
            await stranger.get(f"{stack.broker_url}/login", params={"flow": flow_id}),
            await stranger.post(f"{stack.broker_url}/login/vneid", data={"flow": flow_id}),
        ):
            assert response.status_code == 400 and "flow" in response.text
            _has_page_headers(response)


async def test_a_form_the_lean_way_does_not_take_is_answered_by_the_route_alike(
    stack: Stack, browser: Browser
) -> None:
    """Chunked and multipart bodies go on to the route: the same answers as a browser's form."""
    rp = await stack.register_client()
    locations = []
    for send in ("urlencoded", "chunked", "multipart", "repeated"):
        authorized = await browser.http.get(
            f"{stack.broker_url}/authorize", params=browser.attempt(rp).params
        )
        flow_id = flow_of(authorized)
        url = f"{stack.broker_url}/login/vneid"
        if send == "urlencoded":
            started = await browser.http.post(url, data={"flow": flow_id})
        elif send == "chunked":
            started = await browser.http.post(
                url,
                content=_chunked(f"flow={flow_id}".encode()),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        elif send == "multipart":
            started = await browser.http.post(url, data={"flow": flow_id}, files={"x": ("x", b"x")})
        else:  # the last of repeated fields counts, as FastAPI reads a form
            started = await browser.http.post(
                url,
                content=f"flow=nope&flow={flow_id}".encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
            )
        assert started.status_code == 303, (send, started.text[:300])
        assert parse_qs(urlsplit(started.headers["location"]).query)["state"] == [flow_id]
        locations.append(started.headers["location"].split("?")[0])
    assert len(set(locations)) == 1
    # Refusals alike: a chunked form without a usable flow is the same page as a browser's.
    chunked = await browser.http.post(
        f"{stack.broker_url}/login/vneid",
        content=_chunked(b"flow="),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    urlencoded = await browser.http.post(f"{stack.broker_url}/login/vneid", data={"flow": ""})
    assert chunked.status_code == urlencoded.status_code == 400
    assert chunked.text == urlencoded.text
