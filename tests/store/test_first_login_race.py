"""Concurrent first logins of one person: a login that looked for the identity's link before another
login committed it, and then finds the person's number held by that account, runs again and logs in to
it; it is not refused as an upstream that changed the person's subject (the bench's "one citizen" phase
met this as a 403 at the callback)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from broker.app import build_registry
from broker.clock import FixedClock
from broker.domain.identity import VerifiedIdentity
from broker.errors import IdentityRefused, StoreConflict
from broker.login import link_account
from broker.login.link_account import Resolved, account_for
from broker.registry import Registry
from broker.settings import Settings
from broker.store import accounts

AN = VerifiedIdentity(
    issuer="https://vneid.example",
    subject="vneid-an",
    identification_number="001085012345",
    old_identification_number=None,
    name="Nguyễn Văn An",
    birthdate=date(1985, 3, 14),
    gender="male",
    level=2,
    acr="urn:vneid:loa:level2",
    amr=("pwd",),
    auth_time=datetime(2024, 7, 2, tzinfo=UTC),
)


@pytest.fixture
async def registry(database_url: str) -> AsyncIterator[Registry]:
    made = build_registry(
        Settings(database_url=database_url),
        clock=FixedClock(datetime(2024, 7, 2, 9, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))),
    )
    yield made
    await made.vneid.aclose()
    await made.db.dispose()


async def test_a_login_that_missed_a_concurrent_link_runs_again_instead_of_being_refused(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await account_for(registry, AN)  # the login that committed first
    assert isinstance(first, Resolved)

    looked_up = accounts.first_lookup

    async def not_yet_committed(*args: Any) -> accounts.FirstLookup:
        # the link as a read before the first login committed it missed it, the number already held
        return replace(await looked_up(*args), by_link=None)

    monkeypatch.setattr(accounts, "first_lookup", not_yet_committed)
    with pytest.raises(StoreConflict):
        async with registry.db.transaction() as session:
            await link_account.resolve_in(registry, session, AN, None)
    monkeypatch.undo()
    again = await account_for(registry, AN)  # the run again: found by its link
    assert isinstance(again, Resolved) and again.account.id == first.account.id


async def test_another_subject_of_the_same_upstream_is_still_refused(registry: Registry) -> None:
    await account_for(registry, AN)
    with pytest.raises(IdentityRefused, match="upstream_subject_changed"):
        await account_for(registry, replace(AN, subject="vneid-someone-else"))
