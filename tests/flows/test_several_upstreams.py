"""Issue 10: several upstreams at once (VNeID directly, and the national portal's SSO), each a button on the
login page. One citizen through both lands on one account, linked by the number both verified: a second
link row, never a second account, and the relying party sees the same ``sub``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from broker.store import audit
from broker.store.tables import Account, UpstreamLink
from tests.conftest import DEMO_PASSWORD, Stack
from tests.support.browser import Browser, RelyingParty, redeem, verified_id_token
from tests.support.html_forms import forms
from tests.support.servers import free_port
from tests.support.upstream_stacks import ModeStacks

AN = "001085012345"


@pytest.fixture
def stacks(tmp_path: Path, database_url: str) -> Iterator[ModeStacks]:
    made = ModeStacks(tmp_path, database_url)
    yield made
    made.stop()


@pytest.fixture
def two_upstreams(stacks: ModeStacks) -> Stack:
    broker_port = free_port()
    broker_url = f"http://127.0.0.1:{broker_port}"
    vneid, vneid_settings = stacks.mock("oidc", broker_url)
    portal, _ = stacks.mock("oauth2-userinfo", broker_url)
    secret = {"client_id": "broker-dev", "client_secret": "broker-dev-secret"}
    upstreams = [
        {
            "id": "vneid",
            "display_name": "VNeID",
            "type": "oidc",
            "issuer": vneid.url,
            "scope": "openid profile vneid",
            **secret,
        },
        {
            "id": "dvcqg",
            "display_name": "Cổng DVCQG",
            "type": "oauth2-userinfo",
            "issuer": portal.url,
            "logout": "back-channel",
            **secret,
        },
    ]
    broker, settings = stacks.broker(broker_port, upstreams=upstreams)
    return Stack(vneid, broker, settings, vneid_settings)


async def _start_through(browser: Browser, stack: Stack, rp: RelyingParty, upstream: str) -> httpx.URL:
    """Press the upstream's button on the login page, sign in there; the callback URL (not followed)."""
    login_page = await browser.authorize(stack.broker_url, browser.attempt(rp))
    buttons = {form.fields.get("upstream"): form for form in forms(login_page.text, str(login_page.url))}
    assert {"vneid", "dvcqg"} <= buttons.keys()
    assert "Cổng DVCQG" in login_page.text
    form = buttons[upstream]
    upstream_page = await browser.follow(await browser.http.post(form.action, data=form.fields))
    back = await browser.sign_in_at_vneid(upstream_page, AN, DEMO_PASSWORD)
    assert back.status_code == 303, back.text[:500]
    return httpx.URL(back.headers["location"])


async def test_one_citizen_through_two_upstreams_is_one_account_with_one_sub(
    two_upstreams: Stack, http: httpx.AsyncClient
) -> None:
    stack = two_upstreams
    rp = await stack.register_client()
    subs = []
    for upstream in ("vneid", "dvcqg"):
        browser = Browser()
        try:
            attempt = browser.attempt(rp)
            login_page = await browser.authorize(stack.broker_url, attempt)
            form = next(
                f for f in forms(login_page.text, str(login_page.url)) if f.fields.get("upstream") == upstream
            )
            upstream_page = await browser.follow(await browser.http.post(form.action, data=form.fields))
            back = await browser.sign_in_at_vneid(upstream_page, AN, DEMO_PASSWORD)
            at_rp = await browser.http.get(back.headers["location"])
            assert at_rp.status_code == 303, at_rp.text[:500]
            code = httpx.URL(at_rp.headers["location"]).params["code"]
            tokens = (await redeem(http, stack.broker_url, rp, code, attempt.verifier)).json()
            jwks = (await http.get(f"{stack.broker_url}/jwks")).json()
            claims = verified_id_token(tokens["id_token"], jwks, stack.broker_url, rp.client_id)
            assert claims["identification_number"] == AN
            subs.append(claims["sub"])
        finally:
            await browser.close()

    assert subs[0] == subs[1]
    async with stack.database() as db, db.read() as session:
        assert len((await session.execute(select(Account))).scalars().all()) == 1
        links = (await session.execute(select(UpstreamLink))).scalars().all()
        trail = await audit.entries(session)
    # Identity = (upstream, subject): each upstream's id keys its links (no link_issuer configured).
    assert sorted(link.issuer for link in links) == ["dvcqg", "vneid"]
    assert [e.reason for e in trail if e.action == "account.link"] == ["verified_number_other_upstream"]


async def test_two_first_logins_through_two_upstreams_at_once_make_one_account(
    two_upstreams: Stack, http: httpx.AsyncClient
) -> None:
    stack = two_upstreams
    rp = await stack.register_client()
    browsers = [Browser(), Browser()]
    try:
        callbacks = [
            await _start_through(browsers[0], stack, rp, "vneid"),
            await _start_through(browsers[1], stack, rp, "dvcqg"),
        ]
        answers = await asyncio.gather(*(b.http.get(url) for b, url in zip(browsers, callbacks, strict=True)))
    finally:
        for browser in browsers:
            await browser.close()

    assert [answer.status_code for answer in answers] == [303, 303]
    async with stack.database() as db, db.read() as session:
        accounts = (await session.execute(select(Account))).scalars().all()
        links = (await session.execute(select(UpstreamLink))).scalars().all()
    assert len(accounts) == 1
    assert {link.account_id for link in links} == {accounts[0].id}
    assert len(links) == 2
