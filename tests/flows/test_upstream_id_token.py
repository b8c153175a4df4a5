"""The broker refuses every ID token from VNeID that OIDC Core §3.1.3.7 says to refuse, with a clear page,
and survives VNeID's faults and key rotation. Through real servers, mock VNeID tampering on request."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from broker.clock import FixedClock
from tests.conftest import DEMO_PASSWORD, Stack, StackFactory
from tests.support.browser import Browser, RelyingParty, redeem
from tests.support.html_forms import flow_of

AN = "001085012345"

REFUSED_TOKENS = [
    "bad_signature",
    "wrong_aud",
    "wrong_iss",
    "wrong_nonce",
    "missing_nonce",
    "expired",
    "future_iat",
    "alg_none",
    "hs256_with_public_key",
    "unknown_kid",
]


async def _reach_callback(browser: Browser, stack: Stack, rp: RelyingParty) -> httpx.Response:
    """Logs in at VNeID and follows VNeID's redirect back into the broker's callback."""
    attempt = browser.attempt(rp)
    login_page = await browser.authorize(stack.broker_url, attempt)
    vneid_page = await browser.open_vneid(login_page)
    back = await browser.sign_in_at_vneid(vneid_page, AN, DEMO_PASSWORD)
    assert back.status_code == 303
    page = await browser.http.get(back.headers["location"])
    upstream_code = httpx.URL(back.headers["location"]).params["code"]
    assert upstream_code not in page.text  # never echoed into a page, not even in its links
    return page


@pytest.mark.parametrize("fault", REFUSED_TOKENS)
async def test_a_bad_upstream_id_token_is_refused_with_a_page(
    stack: Stack, rp: RelyingParty, browser: Browser, fault: str
) -> None:
    await stack.vneid_faults(id_token=fault)
    page = await _reach_callback(browser, stack, rp)

    assert page.status_code == 502
    assert "location" not in page.headers  # no code goes to the RP
    assert "Chưa đăng nhập được bằng VNeID" in page.text
    assert "1900.0368" in page.text
    assert "id_token_invalid" in page.text


@pytest.mark.parametrize(("fault", "times"), [("http_500", 2), ("html_200", 1)])
async def test_a_failing_token_endpoint_is_a_page_not_a_500(
    stack: Stack, rp: RelyingParty, browser: Browser, fault: str, times: int
) -> None:
    await stack.vneid_faults(token_endpoint=fault, times=times)  # a 5xx is retried once (issue 10)
    page = await _reach_callback(browser, stack, rp)
    assert page.status_code == 502
    assert "token_exchange_failed" in page.text


async def test_one_5xx_at_the_token_endpoint_is_retried_once_and_the_login_succeeds(
    stack: Stack, rp: RelyingParty, browser: Browser, http: httpx.AsyncClient
) -> None:
    await stack.vneid_faults(token_endpoint="http_500", times=1)
    page = await _reach_callback(browser, stack, rp)
    assert page.status_code == 303
    assert page.headers["location"].startswith(rp.redirect_uri + "?code=")
    left = (await http.get(f"{stack.vneid_url}/_test/faults")).json()
    assert left["remaining"] == 0  # the 500 was answered, then the retry exchanged the code


async def test_after_a_refusal_the_citizen_can_try_again_and_get_in(
    stack: Stack, rp: RelyingParty, browser: Browser, http: httpx.AsyncClient
) -> None:
    await stack.vneid_faults(id_token="bad_signature")
    page = await _reach_callback(browser, stack, rp)
    assert page.status_code == 502

    vneid_page = await browser.open_vneid(page)  # "Thử lại với VNeID"
    back = await browser.sign_in_at_vneid(vneid_page, AN, DEMO_PASSWORD)
    at_rp = await browser.http.get(back.headers["location"])
    assert at_rp.status_code == 303
    assert at_rp.headers["location"].startswith(rp.redirect_uri + "?code=")


async def test_vneid_rotating_its_keys_is_followed(
    stack: Stack, rp: RelyingParty, browser: Browser, http: httpx.AsyncClient
) -> None:
    await browser.log_in(stack.broker_url, rp, AN, DEMO_PASSWORD)  # the broker now caches the old key
    rotated = await http.post(f"{stack.vneid_url}/_test/rotate-keys", json={"drop_old": True})
    assert rotated.status_code == 200

    attempt, back = await Browser().log_in(stack.broker_url, rp, AN, DEMO_PASSWORD)
    assert (await redeem(http, stack.broker_url, rp, back.query["code"], attempt.verifier)).status_code == 200


@pytest.mark.parametrize(
    ("skew_seconds", "accepted"), [(-50, True), (50, True), (-3600, False), (3600, False)]
)
async def test_clock_skew_within_the_leeway_is_accepted_beyond_it_refused(
    make_stack: StackFactory, browser: Browser, skew_seconds: int, accepted: bool
) -> None:
    stack = make_stack(clock=FixedClock(datetime(2026, 11, 22, 9, 0, tzinfo=UTC)), vneid_leeway_seconds=60)
    rp = await stack.register_client()
    await stack.vneid_faults(clock_offset_seconds=skew_seconds)
    page = await _reach_callback(browser, stack, rp)
    if accepted:
        assert page.status_code == 303, page.text[:500]
    else:
        assert page.status_code == 502
        assert "id_token_invalid" in page.text


async def test_vneid_down_is_a_page_with_the_hotline(make_stack: StackFactory, browser: Browser) -> None:
    stack = make_stack()
    rp = await stack.register_client()
    attempt = browser.attempt(rp)
    login_page = await browser.authorize(stack.broker_url, attempt)
    stack.vneid.stop()

    page = await browser.http.post(f"{stack.broker_url}/login/vneid", data={"flow": flow_of(login_page)})
    assert page.status_code == 502
    assert "discovery_unreachable" in page.text
    assert "1900.0368" in page.text


async def test_a_key_vneid_withdrew_stops_being_trusted_when_the_key_cache_expires_without_a_restart(
    make_stack: StackFactory, http: httpx.AsyncClient
) -> None:
    """Issue 8 item 7: a withdrawn (say stolen) key keeps working only until the cached JWKS expires."""
    clock = FixedClock(datetime(2026, 11, 22, 9, 0, tzinfo=UTC))
    stack = make_stack(clock=clock, vneid_jwks_max_age_seconds=600)
    rp = await stack.register_client()
    await Browser().log_in(stack.broker_url, rp, AN, DEMO_PASSWORD)  # the broker caches the key
    assert (
        await http.post(f"{stack.vneid_url}/_test/rotate-keys", json={"drop_old": True})
    ).status_code == 200

    await stack.vneid_faults(id_token="withdrawn_key", times=2)
    clock.advance(seconds=300)  # within the cache's lifetime: still trusted (no JWKS call per login)
    assert (await _reach_callback(Browser(), stack, rp)).status_code == 303
    clock.advance(seconds=301)  # the cache expired: the JWKS is read again, without the withdrawn key
    page = await _reach_callback(Browser(), stack, rp)
    assert page.status_code == 502
    assert "id_token_invalid" in page.text
