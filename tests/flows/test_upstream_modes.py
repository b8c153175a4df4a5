"""Issue 10: a citizen logs in through each shape of upstream, mock VNeID speaking it on a real port:
clean OIDC, the national portal's OAuth 2.0 + userinfo, and VNeID's encrypted gateway (ECB and CBC).
Whatever the shape, the relying party gets the same verified claims, and the broker refuses, with a page,
whatever it cannot trust."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from broker.clock import FixedClock
from broker.store import audit
from tests.conftest import DEMO_PASSWORD, Stack
from tests.support.browser import Browser, RelyingParty, redeem, verified_id_token
from tests.support.html_forms import form_with
from tests.support.servers import free_port
from tests.support.upstream_stacks import ModeStacks

AN = "001085012345"  # Nguyễn Văn An, level 2
CHAU = "038303004567"  # Lê Minh Châu, level 1

MODES = [("oidc", "ecb"), ("oauth2-userinfo", "ecb"), ("vneid-gateway", "ecb"), ("vneid-gateway", "cbc")]


@pytest.fixture
def stacks(tmp_path: Path, database_url: str) -> Iterator[ModeStacks]:
    made = ModeStacks(tmp_path, database_url)
    yield made
    made.stop()


async def _claims(
    http: httpx.AsyncClient, stack: Stack, rp: RelyingParty, browser: Browser, number: str
) -> dict:
    attempt, back = await browser.log_in(stack.broker_url, rp, number, DEMO_PASSWORD)
    tokens = await redeem(http, stack.broker_url, rp, back.query["code"], attempt.verifier)
    assert tokens.status_code == 200, tokens.text
    jwks = (await http.get(f"{stack.broker_url}/jwks")).json()
    return verified_id_token(tokens.json()["id_token"], jwks, stack.broker_url, rp.client_id)


async def _callback(
    browser: Browser, stack: Stack, rp: RelyingParty, number: str = AN, **params: str
) -> httpx.URL:
    """Logs in at mock VNeID; returns the callback URL it sent the browser to (not yet followed)."""
    login_page = await browser.authorize(stack.broker_url, browser.attempt(rp, **params))
    vneid_page = await browser.open_vneid(login_page)
    back = await browser.sign_in_at_vneid(vneid_page, number, DEMO_PASSWORD)
    assert back.status_code == 303, back.text[:500]
    return httpx.URL(back.headers["location"])


async def _refusals(stack: Stack) -> list[str | None]:
    async with stack.database() as db, db.read() as session:
        return [entry.reason for entry in await audit.entries(session) if entry.outcome == "refused"]


@pytest.mark.parametrize(("mode", "cipher"), MODES)
async def test_a_full_login_through_each_mode_gives_the_rp_the_same_verified_claims(
    stacks: ModeStacks, browser: Browser, http: httpx.AsyncClient, mode: str, cipher: str
) -> None:
    stack = stacks.single(mode, cipher_mode=cipher)
    rp = await stack.register_client()

    claims = await _claims(http, stack, rp, browser, AN)

    assert claims["name"] == "Nguyễn Văn An"
    assert claims["identification_number"] == AN
    assert claims["birthdate"] == "1985-03-12"
    assert claims["acr"] == "urn:vneid:loa:level2"
    assert AN not in claims["sub"]
    # The next login, in a new browser, is the same account.
    again = Browser()
    try:
        assert (await _claims(http, stack, rp, again, AN))["sub"] == claims["sub"]
    finally:
        await again.close()


@pytest.mark.parametrize("fault", ["tampered_data", "wrong_wrapped_key", "foreign_rp_key"])
@pytest.mark.parametrize("cipher", ["ecb", "cbc"])
async def test_a_spoiled_gateway_envelope_is_refused_with_a_page_and_audited(
    stacks: ModeStacks, browser: Browser, fault: str, cipher: str
) -> None:
    stack = stacks.single("vneid-gateway", cipher_mode=cipher)
    rp = await stack.register_client()
    await stack.vneid_faults(gateway=fault)

    page = await browser.http.get(await _callback(browser, stack, rp))

    assert page.status_code == 502
    assert "location" not in page.headers  # no code goes to the RP
    assert "1900.0368" in page.text
    assert "gateway_body_invalid" in page.text
    assert await _refusals(stack) == ["gateway_body_invalid"]


async def test_an_encrypted_code_that_does_not_decrypt_is_refused(
    stacks: ModeStacks, browser: Browser
) -> None:
    stack = stacks.single("vneid-gateway")
    rp = await stack.register_client()
    callback = await _callback(browser, stack, rp)
    assert "encrypt_key" in callback.params  # the gateway sent the code encrypted
    sealed = callback.params["code"]
    # The first AES block garbled: what it decrypts to is no code (not text, or not the code's padding).
    spoiled = callback.copy_set_param("code", ("B" * 8 if sealed.startswith("A") else "A" * 8) + sealed[8:])

    page = await browser.http.get(spoiled)

    assert page.status_code == 502
    assert "gateway_code_invalid" in page.text
    assert sealed not in page.text


async def test_a_missing_required_claim_is_a_clear_refusal_with_the_hotline_never_a_500(
    stacks: ModeStacks, browser: Browser
) -> None:
    stack = stacks.single("oauth2-userinfo")
    rp = await stack.register_client()
    await stack.vneid_faults(drop_claims=["SoDinhDanh"])

    page = await browser.http.get(await _callback(browser, stack, rp))

    assert page.status_code == 403
    assert "Chưa thể đăng nhập bằng tài khoản này" in page.text
    assert "1900.0368" in page.text and "18001096" in page.text
    assert "claim_missing:identification_number" in page.text
    assert await _refusals(stack) == ["claim_missing:identification_number"]
    async with stack.database() as db, db.read() as session:
        assert [e for e in await audit.entries(session) if e.action == "account.create"] == []


async def test_a_userinfo_subject_that_changes_between_two_logins_is_refused_never_a_second_account(
    stacks: ModeStacks, http: httpx.AsyncClient
) -> None:
    stack = stacks.single("oauth2-userinfo")
    rp = await stack.register_client()
    first = Browser()
    try:
        await _claims(http, stack, rp, first, AN)
    finally:
        await first.close()

    await stack.vneid_faults(userinfo_subject_changed=True)
    second = Browser()
    try:
        page = await second.http.get(await _callback(second, stack, rp))
    finally:
        await second.close()

    assert page.status_code == 403
    assert "upstream_subject_changed" in page.text
    async with stack.database() as db, db.read() as session:
        created = [e for e in await audit.entries(session) if e.action == "account.create"]
    assert len(created) == 1
    assert await _refusals(stack) == ["upstream_subject_changed"]


@pytest.mark.parametrize("mode", ["oidc", "oauth2-userinfo", "vneid-gateway"])
async def test_an_upstream_code_that_expired_before_the_exchange_is_refused_with_a_page(
    stacks: ModeStacks, browser: Browser, mode: str
) -> None:
    clock = FixedClock(datetime(2026, 11, 22, 9, 0, tzinfo=UTC))
    stack = stacks.single(mode, clock=clock)
    rp = await stack.register_client()
    callback = await _callback(browser, stack, rp)

    clock.advance(seconds=61)  # mock VNeID's codes live 60 s; the broker's login flow still lives
    page = await browser.http.get(callback)

    assert page.status_code == 502
    assert "token_exchange_failed" in page.text
    assert "Thử lại với VNeID" in page.text  # the citizen may start again


@pytest.mark.parametrize("mode", ["oidc", "oauth2-userinfo", "vneid-gateway"])
async def test_cancelling_at_the_upstream_shows_you_cancelled_with_try_again(
    stacks: ModeStacks, browser: Browser, mode: str
) -> None:
    stack = stacks.single(mode)
    rp = await stack.register_client()
    login_page = await browser.authorize(stack.broker_url, browser.attempt(rp))
    vneid_page = await browser.open_vneid(login_page)
    form = form_with(vneid_page.text, str(vneid_page.url), "username", "password")
    cancelled = await browser.http.post(form.action, data={**form.fields, "action": "cancel"})
    page = await browser.http.get(cancelled.headers["location"])

    assert page.status_code == 200
    assert "Bạn đã huỷ đăng nhập" in page.text
    assert "Hệ thống VNeID" not in page.text  # not the "VNeID unavailable" page
    again = await browser.choose_vneid(page)  # "Thử lại" starts a new upstream login for the same flow
    assert (await browser.follow(again)).status_code == 200
    assert await _refusals(stack) == []


async def test_pkce_is_sent_to_the_portal_when_configured_and_checked_there(
    stacks: ModeStacks, http: httpx.AsyncClient
) -> None:
    """Issue 10: PKCE whenever the upstream supports it; mock VNeID checks a challenge it was sent."""
    broker_port = free_port()
    portal, portal_settings = stacks.mock("oauth2-userinfo", f"http://127.0.0.1:{broker_port}")
    upstream = {
        "id": "dvcqg",
        "type": "oauth2-userinfo",
        "issuer": portal.url,
        "client_id": "broker-dev",
        "client_secret": "broker-dev-secret",
        "pkce": True,
    }
    broker, settings = stacks.broker(broker_port, upstreams=[upstream])
    stack = Stack(portal, broker, settings, portal_settings)
    rp = await stack.register_client()
    browser = Browser()
    try:
        login_page = await browser.authorize(stack.broker_url, browser.attempt(rp))
        to_portal = await browser.vneid_address(login_page)
        sent = httpx.URL(to_portal).params
        assert sent["code_challenge_method"] == "S256" and len(sent["code_challenge"]) == 43
        assert "nonce" not in sent  # the portal returns no ID token that could carry it
        back = await browser.sign_in_at_vneid(await browser.http.get(to_portal), AN, DEMO_PASSWORD)
        at_rp = await browser.http.get(back.headers["location"])
    finally:
        await browser.close()
    assert at_rp.status_code == 303 and "code=" in at_rp.headers["location"]
