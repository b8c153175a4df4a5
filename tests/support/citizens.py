"""Citizens' journeys the Shared Signals tests build on: a legacy password login, and a Case 3 merge in
which the relying party knew the account that gets retired."""

from __future__ import annotations

from typing import Any

import httpx
from sqlmodel import select

from broker.store.tables import LegacyAccount
from tests.conftest import DEMO_PASSWORD, Stack
from tests.support.browser import Browser, RelyingParty, redeem, verified_id_token
from tests.support.chooser import keep_account
from tests.support.html_forms import form_posting_to, form_with
from tests.support.legacy import LEGACY_PASSWORD, csv_text, row

AN, AN_CMND = "001085012345", "012345678"
BINH, BINH_CMND = "001190023456", "023456789"


async def password_login(stack: Stack, rp: RelyingParty, username: str) -> tuple[str, str]:
    """A legacy password login, declining the offer to link VNeID; returns the code and verifier."""
    browser = Browser()
    try:
        attempt = browser.attempt(rp)
        login_page = await browser.authorize(stack.broker_url, attempt)
        form = form_with(login_page.text, str(login_page.url), "username", "password")
        suggestion = await browser.http.post(
            form.action, data={**form.fields, "username": username, "password": LEGACY_PASSWORD}
        )
        skip = form_posting_to(suggestion, "/login/continue")
        at_rp = await browser.http.post(skip.action, data=skip.fields)
        return httpx.URL(at_rp.headers["location"]).params["code"], attempt.verifier
    finally:
        await browser.close()


async def id_claims(
    http: httpx.AsyncClient, stack: Stack, rp: RelyingParty, code: str, verifier: str
) -> dict[str, Any]:
    response = await redeem(http, stack.broker_url, rp, code, verifier)
    assert response.status_code == 200, response.text
    jwks = (await http.get(f"{stack.broker_url}/jwks")).json()
    return verified_id_token(
        response.json()["id_token"], jwks, stack.broker_url, rp.client_id, fixed_time=True
    )


async def case_3_merge(stack: Stack, http: httpx.AsyncClient, rp: RelyingParty) -> tuple[str, str]:
    """Two legacy accounts of Trần Thị Bình (CMND, CCCD). ``rp`` serves her on the CMND account by
    password (before the cut-over), then she logs in with VNeID at ``rp`` and keeps the CCCD account: the
    CMND account is merged into it. Returns (retired sub, kept sub) as ``rp`` sees them."""
    await stack.import_legacy(
        csv_text(
            row("b-1", BINH_CMND, full_name="Trần Thị Bình", birth_date="1990-07-25", cmnd=BINH_CMND),
            row(
                "b-2",
                "binh.tran@example.vn",
                source_system="motcua-huyen",
                full_name="Trần Thị Bình",
                birth_date="1990-07-25",
                cccd=BINH,
            ),
        )
    )
    retired_sub = (await id_claims(http, stack, rp, *await password_login(stack, rp, BINH_CMND)))["sub"]
    browser = Browser()
    try:
        attempt = browser.attempt(rp)
        login_page = await browser.authorize(stack.broker_url, attempt)
        vneid_page = await browser.open_vneid(login_page)
        choose_page = await browser.follow(
            await browser.follow(await browser.sign_in_at_vneid(vneid_page, BINH, DEMO_PASSWORD))
        )
        async with stack.database() as database, database.read() as session:
            kept = (
                await session.execute(select(LegacyAccount).where(LegacyAccount.legacy_id == "b-2"))
            ).scalar_one()
        assert kept.account_id is not None
        at_rp = await keep_account(browser, choose_page, kept.account_id)
        assert at_rp.status_code == 303, at_rp.text[:500]
        code = httpx.URL(at_rp.headers["location"]).params["code"]
        kept_sub = (await id_claims(http, stack, rp, code, attempt.verifier))["sub"]
    finally:
        await browser.close()
    assert kept_sub != retired_sub
    return retired_sub, kept_sub
