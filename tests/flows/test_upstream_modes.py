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
    login_page = await browser.follow(
        await browser.authorize(stack.broker_url, browser.attempt(rp, **params))
    )
    vneid_page = await browser.follow(await browser.choose_vneid(login_page))
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
