"""Brute force against the legacy password form (SECURITY.md gate 8), through a real server, on both
databases: attempts are reserved in the database before any verification, so concurrency buys nothing;
a username is slowed down with a doubling hold-back, an address has a hard limit, and X-Forwarded-For
counts only from a trusted proxy. Verifications are counted from the audit trail: every attempt leaves one
row, ``bad_credentials`` when its password was really verified, ``locked``/``address_limited`` when not."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

import httpx
from sqlmodel import select

from broker.clock import FixedClock
from broker.store.tables import AuditEntry
from tests.conftest import Stack, StackFactory
from tests.support.browser import Browser, RelyingParty
from tests.support.html_forms import form_with
from tests.support.legacy import LEGACY_PASSWORD, csv_text, row

ORG_USERNAME = "0101234567"
ORGANISATION = row("org-1", ORG_USERNAME, "organisation", org_name="Công ty TNHH Sen Vàng")
FAST = {"password_refusal_floor_seconds": 0.0}


async def _password_form(browser: Browser, stack: Stack, rp: RelyingParty) -> tuple[str, dict[str, str]]:
    login_page = await browser.authorize(stack.broker_url, browser.attempt(rp))
    form = form_with(login_page.text, str(login_page.url), "username", "password")
    return form.action, form.fields


async def _post(
    browser: Browser, form: tuple[str, dict[str, str]], username: str, password: str, **headers: str
) -> httpx.Response:
    action, fields = form
    return await browser.http.post(
        action, data={**fields, "username": username, "password": password}, headers=headers
    )


async def _reasons(stack: Stack) -> Counter[str | None]:
    async with stack.database() as database, database.read() as session:
        rows = (
            (await session.execute(select(AuditEntry).where(AuditEntry.action == "login.password")))
            .scalars()
            .all()
        )
    return Counter(entry.reason if entry.outcome == "refused" else entry.outcome for entry in rows)


async def test_forty_concurrent_attempts_verify_at_most_the_limit_and_the_right_password_waits(
    make_stack: StackFactory, browser: Browser
) -> None:
    stack = make_stack(login_max_failures=5, **FAST)
    rp = await stack.register_client()
    await stack.import_legacy(csv_text(ORGANISATION))
    forms = [await _password_form(browser, stack, rp) for _ in range(41)]

    burst = await asyncio.gather(
        *(_post(browser, form, ORG_USERNAME, f"wrong-{n}") for n, form in enumerate(forms[:40]))
    )
    assert [response.status_code for response in burst] == [200] * 40  # the same refusal page, no 500
    reasons = await _reasons(stack)
    assert reasons["bad_credentials"] == 5  # at most N real verifications, whatever the concurrency
    assert reasons["locked"] == 35

    right = await _post(browser, forms[40], ORG_USERNAME, LEGACY_PASSWORD)
    assert right.status_code == 200 and "location" not in right.headers  # no way in while held back
    assert right.text.count("<form") == burst[0].text.count("<form")
    assert (await _reasons(stack))["locked"] == 36


async def test_the_username_slows_down_with_a_doubling_hold_back_then_lets_the_owner_in(
    make_stack: StackFactory, browser: Browser
) -> None:
    clock = FixedClock(datetime(2026, 11, 26, 9, 0, tzinfo=UTC))
    stack = make_stack(clock=clock, login_max_failures=2, login_backoff_seconds=30, **FAST)
    rp = await stack.register_client()
    await stack.import_legacy(csv_text(ORGANISATION))

    async def attempt(password: str) -> httpx.Response:
        return await _post(browser, await _password_form(browser, stack, rp), ORG_USERNAME, password)

    await attempt("wrong-1")
    await attempt("wrong-2")  # the limit: held back 30 s
    await attempt("wrong-3")
    assert (await _reasons(stack))["locked"] == 1
    clock.advance(seconds=31)
    await attempt("wrong-4")  # one more try after the hold-back, which now doubles to 60 s
    assert (await _reasons(stack))["bad_credentials"] == 3
    clock.advance(seconds=31)
    await attempt(LEGACY_PASSWORD)
    assert (await _reasons(stack))["locked"] == 2
    clock.advance(seconds=30)
    welcome = await attempt(LEGACY_PASSWORD)
    assert welcome.status_code == 303 and welcome.headers["location"].startswith(rp.redirect_uri)


async def test_an_address_has_a_hard_limit_across_usernames_behind_a_trusted_proxy(
    make_stack: StackFactory, browser: Browser
) -> None:
    stack = make_stack(login_max_attempts_per_address=3, trusted_proxies="127.0.0.1", **FAST)
    rp = await stack.register_client()
    await stack.import_legacy(csv_text(ORGANISATION))
    forms = [await _password_form(browser, stack, rp) for _ in range(11)]

    sprayed = await asyncio.gather(
        *(
            _post(browser, form, f"org-{n}@example.vn", "guess", **{"X-Forwarded-For": "203.0.113.7"})
            for n, form in enumerate(forms[:10])
        )
    )
    assert {response.status_code for response in sprayed} == {200}
    reasons = await _reasons(stack)
    assert (reasons["bad_credentials"], reasons["address_limited"]) == (3, 7)

    # Another citizen behind the same proxy is not locked out by that address.
    other = await _post(
        browser, forms[10], ORG_USERNAME, LEGACY_PASSWORD, **{"X-Forwarded-For": "198.51.100.9"}
    )
    assert other.status_code == 303


async def test_x_forwarded_for_from_an_untrusted_peer_changes_nothing(
    make_stack: StackFactory, browser: Browser
) -> None:
    stack = make_stack(login_max_attempts_per_address=3, **FAST)  # no trusted proxy
    rp = await stack.register_client()
    forms = [await _password_form(browser, stack, rp) for _ in range(5)]
    for n, form in enumerate(forms):
        await _post(browser, form, f"user-{n}", "guess", **{"X-Forwarded-For": f"192.0.2.{n}"})
    reasons = await _reasons(stack)
    assert (reasons["bad_credentials"], reasons["address_limited"]) == (3, 2)


async def test_nul_and_case_variants_of_a_username_spend_the_same_budget(
    make_stack: StackFactory, browser: Browser
) -> None:
    stack = make_stack(login_max_failures=2, **FAST)
    rp = await stack.register_client()
    await stack.import_legacy(csv_text(row("u-1", "co.sen.vang", "organisation", org_name="Sen Vàng")))
    for variant in ("co.sen.vang", "CO.SEN.VANG"):
        await _post(browser, await _password_form(browser, stack, rp), variant, "wrong")
    nul = await _post(browser, await _password_form(browser, stack, rp), "co.sen\x00.vang", LEGACY_PASSWORD)
    assert nul.status_code == 200 and "location" not in nul.headers
    reasons = await _reasons(stack)
    assert (reasons["bad_credentials"], reasons["locked"]) == (2, 1)


async def test_successful_logins_do_not_spend_the_address_budget(
    make_stack: StackFactory, browser: Browser
) -> None:
    stack = make_stack(login_max_attempts_per_address=1, **FAST)
    rp = await stack.register_client()
    await stack.import_legacy(csv_text(ORGANISATION))
    for _ in range(3):  # an office behind one address: its people keep logging in
        person = Browser()
        welcome = await _post(person, await _password_form(person, stack, rp), ORG_USERNAME, LEGACY_PASSWORD)
        assert welcome.status_code == 303
        await person.close()
    assert (await _reasons(stack))["allowed"] == 3
