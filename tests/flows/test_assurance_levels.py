"""Levels of assurance (OIDC Core §3.1.2.1 acr_values, §2 acr): an RP may require VNeID level 2; the broker
asks VNeID for it and refuses a lower level at the RP's redirect URI with state and iss; per-client default
and minimum levels; a level-1 session does not satisfy a level-2 request."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from tests.conftest import DEMO_PASSWORD, Stack
from tests.support.browser import Browser, RelyingParty
from tests.support.html_forms import is_login_page
from tests.support.op import AN, CHAU, id_claims, log_in_and_redeem, redirect_to, silent

LEVEL1, LEVEL2 = "urn:vneid:loa:level1", "urn:vneid:loa:level2"


async def _to_vneid(stack: Stack, browser: Browser, rp: RelyingParty, **overrides: str) -> tuple[str, str]:
    attempt, response = await silent(stack, browser, rp, **overrides)
    return attempt.state, await browser.vneid_address(response)  # /authorize answers with the login page


async def test_level_2_is_asked_of_vneid_and_a_level_1_citizen_is_refused(
    stack: Stack, rp: RelyingParty, browser: Browser
) -> None:
    state, to_vneid = await _to_vneid(stack, browser, rp, acr_values=LEVEL2)
    assert parse_qs(urlsplit(to_vneid).query)["acr_values"] == [LEVEL2]
    vneid_page = await browser.http.get(to_vneid)
    back = await browser.sign_in_at_vneid(vneid_page, CHAU, DEMO_PASSWORD)
    at_rp = await browser.http.get(back.headers["location"])
    refused = redirect_to(at_rp, rp)
    assert refused.query["error"] == "unmet_authentication_requirements"
    assert (refused.query["state"], refused.query["iss"]) == (state, stack.broker_url)
    assert "code" not in refused.query


async def test_acr_in_the_id_token_is_the_level_achieved(
    stack: Stack, rp: RelyingParty, browser: Browser, http: httpx.AsyncClient
) -> None:
    tokens = await log_in_and_redeem(stack, http, browser, rp, AN, acr_values=LEVEL2)
    assert (await id_claims(http, stack, rp, tokens))["acr"] == LEVEL2
    other = Browser()
    try:
        tokens = await log_in_and_redeem(stack, http, other, rp, CHAU, acr_values=f"{LEVEL1} {LEVEL2}")
    finally:
        await other.close()
    assert (await id_claims(http, stack, rp, tokens))["acr"] == LEVEL1


async def test_a_level_1_session_does_not_satisfy_a_level_2_request(
    stack: Stack, rp: RelyingParty, browser: Browser, http: httpx.AsyncClient
) -> None:
    await log_in_and_redeem(stack, http, browser, rp, CHAU)
    strict = await stack.register_client("Hệ thống cấp 2", default_acr_values=[LEVEL2])
    _, response = await silent(stack, browser, strict)
    login_page = response  # /authorize answers with the login page
    assert is_login_page(login_page) and "VNeID" in login_page.text  # a new upstream login
    _, response = await silent(stack, browser, strict, prompt="none")
    assert redirect_to(response, strict).query["error"] == "login_required"
    # The level-1 session still serves systems that ask for nothing more.
    _, response = await silent(stack, browser, rp, prompt="none")
    assert "code" in redirect_to(response, rp).query


async def test_a_client_minimum_overrides_what_the_request_asks(stack: Stack, browser: Browser) -> None:
    rp = await stack.register_client("Hệ thống tối thiểu cấp 2", minimum_acr=LEVEL2)
    state, to_vneid = await _to_vneid(stack, browser, rp, acr_values=LEVEL1)
    assert parse_qs(urlsplit(to_vneid).query)["acr_values"] == [LEVEL2]
    back = await browser.sign_in_at_vneid(await browser.http.get(to_vneid), CHAU, DEMO_PASSWORD)
    refused = redirect_to(await browser.http.get(back.headers["location"]), rp)
    assert refused.query["error"] == "unmet_authentication_requirements" and refused.query["state"] == state
