"""A Case 3 merge is one transaction: a database error or a killed process half way leaves the old
state, never a mix; and the citizen can then simply choose again."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from broker.app import build_registry
from broker.login import choose_account
from broker.store.tables import Account, AccountAlias, AccountEvent, LegacyAccount
from tests.conftest import DEMO_PASSWORD, Stack
from tests.support.browser import Browser, RelyingParty
from tests.support.chooser import keep_account
from tests.support.legacy import csv_text, row

BINH, BINH_CMND = "001190023456", "023456789"
STEPS = ["links_moved", "history_moved", "account_retired"]
REPOSITORY = Path(__file__).resolve().parents[2]


async def _at_the_choice(stack: Stack, rp: RelyingParty, browser: Browser) -> tuple[httpx.Response, str, int]:
    await stack.import_legacy(
        csv_text(
            row("b-1", BINH_CMND, full_name="Trần Thị Bình", birth_date="1990-07-25", cmnd=BINH_CMND),
            row("b-2", BINH, source_system="motcua-huyen", full_name="Trần Thị Bình", cccd=BINH),
        )
    )
    attempt = browser.attempt(rp)
    login_page = await browser.authorize(stack.broker_url, attempt)
    vneid_page = await browser.open_vneid(login_page)
    choose_page = await browser.follow(
        await browser.follow(await browser.sign_in_at_vneid(vneid_page, BINH, DEMO_PASSWORD))
    )
    flow_id = choose_page.url.params["flow"]
    async with stack.database() as database, database.read() as session:
        keep_id = (
            await session.execute(select(LegacyAccount.account_id).where(LegacyAccount.legacy_id == "b-2"))
        ).scalar_one()
    return choose_page, flow_id, keep_id


async def _snapshot(stack: Stack) -> tuple[object, ...]:
    async with stack.database() as database, database.read() as session:
        accounts = sorted(
            (a.sub, a.status, a.merged_into_id) for a in (await session.execute(select(Account))).scalars()
        )
        aliases = (await session.execute(select(AccountAlias.sub))).scalars().all()
        events = (await session.execute(select(AccountEvent.type))).scalars().all()
        owners = sorted(
            (r.legacy_id, r.account_id) for r in (await session.execute(select(LegacyAccount))).scalars()
        )
    return accounts, sorted(aliases), sorted(events), owners


async def _choose_again_over_http(browser: Browser, page: httpx.Response, keep_id: int) -> None:
    response = await keep_account(browser, page, keep_id)
    assert response.status_code == 303
    assert "code=" in response.headers["location"]


@pytest.mark.parametrize("step", STEPS)
async def test_a_database_error_half_way_leaves_the_old_state(
    stack: Stack, rp: RelyingParty, browser: Browser, step: str
) -> None:
    page, flow_id, keep_id = await _at_the_choice(stack, rp, browser)
    before = await _snapshot(stack)

    async def fail_at(reached: str) -> None:
        if reached == step:
            raise RuntimeError("the database went away")

    registry = build_registry(stack.settings)
    try:
        with pytest.raises(RuntimeError):
            await choose_account.choose(
                registry, flow_id, browser.http.cookies["broker_browser"], keep_id, fail_at
            )
    finally:
        await registry.vneid.aclose()
        await registry.db.dispose()

    assert await _snapshot(stack) == before
    await _choose_again_over_http(browser, page, keep_id)
    after = await _snapshot(stack)
    assert ("account.merged" in after[2]) and len(after[1]) == 1


@pytest.mark.parametrize("step", ["history_moved", "account_retired"])
async def test_a_process_killed_half_way_leaves_the_old_state(
    stack: Stack, rp: RelyingParty, browser: Browser, step: str
) -> None:
    page, flow_id, keep_id = await _at_the_choice(stack, rp, browser)
    before = await _snapshot(stack)

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.merge_then_die",
        stack.settings.database_url,
        flow_id,
        browser.http.cookies["broker_browser"],
        str(keep_id),
        step,
        cwd=REPOSITORY,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == -9, stderr.decode()[-2000:]  # it really died by SIGKILL, mid-merge

    assert await _snapshot(stack) == before
    await _choose_again_over_http(browser, page, keep_id)
