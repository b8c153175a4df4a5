"""Issue 7: a known citizen's callback writes the flow's move, the SSO session, the code and the audit row
as one statement, without BEGIN or COMMIT, guarded by the statement itself (``expect_rows``, migration
0016) instead of a row count checked between two statements of a transaction.

Two callbacks of one flow at once (a citizen who signed in at VNeID in two tabs of one login: two upstream
codes, one state) both pass the flow's state check and both exchange their code; only one may move the
flow. The other is refused with the page a replay gets, and nothing of it is written: no second session,
no second code, no second audit row."""

from __future__ import annotations

import asyncio

import httpx
from sqlmodel import select

from broker.store import audit
from broker.store.tables import AuthorizationCode, LoginFlow, SsoSession
from tests.conftest import DEMO_PASSWORD, Stack
from tests.flows.test_authorize_errors import AN, assert_flow_refused
from tests.support.browser import Browser, RelyingParty


async def _two_callbacks_of_one_flow(browser: Browser, stack: Stack, rp: RelyingParty) -> tuple[str, str]:
    login_page = await browser.authorize(stack.broker_url, browser.attempt(rp))
    to_vneid = await browser.vneid_address(login_page)
    callbacks = []
    for _ in range(2):  # the same VNeID authorization request, signed in twice
        back = await browser.sign_in_at_vneid(await browser.http.get(to_vneid), AN, DEMO_PASSWORD)
        assert back.status_code == 303, back.text[:1000]
        callbacks.append(back.headers["location"])
    assert callbacks[0] != callbacks[1]  # two upstream codes, one state
    return callbacks[0], callbacks[1]


async def _rows(stack: Stack) -> tuple[int, int, int, list[str]]:
    async with stack.database() as database, database.read() as session:
        sessions = (await session.execute(select(SsoSession))).scalars().all()
        codes = (await session.execute(select(AuthorizationCode))).scalars().all()
        flows = (await session.execute(select(LoginFlow))).scalars().all()
        trail = await audit.entries(session)
        assert (await audit.verify(session)).first_break is None
    logins = [entry.outcome for entry in trail if entry.action == "login.vneid"]
    return len(sessions), len(codes), len([flow for flow in flows if flow.state == "completed"]), logins


async def test_two_callbacks_of_one_flow_at_once_issue_one_code(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    known = Browser()  # the citizen logged in once before: the callback below is a known citizen's
    try:
        first, _ = await _two_callbacks_of_one_flow(known, stack, rp)
        assert (await known.http.get(first)).status_code == 303
    finally:
        await known.close()
    before = await _rows(stack)

    for _ in range(3):
        browser = Browser()
        try:
            one, other = await _two_callbacks_of_one_flow(browser, stack, rp)
            # VNeID answers both exchanges late: both callbacks have loaded the flow, still pending,
            # before either writes, so the loser is refused by the guard, not by the state check.
            await stack.vneid_faults(token_endpoint="slow", slow_seconds=0.5, times=2)
            answers = await asyncio.gather(browser.http.get(one), browser.http.get(other))
        finally:
            await browser.close()
        winners = [answer for answer in answers if answer.status_code == 303]
        assert len(winners) == 1, [(answer.status_code, answer.text[:300]) for answer in answers]
        assert "code=" in winners[0].headers["location"]
        (loser,) = (answer for answer in answers if answer is not winners[0])
        assert_flow_refused(loser, rp)

    sessions, codes, completed, logins = await _rows(stack)
    assert (sessions, codes, completed) == (before[0] + 3, before[1] + 3, before[2] + 3)
    assert logins == [*before[3], "allowed", "allowed", "allowed"]
