"""`broker maintenance purge` removes transient protocol rows once they stopped mattering, and nothing
else: accounts, links, the audit trail and the relying parties' view of who they served (client_accounts)
stay; expired access-token rows go."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from sqlmodel import func, select

from broker.admin import purge
from broker.app import build_registry
from broker.clock import FixedClock
from broker.store.tables import (
    AccessToken,
    Account,
    AuditEntry,
    AuthorizationCode,
    ClientAccount,
    ClientAssertionJti,
    LoginFlow,
    LoginFlowRequirement,
    RefreshToken,
    SsoSession,
    SsoSessionClient,
    UpstreamLink,
)
from tests.conftest import Stack
from tests.support.browser import Browser, RelyingParty
from tests.support.op import log_in_and_redeem


async def _count(stack: Stack, table: type) -> int:
    async with stack.database() as database, database.read() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


async def _purge(stack: Stack, clock: FixedClock, batch: int = purge.BATCH) -> dict[str, int]:
    registry = build_registry(stack.settings, clock=clock)
    try:
        return await purge.purge(registry, timedelta(hours=24), batch)
    finally:
        await registry.vneid.aclose()
        await registry.db.dispose()


async def test_purge_keeps_what_is_live_and_removes_what_expired(
    stack: Stack, rp: RelyingParty, browser: Browser, http: httpx.AsyncClient
) -> None:
    await log_in_and_redeem(stack, http, browser, rp)
    kept = {table: await _count(stack, table) for table in (Account, UpstreamLink, ClientAccount)}
    assert kept[ClientAccount] == 1 and await _count(stack, AccessToken) == 1
    assert await _count(stack, LoginFlow) == 1 and await _count(stack, SsoSession) == 1

    now = FixedClock(datetime.now(UTC))
    assert await _purge(stack, now) == {
        "login_flows": 0,
        "authorization_codes": 0,
        "refresh_tokens": 0,
        "sso_sessions": 0,
        "client_assertion_jtis": 0,
        "backchannel_deliveries": 0,
        "access_tokens": 0,
    }

    now.advance(days=30)
    counts = await _purge(stack, now)
    assert counts["login_flows"] == 1 and counts["authorization_codes"] == 1 and counts["sso_sessions"] == 1
    assert counts["access_tokens"] == 1
    for table in (LoginFlow, AuthorizationCode, SsoSession, AccessToken):
        assert await _count(stack, table) == 0
    # Accounts, links, and which relying party served which account (the event feeds' visibility rule).
    assert {table: await _count(stack, table) for table in kept} == kept
    async with stack.database() as database, database.read() as session:
        entries = (
            (await session.execute(select(AuditEntry).where(AuditEntry.action == "maintenance.purge")))
            .scalars()
            .all()
        )
    assert [entry.details["login_flows"] for entry in entries] == [0, 1]

    again = Browser()  # the citizen still logs in as before
    await log_in_and_redeem(stack, http, again, rp)
    await again.close()


async def test_purge_goes_in_batches_and_logins_go_on_meanwhile(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    """Many expired rows of every kind, removed 7 at a time (each batch its own transaction) while citizens
    log in; nothing live is touched."""
    start = datetime.now(UTC)
    old = start - timedelta(days=3)
    async with stack.database() as database, database.transaction() as session:
        account = Account(sub="acct-purge", account_type="citizen", created_at=old, updated_at=old)
        session.add(account)
        await session.flush()
        assert account.id is not None
        for index in range(20):
            common = {"created_at": old, "expires_at": old + timedelta(minutes=10)}
            session.add(
                LoginFlow(
                    id=f"flow-{index}",
                    browser_hash="b",
                    state="completed",
                    client_id=rp.client_id,
                    redirect_uri=rp.redirect_uri,
                    scope="openid",
                    code_challenge="c" * 43,
                    **common,
                )
            )
            session.add(LoginFlowRequirement(flow_id=f"flow-{index}"))
            session.add(
                AuthorizationCode(
                    code_hash=f"code-{index}",
                    grant_id=f"grant-{index}",
                    client_id=rp.client_id,
                    redirect_uri=rp.redirect_uri,
                    account_id=account.id,
                    scope="openid",
                    code_challenge="c",
                    auth_time=old,
                    acr="a",
                    used=True,
                    **common,
                )
            )
            session.add(
                RefreshToken(
                    token_hash=f"refresh-{index}",
                    grant_id=f"grant-{index}",
                    client_id=rp.client_id,
                    account_id=account.id,
                    scope="openid",
                    auth_time=old,
                    acr="a",
                    **common,
                )
            )
            session.add(
                SsoSession(
                    sid=f"sid-{index}",
                    cookie_hash=f"cookie-{index}",
                    account_id=account.id,
                    auth_time=old,
                    acr="a",
                    **common,
                )
            )
            await session.flush()
            session.add(SsoSessionClient(sid=f"sid-{index}", client_id=rp.client_id, created_at=old))
            session.add(ClientAssertionJti(client_id=rp.client_id, jti=f"jti-{index}", expires_at=old))

    async def log_in_three_times() -> list[str]:
        subs = []
        for _ in range(3):
            person = Browser()
            tokens = await log_in_and_redeem(stack, http, person, rp)
            subs.append(tokens["access_token"])
            await person.close()
        return subs

    counts, logged_in = await asyncio.gather(_purge(stack, FixedClock(start), batch=7), log_in_three_times())

    assert len(logged_in) == 3
    for kind in (
        "login_flows",
        "authorization_codes",
        "refresh_tokens",
        "sso_sessions",
        "client_assertion_jtis",
    ):
        assert counts[kind] == 20, (kind, counts)
    assert await _count(stack, ClientAssertionJti) == 0
    # What is left is the three logins that ran meanwhile, with their dependent rows.
    for table in (LoginFlow, LoginFlowRequirement, SsoSession, SsoSessionClient):
        assert await _count(stack, table) == 3, table
