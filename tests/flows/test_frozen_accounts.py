"""From 1/7/2024 an unlinked legacy citizen account is frozen: no tokens, no userinfo; the first VNeID
login links and unfreezes it, and the RP gets the same sub. Time is fixed, not slept through."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
from sqlmodel import select

from broker.admin.freeze import freeze_unlinked
from broker.app import build_registry
from broker.clock import FixedClock
from broker.store.tables import AccountEvent
from tests.conftest import DEMO_PASSWORD, Stack, StackFactory
from tests.support.browser import Browser, RelyingParty, redeem, verified_id_token
from tests.support.html_forms import form_posting_to, form_with
from tests.support.legacy import LEGACY_PASSWORD, csv_text, row

VN = ZoneInfo("Asia/Ho_Chi_Minh")
AN, AN_CMND = "001085012345", "012345678"
LEGACY_AN = row("c-1", AN_CMND, full_name="Nguyễn Văn An", birth_date="1985-03-12", cmnd=AN_CMND)


async def _password_then_skip(browser: Browser, stack: Stack, rp: RelyingParty) -> tuple[str, str]:
    attempt = browser.attempt(rp)
    login_page = await browser.authorize(stack.broker_url, attempt)
    form = form_with(login_page.text, str(login_page.url), "username", "password")
    suggestion = await browser.http.post(
        form.action, data={**form.fields, "username": AN_CMND, "password": LEGACY_PASSWORD}
    )
    skip = form_posting_to(suggestion, "/login/continue")
    at_rp = await browser.http.post(skip.action, data=skip.fields)
    return httpx.URL(at_rp.headers["location"]).params["code"], attempt.verifier


async def test_no_tokens_after_the_freeze_and_vneid_unfreezes(
    make_stack: StackFactory, browser: Browser, http: httpx.AsyncClient
) -> None:
    clock = FixedClock(datetime(2024, 6, 30, 23, 59, 0, tzinfo=VN))
    stack = make_stack(clock=clock, citizen_vneid_only_from=datetime(2099, 1, 1, tzinfo=UTC))
    rp = await stack.register_client()
    await stack.import_legacy(csv_text(LEGACY_AN))

    early_code, early_verifier = await _password_then_skip(browser, stack, rp)
    tokens = (await redeem(http, stack.broker_url, rp, early_code, early_verifier)).json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await http.get(f"{stack.broker_url}/userinfo", headers=bearer)).status_code == 200
    late_code, late_verifier = await _password_then_skip(Browser(), stack, rp)

    clock.advance(seconds=61)  # 00:00:01 on 1/7 in Vietnam; the late code (60 s) would still be fresh
    refused = await redeem(http, stack.broker_url, rp, late_code, late_verifier)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    assert (await http.get(f"{stack.broker_url}/userinfo", headers=bearer)).status_code == 401

    registry = build_registry(stack.settings, clock=clock)
    assert await freeze_unlinked(registry) == 1
    await registry.vneid.aclose()
    await registry.db.dispose()

    attempt, back = await Browser().log_in(stack.broker_url, rp, AN, DEMO_PASSWORD)
    response = await redeem(http, stack.broker_url, rp, back.query["code"], attempt.verifier)
    assert response.status_code == 200
    jwks = (await http.get(f"{stack.broker_url}/jwks")).json()
    before = verified_id_token(tokens["id_token"], jwks, stack.broker_url, rp.client_id, fixed_time=True)
    claims = verified_id_token(
        response.json()["id_token"], jwks, stack.broker_url, rp.client_id, fixed_time=True
    )
    assert claims["sub"] == before["sub"]  # the legacy account, linked and unfrozen, same sub
    async with stack.database() as database, database.read() as session:
        events = [
            (e.type, e.sub)
            for e in (await session.execute(select(AccountEvent).order_by(AccountEvent.id))).scalars()
        ]
    # The freeze also ended the two password sessions (issue 13: CAEP session-revoked), and the link gave the
    # account its 12-digit number (RISC identifier-changed).
    assert [kind for kind, _ in events] == [
        "account.frozen",
        "session.revoked",
        "session.revoked",
        "account.identifier_changed",
        "account.linked",
        "account.unfrozen",
    ]
    assert {sub for _, sub in events} == {claims["sub"]}
