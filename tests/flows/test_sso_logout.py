"""Single sign-on across procedure systems and logging out of all of them (OIDC Core §3.1.2.1 prompt,
RP-Initiated Logout 1.0, Back-Channel Logout 1.0), through real servers on both databases.

At a one-stop desk's shared computer: log in at one system, open the next without a login page; log out
at either and every system is told, and nothing logs in silently any more."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from broker.clock import FixedClock
from tests.conftest import Stack, StackFactory
from tests.support.browser import Browser, RelyingParty, redeem
from tests.support.html_forms import form_with, is_login_page
from tests.support.op import (
    AN,
    CHAU,
    id_claims,
    jwks,
    log_in_and_redeem,
    redirect_to,
    silent,
    userinfo_status,
    verified_logout_token,
    wait_for,
)
from tests.support.relying_party_server import RelyingPartyServer


@pytest.fixture
def receivers() -> Iterator[tuple[RelyingPartyServer, RelyingPartyServer]]:
    first, second = RelyingPartyServer().start(), RelyingPartyServer().start()
    yield first, second
    first.stop()
    second.stop()


async def _two_rps(
    stack: Stack, receivers: tuple[RelyingPartyServer, RelyingPartyServer]
) -> tuple[RelyingParty, RelyingParty]:
    first = await stack.register_client(
        "Hệ thống TTHC tỉnh A",
        backchannel_logout_uri=receivers[0].backchannel_logout_uri,
        post_logout_redirect_uris=[f"{receivers[0].url}/logged-out"],
    )
    second = await stack.register_client(
        "Hệ thống TTHC Bộ B",
        backchannel_logout_uri=receivers[1].backchannel_logout_uri,
        post_logout_redirect_uris=[f"{receivers[1].url}/logged-out"],
    )
    return first, second


async def test_done_when_sso_then_logout_at_the_second_rp_logs_out_everywhere(
    stack: Stack,
    browser: Browser,
    http: httpx.AsyncClient,
    receivers: tuple[RelyingPartyServer, RelyingPartyServer],
) -> None:
    first, second = await _two_rps(stack, receivers)
    tokens_1 = await log_in_and_redeem(stack, http, browser, first)
    claims_1 = await id_claims(http, stack, first, tokens_1)
    session_cookie = next(c for c in browser.http.cookies.jar if c.name == "broker_session")
    assert session_cookie.has_nonstandard_attr("HttpOnly")
    assert session_cookie.get_nonstandard_attr("SameSite", "").lower() == "lax"

    # The second system: straight back with a code, no login page.
    attempt, response = await silent(stack, browser, second)
    back = redirect_to(response, second)
    assert back.query["state"] == attempt.state and back.query["iss"] == stack.broker_url
    tokens_2 = (await redeem(http, stack.broker_url, second, back.query["code"], attempt.verifier)).json()
    claims_2 = await id_claims(http, stack, second, tokens_2)
    assert claims_2["sub"] == claims_1["sub"]
    assert claims_2["sid"] == claims_1["sid"]
    assert claims_2["auth_time"] == claims_1["auth_time"]
    assert claims_2["nonce"] == attempt.params["nonce"]

    # Log out at the second system, with its ID token as the hint.
    logout = await browser.http.get(
        f"{stack.broker_url}/logout",
        params={
            "id_token_hint": tokens_2["id_token"],
            "post_logout_redirect_uri": f"{receivers[1].url}/logged-out",
            "state": "bye-123",
        },
    )
    assert logout.status_code == 303, logout.text[:500]
    assert logout.headers["location"] == f"{receivers[1].url}/logged-out?state=bye-123"

    await wait_for(lambda: receivers[0].state.logout_tokens and receivers[1].state.logout_tokens)
    keys = await jwks(http, stack)
    for receiver, rp, id_token_claims in ((receivers[0], first, claims_1), (receivers[1], second, claims_2)):
        assert receiver.state.content_types[0].startswith("application/x-www-form-urlencoded")
        logout_claims = verified_logout_token(
            receiver.state.logout_tokens[0], keys, stack.broker_url, rp.client_id
        )
        assert logout_claims["sid"] == id_token_claims["sid"]
        assert logout_claims["sub"] == id_token_claims["sub"]
        assert logout_claims["exp"] > logout_claims["iat"]

    for rp in (first, second):
        attempt, response = await silent(stack, browser, rp, prompt="none")
        back = redirect_to(response, rp)
        assert back.query["error"] == "login_required"
        assert back.query["state"] == attempt.state
    # The session's access tokens ended with it (no offline_access).
    assert await userinfo_status(http, stack, tokens_1["access_token"]) == 401


async def test_prompt_none_without_a_session_is_login_required_and_with_one_a_code(
    stack: Stack, rp: RelyingParty, browser: Browser, http: httpx.AsyncClient
) -> None:
    attempt, response = await silent(stack, browser, rp, prompt="none")
    back = redirect_to(response, rp)
    assert (back.query["error"], back.query["state"], back.query["iss"]) == (
        "login_required",
        attempt.state,
        stack.broker_url,
    )
    await log_in_and_redeem(stack, http, browser, rp)
    attempt, response = await silent(stack, browser, rp, prompt="none")
    assert "code" in redirect_to(response, rp).query


async def test_prompt_login_and_max_age_send_the_citizen_back_to_vneid(
    stack: Stack, rp: RelyingParty, browser: Browser, http: httpx.AsyncClient
) -> None:
    await log_in_and_redeem(stack, http, browser, rp)
    for overrides in ({"prompt": "login"}, {"max_age": "0"}):
        _, response = await silent(stack, browser, rp, **overrides)
        login_page = response
        assert is_login_page(login_page), overrides
        assert "prompt=login" in await browser.vneid_address(login_page), overrides


async def test_a_wrong_post_logout_redirect_uri_gets_a_page_and_keeps_the_session(
    stack: Stack,
    browser: Browser,
    http: httpx.AsyncClient,
    receivers: tuple[RelyingPartyServer, RelyingPartyServer],
) -> None:
    first, _ = await _two_rps(stack, receivers)
    tokens = await log_in_and_redeem(stack, http, browser, first)
    for uri in (
        f"{receivers[0].url}/logged-out/",
        f"{receivers[0].url}/LOGGED-OUT",
        "https://attacker.example/",
    ):
        response = await browser.http.get(
            f"{stack.broker_url}/logout",
            params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": uri},
        )
        assert response.status_code == 400, uri
        assert "location" not in response.headers
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    _, response = await silent(stack, browser, first, prompt="none")
    assert "code" in redirect_to(response, first).query
    assert receivers[0].state.logout_tokens == []


async def test_without_a_hint_the_person_confirms_with_a_csrf_safe_form(
    stack: Stack,
    browser: Browser,
    http: httpx.AsyncClient,
    receivers: tuple[RelyingPartyServer, RelyingPartyServer],
) -> None:
    first, _ = await _two_rps(stack, receivers)
    await log_in_and_redeem(stack, http, browser, first)
    page = await browser.http.get(
        f"{stack.broker_url}/logout",
        params={
            "client_id": first.client_id,
            "post_logout_redirect_uri": f"{receivers[0].url}/logged-out",
            "state": "s1",
        },
    )
    assert page.status_code == 200
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    form = form_with(page.text, str(page.url), "csrf")
    assert form.method == "post"

    # A forged POST from elsewhere (no token) changes nothing.
    forged = await browser.http.post(form.action, data={**form.fields, "csrf": "x" * 64})
    assert forged.status_code == 400
    _, response = await silent(stack, browser, first, prompt="none")
    assert "code" in redirect_to(response, first).query

    confirmed = await browser.http.post(form.action, data=form.fields)
    assert confirmed.status_code == 303
    assert confirmed.headers["location"] == f"{receivers[0].url}/logged-out?state=s1"
    await wait_for(lambda: receivers[0].state.logout_tokens)
    _, response = await silent(stack, browser, first, prompt="none")
    assert redirect_to(response, first).query["error"] == "login_required"

    english = await browser.http.get(f"{stack.broker_url}/logout", params={"lang": "en"})
    assert english.status_code == 200 and "You have signed out" in english.text


async def test_back_channel_delivery_is_retried_with_backoff_without_blocking_the_logout(
    make_stack: StackFactory,
    http: httpx.AsyncClient,
    receivers: tuple[RelyingPartyServer, RelyingPartyServer],
) -> None:
    clock = FixedClock(datetime.now(UTC))
    stack = make_stack(clock=clock, backchannel_backoff_seconds=10)
    first, _ = await _two_rps(stack, receivers)
    receivers[0].state.fail_next = 1
    browser = Browser()
    try:
        tokens = await log_in_and_redeem(stack, http, browser, first)
        logout = await browser.http.get(
            f"{stack.broker_url}/logout", params={"id_token_hint": tokens["id_token"]}
        )
        assert logout.status_code == 200 and "broker_session" not in browser.http.cookies
    finally:
        await browser.close()
    await wait_for(lambda: receivers[0].state.content_types)  # the failed attempt
    await asyncio.sleep(0.5)
    assert receivers[0].state.logout_tokens == []  # not retried before its time
    clock.advance(seconds=11)
    await wait_for(lambda: receivers[0].state.logout_tokens)
    # The worker counts a delivery once the RP's answer is back, a moment after the RP has the token.
    delivered = 'broker_backchannel_logout_deliveries_total{outcome="delivered"} 1.0'
    for _ in range(200):
        metrics = (await http.get(f"{stack.broker_url}/metrics")).text
        if delivered in metrics:
            break
        await asyncio.sleep(0.05)
    assert 'broker_backchannel_logout_deliveries_total{outcome="failed"} 1.0' in metrics
    assert delivered in metrics


async def test_another_person_signing_in_on_the_same_browser_ends_the_first_session(
    stack: Stack,
    browser: Browser,
    http: httpx.AsyncClient,
    receivers: tuple[RelyingPartyServer, RelyingPartyServer],
) -> None:
    first, _ = await _two_rps(stack, receivers)
    an = await id_claims(http, stack, first, await log_in_and_redeem(stack, http, browser, first, AN))
    chau = await id_claims(
        http, stack, first, await log_in_and_redeem(stack, http, browser, first, CHAU, prompt="login")
    )
    assert an["sub"] != chau["sub"] and an["sid"] != chau["sid"]
    await wait_for(lambda: receivers[0].state.logout_tokens)
    claims = verified_logout_token(
        receivers[0].state.logout_tokens[0], await jwks(http, stack), stack.broker_url, first.client_id
    )
    assert (claims["sub"], claims["sid"]) == (an["sub"], an["sid"])
