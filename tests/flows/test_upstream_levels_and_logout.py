"""Issue 10: levels of assurance through the non-OIDC shapes (LoA1/LoA2 of the national portal, VNeID's
account levels 1/2 at the gateway) become the broker's acr values; a client's minimum is asked upstream
where the shape allows and enforced on what comes back. And ending the broker's session ends the portal's
session too, by its logoutUri, front-channel or back-channel as configured."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import DEMO_PASSWORD, Stack
from tests.support.browser import Browser, RelyingParty, redeem, verified_id_token
from tests.support.chooser import keep_account
from tests.support.citizens import BINH
from tests.support.html_forms import form_posting_to, form_with
from tests.support.legacy import csv_text, row
from tests.support.op import AN, CHAU, redirect_to
from tests.support.upstream_stacks import ModeStacks

LEVEL1, LEVEL2 = "urn:vneid:loa:level1", "urn:vneid:loa:level2"


@pytest.fixture
def stacks(tmp_path: Path, database_url: str) -> Iterator[ModeStacks]:
    made = ModeStacks(tmp_path, database_url)
    yield made
    made.stop()


async def _upstream(browser: Browser, stack: Stack, rp: RelyingParty, **params: str) -> tuple[str, str]:
    attempt = browser.attempt(rp, **params)
    login_page = await browser.authorize(stack.broker_url, attempt)
    return attempt.verifier, await browser.vneid_address(login_page)


@pytest.mark.parametrize(("mode", "asked"), [("oauth2-userinfo", ["LoA2"]), ("vneid-gateway", None)])
async def test_a_level_2_requirement_is_asked_upstream_where_possible_and_enforced_on_the_result(
    stacks: ModeStacks, browser: Browser, mode: str, asked: list[str] | None
) -> None:
    stack = stacks.single(mode)
    rp = await stack.register_client()
    _, to_upstream = await _upstream(browser, stack, rp, acr_values=LEVEL2)
    assert parse_qs(urlsplit(to_upstream).query).get("acr_values") == asked

    back = await browser.sign_in_at_vneid(await browser.http.get(to_upstream), CHAU, DEMO_PASSWORD)  # level 1
    refused = redirect_to(await browser.http.get(back.headers["location"]), rp)
    assert refused.query["error"] == "unmet_authentication_requirements"
    assert "code" not in refused.query


@pytest.mark.parametrize("mode", ["oauth2-userinfo", "vneid-gateway"])
async def test_the_upstream_level_becomes_the_brokers_acr(
    stacks: ModeStacks, http: httpx.AsyncClient, mode: str
) -> None:
    stack = stacks.single(mode)
    rp = await stack.register_client()
    achieved = {}
    for number in (AN, CHAU):
        browser = Browser()
        try:
            verifier, to_upstream = await _upstream(browser, stack, rp, acr_values=f"{LEVEL1} {LEVEL2}")
            back = await browser.sign_in_at_vneid(await browser.http.get(to_upstream), number, DEMO_PASSWORD)
            at_rp = redirect_to(await browser.http.get(back.headers["location"]), rp)
            tokens = (await redeem(http, stack.broker_url, rp, at_rp.query["code"], verifier)).json()
        finally:
            await browser.close()
        jwks = (await http.get(f"{stack.broker_url}/jwks")).json()
        achieved[number] = verified_id_token(tokens["id_token"], jwks, stack.broker_url, rp.client_id)["acr"]
    assert achieved == {AN: LEVEL2, CHAU: LEVEL1}


async def _logged_in(stack: Stack, browser: Browser, rp: RelyingParty) -> None:
    await browser.log_in(stack.broker_url, rp, AN, DEMO_PASSWORD)


# One CCCD in two systems (the portal gives no old CMND to match by): Case 3.
BINH_IN_TWO_SYSTEMS = csv_text(
    row("b-1", BINH, full_name="Trần Thị Bình", birth_date="1990-07-25", cccd=BINH),
    row(
        "b-2",
        "binh.tran@example.vn",
        source_system="motcua-huyen",
        full_name="Trần Thị Bình",
        birth_date="1990-07-25",
        cccd=BINH,
    ),
)


async def _binh_back_from_the_portal(browser: Browser, stack: Stack, rp: RelyingParty) -> httpx.Response:
    """Bình logs in at the portal: the broker's answer at its callback."""
    _, to_upstream = await _upstream(browser, stack, rp)
    back = await browser.sign_in_at_vneid(await browser.http.get(to_upstream), BINH, DEMO_PASSWORD)
    return await browser.http.get(back.headers["location"])


async def _log_out(browser: Browser, stack: Stack) -> httpx.Response:
    """The broker's logout, confirmed."""
    confirm_page = await browser.http.get(f"{stack.broker_url}/logout")
    form = form_posting_to(confirm_page, "/logout/confirm")
    return await browser.http.post(form.action, data=form.fields)


async def _upstream_logouts(http: httpx.AsyncClient, stack: Stack) -> int:
    return (await http.get(f"{stack.vneid_url}/_test/upstream-logouts")).json()["count"]


async def test_front_channel_the_browser_is_sent_to_the_portals_logout_uri(
    stacks: ModeStacks, browser: Browser, http: httpx.AsyncClient
) -> None:
    stack = stacks.single("oauth2-userinfo", vneid_logout="front-channel")
    rp = await stack.register_client()
    await _logged_in(stack, browser, rp)

    ended = await _log_out(browser, stack)

    assert ended.status_code == 303
    assert ended.headers["location"].startswith(f"{stack.vneid_url}/oauth2/logout?token=")
    assert await _upstream_logouts(http, stack) == 0
    assert (await browser.follow(ended)).status_code == 200
    assert await _upstream_logouts(http, stack) == 1


async def test_back_channel_the_broker_calls_the_portals_logout_uri_itself(
    stacks: ModeStacks, browser: Browser, http: httpx.AsyncClient
) -> None:
    stack = stacks.single("oauth2-userinfo", vneid_logout="back-channel")
    rp = await stack.register_client()
    await _logged_in(stack, browser, rp)

    confirm_page = await browser.http.get(f"{stack.broker_url}/logout")
    form = form_posting_to(confirm_page, "/logout/confirm")
    ended = await browser.http.post(form.action, data=form.fields)

    assert ended.status_code == 200  # the broker's own "logged out" page
    assert await _upstream_logouts(http, stack) == 1
    again = await browser.http.post(form.action, data=form.fields)  # a second press ends nothing more
    assert again.status_code == 200
    assert await _upstream_logouts(http, stack) == 1


async def test_an_upstream_without_a_logout_uri_changes_nothing_in_logout(
    stacks: ModeStacks, browser: Browser
) -> None:
    stack = stacks.single("vneid-gateway")
    rp = await stack.register_client()
    await _logged_in(stack, browser, rp)
    assert (await _log_out(browser, stack)).status_code == 200


@pytest.mark.parametrize("choice", ["keep", "later"])
async def test_a_case_3_citizen_who_chose_or_put_off_the_choice_is_logged_out_at_the_portal_too(
    stacks: ModeStacks, browser: Browser, http: httpx.AsyncClient, choice: str
) -> None:
    stack = stacks.single("oauth2-userinfo", vneid_logout="back-channel")
    await stack.import_legacy(BINH_IN_TWO_SYSTEMS)
    rp = await stack.register_client()
    chooser = await browser.follow(await _binh_back_from_the_portal(browser, stack, rp))
    assert "Bạn có nhiều tài khoản cũ" in chooser.text
    if choice == "keep":
        keep = int(form_with(chooser.text, str(chooser.url), "keep").fields["keep"])
        chosen = await keep_account(browser, chooser, keep)
    else:  # "Để sau": logged in to the likeliest account, the pair left to an officer
        later = form_posting_to(chooser, "/login/choose/later")
        chosen = await browser.http.post(later.action, data=later.fields)
    assert redirect_to(chosen, rp).query["code"]

    assert (await _log_out(browser, stack)).status_code == 200
    assert await _upstream_logouts(http, stack) == 1


async def test_a_login_that_showed_the_review_reminder_is_logged_out_at_the_portal_too(
    stacks: ModeStacks, browser: Browser, http: httpx.AsyncClient
) -> None:
    """After "Để sau" the citizen's next logins show a reminder page before the RP: the session opened by
    its "Tiếp tục" keeps the portal's logout URL like any other."""
    stack = stacks.single("oauth2-userinfo", vneid_logout="back-channel")
    await stack.import_legacy(BINH_IN_TWO_SYSTEMS)
    rp = await stack.register_client()
    chooser = await browser.follow(await _binh_back_from_the_portal(browser, stack, rp))
    later = form_posting_to(chooser, "/login/choose/later")
    assert redirect_to(await browser.http.post(later.action, data=later.fields), rp).query["code"]
    assert (await _log_out(browser, stack)).status_code == 200
    assert await _upstream_logouts(http, stack) == 1

    reminder = await _binh_back_from_the_portal(browser, stack, rp)  # the page, at the callback
    assert "Tiếp tục vào dịch vụ" in reminder.text
    go_on = form_posting_to(reminder, "/login/continue")
    assert redirect_to(await browser.http.post(go_on.action, data=go_on.fields), rp).query["code"]
    async with stack.database() as database, database.read() as session:
        kept = (await session.execute(text("SELECT pending_identity FROM login_flows"))).scalars().all()
    assert set(kept) <= {None, "null"}  # the identity served the session and went

    assert (await _log_out(browser, stack)).status_code == 200
    assert await _upstream_logouts(http, stack) == 2
