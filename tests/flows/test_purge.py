"""`broker maintenance purge` removes transient protocol rows once they stopped mattering, and nothing
else: accounts, links, the audit trail and the relying parties' view of who they served (client_accounts)
stay; expired access-token rows go."""

from __future__ import annotations

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
    LoginFlow,
    SsoSession,
    UpstreamLink,
)
from tests.conftest import Stack
from tests.support.browser import Browser, RelyingParty
from tests.support.op import log_in_and_redeem


async def _count(stack: Stack, table: type) -> int:
    async with stack.database() as database, database.read() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


async def _purge(stack: Stack, clock: FixedClock) -> dict[str, int]:
    registry = build_registry(stack.settings, clock=clock)
    try:
        return await purge.purge(registry, timedelta(hours=24))
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
