"""Issue 7: /authorize answers with the login page, and with one upstream whose discovery it already knows
it binds the upstream login to the new flow in the same insert: the page's VNeID button is a GET form to
VNeID's authorization endpoint itself, so a login costs no request to /login/vneid. When that would need a
call upstream (discovery not fetched yet, or the circuit open), the button posts to the broker as before,
which calls VNeID or shows the "VNeID unavailable" page with the hotline."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
from sqlmodel import select

from broker.store.tables import LoginFlow
from tests.conftest import DEMO_PASSWORD, Stack, StackFactory
from tests.flows.test_authorize_errors import AN
from tests.support.browser import Browser, RelyingParty, redeem
from tests.support.html_forms import flow_of, forms, is_login_page
from tests.support.scrapes import samples


def _vneid_button(page: httpx.Response) -> tuple[str, str, dict[str, str]]:
    """The citizens' button: its form's method, action and fields."""
    for form in forms(page.text, str(page.url)):
        if form.method == "get" or form.action.endswith("/login/vneid"):
            return form.method, form.action, form.fields
    raise AssertionError(page.text[:2000])


async def _flow(stack: Stack, flow_id: str) -> LoginFlow:
    async with stack.database() as database, database.read() as session:
        flow = (await session.execute(select(LoginFlow).where(LoginFlow.id == flow_id))).scalar_one()
    return flow


async def _starts(stack: Stack) -> float:
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{stack.broker_url}/metrics")).text
    return sum(
        value
        for (name, labels), value in samples(text).items()
        if name == "broker_http_request_duration_seconds_count" and ("route", "/login/vneid") in labels
    )


async def test_once_vneid_is_known_the_button_goes_to_vneid_itself_and_the_login_completes(
    stack: Stack, rp: RelyingParty
) -> None:
    first = Browser()
    try:
        cold = await first.authorize(stack.broker_url, first.attempt(rp))
        method, action, _ = _vneid_button(cold)
        assert (method, urlsplit(action).path) == ("post", "/login/vneid")  # discovery not fetched yet
        assert (await _flow(stack, flow_of(cold))).state == "started"
        await first.log_in(stack.broker_url, rp, AN, DEMO_PASSWORD)  # the broker now knows VNeID's endpoints
    finally:
        await first.close()
    starts = await _starts(stack)

    browser = Browser()
    try:
        attempt = browser.attempt(rp)
        page = await browser.authorize(stack.broker_url, attempt)
        assert is_login_page(page)
        method, action, fields = _vneid_button(page)
        assert method == "get" and action == f"{stack.vneid_url}/authorize"
        flow_id = flow_of(page)  # the password form's flow is the one VNeID will send back
        assert fields["state"] == flow_id and fields["client_id"] and fields["response_type"] == "code"
        assert fields["redirect_uri"] == f"{stack.broker_url}/login/vneid/callback"
        assert fields["code_challenge_method"] == "S256" and len(fields["code_challenge"]) == 43
        flow = await _flow(stack, flow_id)  # bound in /authorize's own insert
        assert flow.state == "upstream_pending" and flow.upstream_id == "vneid"
        assert flow.upstream_nonce == fields["nonce"] and flow.upstream_code_verifier

        vneid_page = await browser.open_vneid(page)
        assert vneid_page.status_code == 200 and str(vneid_page.url).startswith(stack.vneid_url)
        back = await browser.sign_in_at_vneid(vneid_page, AN, DEMO_PASSWORD)
        at_rp = await browser.http.get(back.headers["location"])
        assert at_rp.status_code == 303 and at_rp.headers["location"].startswith(rp.redirect_uri)
        query = parse_qs(urlsplit(at_rp.headers["location"]).query)
        assert query["state"] == [attempt.params["state"]]
        async with httpx.AsyncClient() as http:
            tokens = await redeem(http, stack.broker_url, rp, query["code"][0], attempt.verifier)
        assert tokens.status_code == 200 and "id_token" in tokens.json()
    finally:
        await browser.close()
    assert await _starts(stack) == starts  # no request to /login/vneid on the way

    # A callback for the prepared flow cannot be played again: the flow moved on.
    replay = await _replay(stack, back.headers["location"])
    assert replay.status_code == 400 and "location" not in replay.headers


async def _replay(stack: Stack, callback: str) -> httpx.Response:
    """The callback's URL opened again, by a browser of its own."""
    replayer = Browser()
    try:
        return await replayer.http.get(callback)
    finally:
        await replayer.close()


async def test_the_page_shown_again_and_the_password_form_still_work_on_a_prepared_flow(
    stack: Stack, rp: RelyingParty
) -> None:
    warm = Browser()
    try:
        await warm.log_in(stack.broker_url, rp, AN, DEMO_PASSWORD)
    finally:
        await warm.close()
    browser = Browser()
    try:
        page = await browser.authorize(stack.broker_url, browser.attempt(rp))
        assert _vneid_button(page)[0] == "get"
        # Its language link shows the same flow again, whose button posts (a new nonce and verifier).
        again = await browser.http.get(
            f"{stack.broker_url}/login", params={"flow": flow_of(page), "lang": "en"}
        )
        assert again.status_code == 200 and '<html lang="en">' in again.text
        started = await browser.choose_vneid(again)
        assert started.headers["location"].startswith(f"{stack.vneid_url}/authorize?")
        restarted = await _flow(stack, flow_of(page))
        sent = parse_qs(urlsplit(started.headers["location"]).query)
        assert restarted.state == "upstream_pending" and sent["nonce"] == [restarted.upstream_nonce]
        assert sent["nonce"] != [_vneid_button(page)[2]["nonce"]]
        back = await browser.sign_in_at_vneid(await browser.follow(started), AN, DEMO_PASSWORD)
        at_rp = await browser.http.get(back.headers["location"])
        assert at_rp.status_code == 303 and "code=" in at_rp.headers["location"]
    finally:
        await browser.close()


async def test_an_open_circuit_leaves_the_button_posting_to_the_broker_which_shows_the_hotline(
    make_stack: StackFactory,
) -> None:
    stack = make_stack(vneid_breaker_failures=1, vneid_breaker_cooldown_seconds=300)
    rp = await stack.register_client()
    warm = Browser()
    try:
        await warm.log_in(stack.broker_url, rp, AN, DEMO_PASSWORD)
        # VNeID fails a code exchange: the circuit opens (one failure is the threshold here).
        await stack.vneid_faults(token_endpoint="http_500", times=2)  # the 5xx and its retry
        attempt = warm.attempt(rp, prompt="login")
        vneid_page = await warm.open_vneid(await warm.authorize(stack.broker_url, attempt))
        failed = await warm.http.get(
            (await warm.sign_in_at_vneid(vneid_page, AN, DEMO_PASSWORD)).headers["location"]
        )
        assert failed.status_code == 502
    finally:
        await warm.close()

    browser = Browser()
    try:
        page = await browser.authorize(stack.broker_url, browser.attempt(rp))
        assert is_login_page(page)  # organisations still log in here while VNeID is away
        method, action, _ = _vneid_button(page)
        assert (method, urlsplit(action).path) == ("post", "/login/vneid")
        assert (await _flow(stack, flow_of(page))).state == "started"
        refused = await browser.http.post(action, data={"flow": flow_of(page)})
        assert refused.status_code == 502 and "upstream_unavailable" in refused.text
        assert "1900.0368" in refused.text
    finally:
        await browser.close()


async def test_pages_filled_in_from_one_rendering_each_carry_their_own_flow_and_log_in(
    make_stack: StackFactory,
) -> None:
    """As in production (templates not re-read from disk), the login page is rendered once per client and
    language and each flow's values filled in: every browser's button is bound to its own flow."""
    stack = make_stack(template_auto_reload=False)
    rp = await stack.register_client()
    warm = Browser()
    try:
        await warm.log_in(stack.broker_url, rp, AN, DEMO_PASSWORD)  # the broker now knows VNeID's endpoints
    finally:
        await warm.close()
    browsers = [Browser() for _ in range(3)]
    try:
        attempts = [browser.attempt(rp) for browser in browsers]
        pages = [
            await browser.authorize(stack.broker_url, a)
            for browser, a in zip(browsers, attempts, strict=True)
        ]
        assert len({page.text for page in pages}) == 3
        for browser, attempt, page in zip(browsers, attempts, pages, strict=True):
            method, action, fields = _vneid_button(page)
            assert method == "get" and action == f"{stack.vneid_url}/authorize"
            flow = await _flow(stack, flow_of(page))
            assert fields["state"] == flow.id and fields["nonce"] == flow.upstream_nonce
            assert f"/login?flow={flow.id}&amp;lang=en" in page.text  # its language link: its own flow
            back = await browser.sign_in_at_vneid(await browser.open_vneid(page), AN, DEMO_PASSWORD)
            at_rp = await browser.http.get(back.headers["location"])
            query = parse_qs(urlsplit(at_rp.headers["location"]).query)
            assert query["state"] == [attempt.params["state"]]
            async with httpx.AsyncClient() as http:
                tokens = await redeem(http, stack.broker_url, rp, query["code"][0], attempt.verifier)
            assert tokens.status_code == 200
    finally:
        for browser in browsers:
            await browser.close()
