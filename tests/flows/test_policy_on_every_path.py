"""THE policy is asked on every login path, not only the password form (issue 8, item 6): a disabled
account gets no session and no code by VNeID or by single sign-on reuse, and the refusal page and the
audit trail carry the policy's reason. Through real servers, on both databases."""

from __future__ import annotations

import httpx
from sqlalchemy import func, update
from sqlmodel import select

from broker.store.tables import Account, AuditEntry, AuthorizationCode, UpstreamLink
from tests.conftest import DEMO_PASSWORD, Stack
from tests.support.browser import Browser, RelyingParty
from tests.support.html_forms import is_login_page

AN = "001085012345"


async def _disable_the_account_of(stack: Stack) -> None:
    async with stack.database() as database, database.transaction() as session:
        account_id = (await session.execute(select(UpstreamLink.account_id))).scalar_one()
        await session.execute(update(Account).where(Account.id == account_id).values(status="disabled"))


async def _codes(stack: Stack) -> int:
    async with stack.database() as database, database.read() as session:
        return int((await session.execute(select(func.count()).select_from(AuthorizationCode))).scalar_one())


async def _refusals(stack: Stack, action: str) -> list[str | None]:
    async with stack.database() as database, database.read() as session:
        statement = select(AuditEntry).where(AuditEntry.action == action, AuditEntry.outcome == "refused")
        return [entry.reason for entry in (await session.execute(statement)).scalars()]


async def test_a_disabled_account_gets_the_refusal_page_at_the_vneid_callback(
    stack: Stack, rp: RelyingParty, browser: Browser
) -> None:
    await browser.log_in(stack.broker_url, rp, AN, DEMO_PASSWORD)  # Case 1: created and linked
    await _disable_the_account_of(stack)
    codes_before = await _codes(stack)

    later = Browser()
    login_page = await later.authorize(stack.broker_url, later.attempt(rp))
    vneid_page = await later.open_vneid(login_page)
    back = await later.sign_in_at_vneid(vneid_page, AN, DEMO_PASSWORD)
    refused = await later.http.get(back.headers["location"])

    assert refused.status_code == 403 and "location" not in refused.headers
    assert "account_disabled" in refused.text  # the policy's reason, on the page
    assert "broker_session" not in refused.headers.get("set-cookie", "")
    assert await _codes(stack) == codes_before
    assert await _refusals(stack, "login.vneid") == ["account_disabled"]
    await later.close()


async def test_single_sign_on_does_not_reuse_the_session_of_a_disabled_account(
    stack: Stack, rp: RelyingParty, browser: Browser
) -> None:
    await browser.log_in(stack.broker_url, rp, AN, DEMO_PASSWORD)
    silent = await browser.authorize(stack.broker_url, browser.attempt(rp, prompt="none"))
    assert "code=" in silent.headers["location"]  # the session answers while the account may log in

    await _disable_the_account_of(stack)
    codes_before = await _codes(stack)
    silent = await browser.authorize(stack.broker_url, browser.attempt(rp, prompt="none"))
    assert httpx.URL(silent.headers["location"]).params["error"] == "login_required"
    interactive = await browser.authorize(stack.broker_url, browser.attempt(rp))
    assert is_login_page(interactive)  # a login page, where the policy asks again

    assert await _codes(stack) == codes_before
    assert await _refusals(stack, "login.sso") == ["account_disabled", "account_disabled"]
