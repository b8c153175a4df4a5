"""The authorization endpoint and the browser's login flow under bad input, through real servers.

What a person sees (an error page, never a redirect, when the client or redirect URI cannot be trusted)
and what an RP sees (an error redirect with its ``state`` and the broker's ``iss``) — RFC 6749 §4.1.2.1,
RFC 9207, RFC 9700 §4.1.3 and §4.7.
"""

from __future__ import annotations

import random
import secrets
import string
from urllib.parse import parse_qsl, urlsplit

import httpx

from tests.conftest import DEMO_PASSWORD, Stack
from tests.support.browser import Browser, RelyingParty
from tests.support.html_forms import flow_of, is_login_page
from tests.support.scrapes import after_first_refresh

AN = "001085012345"
REGISTERED = "https://rp.example.vn/callback"
INVALID_REQUEST_VI = "Yêu cầu đăng nhập không hợp lệ"
INVALID_REQUEST_EN = "Invalid sign-in request"
FLOW_REFUSED_VI = "Phiên đăng nhập"
BROKER_TITLE_VI = "Cổng xác thực tập trung"


def tricky_state(length: int = 128) -> str:
    """A state an RP might really send: URL-reserved characters, spaces and Vietnamese letters."""
    alphabet = string.ascii_letters + string.digits + "-._~+/=&?#%:@!$'()*,; ắệờ"
    rng = random.Random(length)
    return "".join(rng.choice(alphabet) for _ in range(length))


def query_of(url: str) -> dict[str, list[str]]:
    query: dict[str, list[str]] = {}
    for name, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        query.setdefault(name, []).append(value)
    return query


def assert_error_page(response: httpx.Response, reason: str | None = None, *, english: bool = False) -> None:
    """The person is told, on the broker's page, and is not sent anywhere."""
    context = (response.request.url, response.status_code, response.text[:600])
    assert response.status_code == 400, context
    assert "location" not in response.headers, context
    assert response.headers["content-type"].startswith("text/html"), context
    if english:
        assert INVALID_REQUEST_EN in response.text, context
        assert INVALID_REQUEST_VI not in response.text, context
        assert '<html lang="en">' in response.text, context
    else:
        assert INVALID_REQUEST_VI in response.text, context
        assert BROKER_TITLE_VI in response.text, context
    if reason is not None:
        assert f"<code>{reason}</code>" in response.text, context


def assert_error_redirect(
    response: httpx.Response, rp: RelyingParty, issuer: str, error: str, state: str
) -> None:
    """The RP hears the error at its registered redirect URI, with its state intact and our issuer."""
    context = (response.request.url, response.status_code, response.text[:600])
    assert response.status_code in (302, 303), context
    location = response.headers["location"]
    assert location.startswith(rp.redirect_uri + "?"), (location, context)
    query = query_of(location)
    assert query["error"] == [error], (query, context)
    assert query["state"] == [state], (query, context)
    assert query["iss"] == [issuer], (query, context)
    assert "code" not in query, query


def assert_flow_refused(response: httpx.Response, rp: RelyingParty) -> None:
    """A refused callback: the broker's "login session" page, and nothing for the RP."""
    context = (response.request.url, response.status_code, response.text[:600])
    assert response.status_code == 400, context
    assert "location" not in response.headers, context
    assert FLOW_REFUSED_VI in response.text, context
    assert rp.redirect_uri not in response.text, context
    # The upstream code in the callback's URL is not echoed into the page (its links included).
    for code in query_of(str(response.request.url)).get("code", []):
        assert code not in response.text, context


async def to_vneid_callback(browser: Browser, stack: Stack, rp: RelyingParty) -> str:
    """Log in at mock VNeID and stop just before the browser returns to the broker: the callback URL."""
    login_page = await browser.authorize(stack.broker_url, browser.attempt(rp))
    vneid_page = await browser.open_vneid(login_page)
    back = await browser.sign_in_at_vneid(vneid_page, AN, DEMO_PASSWORD)
    assert back.status_code == 303, back.text[:1000]
    callback = back.headers["location"]
    assert callback.startswith(f"{stack.broker_url}/login/vneid/callback?"), callback
    return callback


# --- the client or the redirect URI cannot be trusted: a page, never a redirect ---------------------------


async def test_a_redirect_uri_that_differs_in_any_way_gets_an_error_page_never_a_redirect(
    stack: Stack, browser: Browser
) -> None:
    rp = await stack.register_client(redirect_uris=[REGISTERED])
    exact = await browser.authorize(stack.broker_url, browser.attempt(rp))
    assert is_login_page(exact), exact.text[:500]  # the control: byte for byte, accepted

    variants = {
        "trailing slash": REGISTERED + "/",
        "host case": "https://RP.example.vn/callback",
        "path case": "https://rp.example.vn/Callback",
        "scheme case": "HTTPS://rp.example.vn/callback",
        "scheme downgrade": "http://rp.example.vn/callback",
        "explicit default port": "https://rp.example.vn:443/callback",
        "extra query": REGISTERED + "?next=https://evil.example",
        "empty query": REGISTERED + "?",
        "extra path segment": REGISTERED + "/evil",
        "prefix of path": REGISTERED + "x",
        "@ trick": "https://rp.example.vn@evil.example/callback",
        "@ trick in path": "https://evil.example/@rp.example.vn/callback",
        "userinfo": "https://evil@rp.example.vn/callback",
        "suffix host": "https://rp.example.vn.evil.example/callback",
        "fragment": REGISTERED + "#fragment",
        "empty fragment": REGISTERED + "#",
        "..;/": REGISTERED + "/..;/evil",
        "dot segments": "https://rp.example.vn/x/../callback",
        "percent-encoded path": "https://rp.example.vn/%63allback",
        "encoded slash": "https://rp.example.vn/callback%2F",
        "leading space": " " + REGISTERED,
        "trailing space": REGISTERED + " ",
        "trailing NUL": REGISTERED + "\x00",
    }
    for name, redirect_uri in variants.items():
        attempt = browser.attempt(rp, redirect_uri=redirect_uri)
        response = await browser.authorize(stack.broker_url, attempt)
        assert response.status_code == 400, (name, response.status_code, response.headers.get("location"))
        assert_error_page(response, "redirect_uri_mismatch")

    # The same through POST (OIDC Core §3.1.2.1).
    posted = await browser.http.post(
        f"{stack.broker_url}/authorize", data=browser.attempt(rp, redirect_uri=REGISTERED + "/").params
    )
    assert_error_page(posted, "redirect_uri_mismatch")


async def test_a_missing_unknown_or_repeated_client_or_redirect_uri_gets_an_error_page(
    stack: Stack, rp: RelyingParty, browser: Browser, http: httpx.AsyncClient
) -> None:
    other = await stack.register_client(name="Another RP")
    base = browser.attempt(rp).params
    without = {name: {k: v for k, v in base.items() if k != name} for name in ("client_id", "redirect_uri")}
    cases: dict[str, tuple[list[tuple[str, str]], str]] = {
        "missing redirect_uri": (list(without["redirect_uri"].items()), "redirect_uri_missing"),
        "empty redirect_uri": (
            [*without["redirect_uri"].items(), ("redirect_uri", "")],
            "redirect_uri_missing",
        ),
        "repeated redirect_uri": (
            [*base.items(), ("redirect_uri", rp.redirect_uri)],
            "redirect_uri_missing",
        ),
        "unknown client_id": (
            [*without["client_id"].items(), ("client_id", "rp-0000000000000000")],
            "client_unknown",
        ),
        "missing client_id": (list(without["client_id"].items()), "client_id_missing"),
        "empty client_id": ([*without["client_id"].items(), ("client_id", "")], "client_id_missing"),
        "repeated client_id": ([*base.items(), ("client_id", rp.client_id)], "client_id_missing"),
        "two different client_ids": ([*base.items(), ("client_id", other.client_id)], "client_id_missing"),
        "another client's redirect_uri": (
            [*without["redirect_uri"].items(), ("redirect_uri", other.redirect_uri)],
            "redirect_uri_mismatch",
        ),
    }
    for name, (params, reason) in cases.items():
        response = await http.get(f"{stack.broker_url}/authorize", params=params)
        assert response.status_code == 400, (name, response.status_code, response.headers.get("location"))
        assert_error_page(response, reason)
        assert '<html lang="vi">' in response.text

    # The same refusal in English when asked, and the choice is remembered for the next page.
    english = await browser.http.get(
        f"{stack.broker_url}/authorize", params=[*without["client_id"].items(), ("lang", "en")]
    )
    assert_error_page(english, "client_id_missing", english=True)
    assert "Please go back to the public service page" in english.text
    remembered = await browser.http.get(
        f"{stack.broker_url}/authorize", params=list(without["client_id"].items())
    )
    assert_error_page(remembered, english=True)


async def test_a_bad_request_from_a_trusted_client_is_redirected_back_with_state_and_iss(
    stack: Stack, rp: RelyingParty, browser: Browser
) -> None:
    state = tricky_state(128)
    cases: dict[str, tuple[dict[str, str | None], str]] = {
        "missing response_type": ({"response_type": None}, "invalid_request"),
        "response_type=token": ({"response_type": "token"}, "unsupported_response_type"),
        "response_type=code id_token": ({"response_type": "code id_token"}, "unsupported_response_type"),
        "no openid scope": ({"scope": "profile identification"}, "invalid_scope"),
        "no scope at all": ({"scope": None}, "invalid_scope"),
        "missing code_challenge": ({"code_challenge": None}, "invalid_request"),
        "missing code_challenge_method": ({"code_challenge_method": None}, "invalid_request"),
        "code_challenge_method=plain": ({"code_challenge_method": "plain"}, "invalid_request"),
        "code_challenge of 42 characters": ({"code_challenge": "a" * 42}, "invalid_request"),
        "code_challenge of 129 characters": ({"code_challenge": "a" * 129}, "invalid_request"),
        "code_challenge with +": ({"code_challenge": "a" * 42 + "+"}, "invalid_request"),
        "code_challenge with /": ({"code_challenge": "/" + "a" * 42}, "invalid_request"),
        "code_challenge with =": ({"code_challenge": "a" * 43 + "="}, "invalid_request"),
        "code_challenge with a space": ({"code_challenge": "a" * 21 + " " + "a" * 21}, "invalid_request"),
        "code_challenge with a non-ASCII letter": ({"code_challenge": "ệ" * 43}, "invalid_request"),
        "prompt=none": ({"prompt": "none"}, "login_required"),
        "request object": ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        "request_uri": ({"request_uri": "https://evil.example/request.jwt"}, "request_uri_not_supported"),
    }
    for name, (overrides, error) in cases.items():
        attempt = browser.attempt(rp, state=state, **overrides)
        response = await browser.authorize(stack.broker_url, attempt)
        assert response.status_code in (302, 303), (name, response.status_code, response.text[:500])
        assert_error_redirect(response, rp, stack.broker_url, error, state)

    # The boundaries themselves are accepted: 43 and 128 characters of the unreserved alphabet.
    for challenge in ("A" * 43, "-._~" + "z" * 124):
        response = await browser.authorize(stack.broker_url, browser.attempt(rp, code_challenge=challenge))
        assert is_login_page(response), (len(challenge), response.text[:500])


async def test_a_128_character_state_comes_back_intact_with_the_code(
    stack: Stack, rp: RelyingParty, browser: Browser
) -> None:
    state = tricky_state(128)
    assert len(state) == 128
    _, back = await browser.log_in(stack.broker_url, rp, AN, DEMO_PASSWORD, state=state)
    query = query_of(back.url)
    assert back.url.startswith(rp.redirect_uri + "?")
    assert query["state"] == [state]
    assert query["iss"] == [stack.broker_url]
    assert len(query["code"]) == 1 and query["code"][0]
    assert "error" not in query


async def test_the_login_page_cannot_be_framed_and_starting_vneid_answers_303(
    stack: Stack, rp: RelyingParty, browser: Browser
) -> None:
    login_page = await browser.authorize(stack.broker_url, browser.attempt(rp))
    assert login_page.status_code == 200
    assert login_page.headers["x-frame-options"] == "DENY"
    csp = [directive.strip() for directive in login_page.headers["content-security-policy"].split(";")]
    assert "frame-ancestors 'none'" in csp
    assert login_page.headers["referrer-policy"] == "no-referrer"
    assert login_page.headers["x-content-type-options"] == "nosniff"
    assert "no-store" in login_page.headers["cache-control"]

    # Its VNeID button goes to VNeID itself (prepared by /authorize); shown again at /login, it posts here.
    assert (await browser.vneid_address(login_page)).startswith(f"{stack.vneid_url}/authorize?")
    again = await browser.http.get(f"{stack.broker_url}/login", params={"flow": flow_of(login_page)})
    started = await browser.choose_vneid(again)
    # 303, not FastAPI's default 307: the browser must not re-POST to the next host.
    assert started.status_code == 303
    assert started.headers["location"].startswith(f"{stack.vneid_url}/authorize?")
    assert started.headers["referrer-policy"] == "no-referrer"

    # The refusal pages carry the same headers.
    refused = await browser.http.get(f"{stack.broker_url}/authorize", params={"client_id": "rp-unknown"})
    assert_error_page(refused)
    assert refused.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in refused.headers["content-security-policy"]
    assert refused.headers["referrer-policy"] == "no-referrer"


async def test_cancelling_on_the_login_page_sends_access_denied_to_the_rp(
    stack: Stack, rp: RelyingParty, browser: Browser
) -> None:
    state = tricky_state(64)
    attempt = browser.attempt(rp, state=state)
    login_page = await browser.authorize(stack.broker_url, attempt)
    flow = flow_of(login_page)
    cancelled = await browser.http.post(f"{stack.broker_url}/login/cancel", data={"flow": flow})
    assert cancelled.status_code == 303
    assert_error_redirect(cancelled, rp, stack.broker_url, "access_denied", state)

    # The flow is over: pressing cancel again, or going on to VNeID, is refused with a page.
    again = await browser.http.post(f"{stack.broker_url}/login/cancel", data={"flow": flow})
    assert_flow_refused(again, rp)
    onwards = await browser.http.post(f"{stack.broker_url}/login/vneid", data={"flow": flow})
    assert_flow_refused(onwards, rp)


# --- login CSRF: the upstream callback is bound to the browser that started the flow ---------------------


async def test_a_callback_carrying_another_browsers_state_is_refused(
    stack: Stack, rp: RelyingParty, browser: Browser
) -> None:
    attacker = Browser()
    try:
        planted = await to_vneid_callback(attacker, stack, rp)
    finally:
        await attacker.close()
    # The victim has a login of their own under way, so the broker knows their browser.
    victim_page = await browser.authorize(stack.broker_url, browser.attempt(rp))
    assert victim_page.status_code == 200

    response = await browser.http.get(planted)
    assert_flow_refused(response, rp)
    assert "code=" not in response.headers.get("location", "")

    # A browser that never started a login at the broker is refused the same way.
    async with httpx.AsyncClient(timeout=30) as stranger:
        assert_flow_refused(await stranger.get(planted), rp)


async def test_a_replayed_callback_is_refused_the_second_time(
    stack: Stack, rp: RelyingParty, browser: Browser
) -> None:
    callback = await to_vneid_callback(browser, stack, rp)
    first = await browser.http.get(callback)
    assert first.status_code == 303, first.text[:1000]
    assert "code" in query_of(first.headers["location"])

    second = await browser.http.get(callback)
    assert_flow_refused(second, rp)


async def test_a_callback_with_an_unknown_or_missing_state_is_refused(
    stack: Stack, rp: RelyingParty, browser: Browser
) -> None:
    await browser.authorize(stack.broker_url, browser.attempt(rp))
    callback = f"{stack.broker_url}/login/vneid/callback"
    for params in (
        {"state": secrets.token_urlsafe(32), "code": secrets.token_urlsafe(32)},
        {"state": "", "code": secrets.token_urlsafe(32)},
        {"code": secrets.token_urlsafe(32)},
        {"state": "x" * 5000, "code": secrets.token_urlsafe(32)},
    ):
        assert_flow_refused(await browser.http.get(callback, params=params), rp)


# --- metrics --------------------------------------------------------------------------------------------


def series(metrics_text: str) -> set[str]:
    """Every sample's name and labels, without its value."""
    return {line.rsplit(" ", 1)[0] for line in metrics_text.splitlines() if line and not line.startswith("#")}


async def test_a_flood_of_random_client_ids_creates_no_metric_series(
    stack: Stack, rp: RelyingParty, browser: Browser, http: httpx.AsyncClient
) -> None:
    # Warm up every series an unknown client can touch, then flood.
    await browser.authorize(stack.broker_url, browser.attempt(rp, client_id="rp-warm-up"))
    await http.post(
        f"{stack.broker_url}/token",
        data={"grant_type": "authorization_code", "code": "x"},
        auth=("rp-warm-up", "x"),
    )
    before = series(await after_first_refresh(http, stack.broker_url))

    flood = [f"rp-{secrets.token_hex(8)}" for _ in range(50)]
    for client_id in flood:
        response = await browser.authorize(stack.broker_url, browser.attempt(rp, client_id=client_id))
        assert_error_page(response, "client_unknown")
    for client_id in flood[:10]:
        response = await http.post(
            f"{stack.broker_url}/token",
            data={"grant_type": "authorization_code", "code": "x"},
            auth=(client_id, "wrong"),
        )
        assert response.status_code == 401

    text = (await http.get(f"{stack.broker_url}/metrics")).text
    leaked = [client_id for client_id in flood if client_id in text]
    assert leaked == []
    assert series(text) == before
    assert 'broker_logins_total{method="authorize",outcome="invalid_request"} 51.0' in text
