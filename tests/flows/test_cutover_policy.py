"""The cut-over at login time, through real servers: citizens refused by password with the VNeID page,
organisations passed through, and before the cut-off a citizen offered to link VNeID."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import httpx
from sqlmodel import select

from broker.store.tables import AuditEntry, LegacyAccount
from tests.conftest import DEMO_PASSWORD, Stack, StackFactory
from tests.support.browser import Browser, RelyingParty, redeem, verified_id_token
from tests.support.html_forms import form_posting_to, form_with
from tests.support.legacy import LEGACY_PASSWORD, csv_text, row

FUTURE = datetime(2099, 1, 1, tzinfo=UTC)
AN, AN_CMND = "001085012345", "012345678"

ORGANISATION = row(
    "org-1",
    "0101234567",
    "organisation",
    org_name="Công ty TNHH Sen Vàng",
    tax_code="0101234567",
    unit_code="00001",
)
CITIZEN_ON_CMND = row(
    "c-1", AN_CMND, full_name="Nguyễn Văn An", birth_date="1985-03-12", gender="male", cmnd=AN_CMND
)


async def _password_login(browser: Browser, stack: Stack, rp: RelyingParty, username: str, password: str):  # type: ignore[no-untyped-def]
    attempt = browser.attempt(rp)
    login_page = await browser.authorize(stack.broker_url, attempt)
    form = form_with(login_page.text, str(login_page.url), "username", "password")
    response = await browser.http.post(
        form.action, data={**form.fields, "username": username, "password": password}
    )
    return attempt, response


def _visible_text(page: httpx.Response) -> str:
    """What a person reads: without the per-flow hidden ids."""
    return re.sub(r'value="[^"]*"|flow=[\w-]+', "", page.text)


async def _claims(http: httpx.AsyncClient, stack: Stack, rp: RelyingParty, code: str, verifier: str) -> dict:  # type: ignore[type-arg]
    response = await redeem(http, stack.broker_url, rp, code, verifier)
    assert response.status_code == 200, response.text
    jwks = (await http.get(f"{stack.broker_url}/jwks")).json()
    return verified_id_token(response.json()["id_token"], jwks, stack.broker_url, rp.client_id)


async def test_after_the_cutoff_a_citizen_password_login_gets_the_vneid_page(
    stack: Stack, rp: RelyingParty, browser: Browser
) -> None:
    await stack.import_legacy(csv_text(CITIZEN_ON_CMND))
    _, page = await _password_login(browser, stack, rp, AN_CMND, LEGACY_PASSWORD)

    assert page.status_code == 200
    assert "location" not in page.headers
    assert "chỉ đăng nhập bằng tài khoản định danh điện tử VNeID" in page.text
    assert "1900.0368" in page.text
    vneid = form_with(page.text, str(page.url), "flow")
    assert vneid.action.endswith("/login/vneid")  # one press away from VNeID

    in_english = Browser()
    attempt = in_english.attempt(rp)
    login_page = await in_english.authorize(stack.broker_url, attempt)
    english_link = re.search(r'<a href="([^"]+)"[^>]*hreflang="en"', login_page.text)
    assert english_link is not None and "/login?flow=" in english_link.group(1)  # the same flow again
    await in_english.http.get(
        login_page.url.join(html.unescape(english_link.group(1)))
    )  # the language switch
    form = form_with(login_page.text, str(login_page.url), "username", "password")
    english = await in_english.http.post(
        form.action, data={**form.fields, "username": AN_CMND, "password": LEGACY_PASSWORD}
    )
    assert (
        "Since 15/6/2024, citizens log in only with their VNeID electronic identity account." in english.text
    )
    assert "1900.0368" in english.text
    await in_english.close()


async def test_wrong_password_unknown_user_and_refused_citizen_read_the_same(
    stack: Stack, rp: RelyingParty
) -> None:
    await stack.import_legacy(csv_text(CITIZEN_ON_CMND))
    pages = []
    for username, password in ((AN_CMND, LEGACY_PASSWORD), (AN_CMND, "wrong"), ("nobody-here", "x")):
        person = Browser()
        _, page = await _password_login(person, stack, rp, username, password)
        pages.append(_visible_text(page))
        await person.close()
    assert pages[0] == pages[1] == pages[2]


async def test_an_organisation_logs_in_by_password_and_its_weak_hash_is_upgraded(
    stack: Stack, rp: RelyingParty, browser: Browser, http: httpx.AsyncClient
) -> None:
    await stack.import_legacy(csv_text(ORGANISATION))
    attempt, at_rp = await _password_login(browser, stack, rp, "0101234567", LEGACY_PASSWORD)

    assert at_rp.status_code == 303
    assert at_rp.headers["location"].startswith(rp.redirect_uri)
    code = httpx.URL(at_rp.headers["location"]).params["code"]
    claims = await _claims(http, stack, rp, code, attempt.verifier)
    assert claims["account_type"] == "organisation"
    assert claims["amr"] == ["pwd"]
    async with stack.database() as database, database.read() as session:
        record = (await session.execute(select(LegacyAccount))).scalar_one()
        assert record.hash_scheme == "argon2id"
        assert record.password_hash.startswith("$argon2id$")
        audit = (
            (await session.execute(select(AuditEntry).where(AuditEntry.action == "login.password")))
            .scalars()
            .all()
        )
        assert [entry.outcome for entry in audit] == ["allowed"]


async def test_before_the_cutoff_a_citizen_gets_in_by_password_and_is_offered_linking(
    make_stack: StackFactory, browser: Browser, http: httpx.AsyncClient
) -> None:
    stack = make_stack(citizen_vneid_only_from=FUTURE, unlinked_legacy_frozen_from=FUTURE)
    rp = await stack.register_client()
    await stack.import_legacy(csv_text(CITIZEN_ON_CMND))
    attempt, page = await _password_login(browser, stack, rp, AN_CMND, LEGACY_PASSWORD)

    assert page.status_code == 200
    assert "Liên kết với VNeID ngay" in page.text
    skip = form_posting_to(page, "/login/continue")  # "Để sau, tiếp tục vào dịch vụ"
    at_rp = await browser.http.post(skip.action, data=skip.fields)
    assert at_rp.status_code == 303
    claims = await _claims(
        http, stack, rp, httpx.URL(at_rp.headers["location"]).params["code"], attempt.verifier
    )
    assert claims["account_type"] == "citizen"
    assert claims["acr"] == "urn:broker:loa:legacy-password"


async def test_linking_after_a_password_keeps_the_legacy_sub_for_later_vneid_logins(
    make_stack: StackFactory, browser: Browser, http: httpx.AsyncClient
) -> None:
    stack = make_stack(citizen_vneid_only_from=FUTURE, unlinked_legacy_frozen_from=FUTURE)
    rp = await stack.register_client()
    await stack.import_legacy(csv_text(CITIZEN_ON_CMND))
    attempt, page = await _password_login(browser, stack, rp, AN_CMND, LEGACY_PASSWORD)
    link = form_posting_to(page, "/login/vneid")  # "Liên kết với VNeID ngay"
    vneid_page = await browser.follow(await browser.http.post(link.action, data=link.fields))
    back = await browser.sign_in_at_vneid(vneid_page, AN, DEMO_PASSWORD)
    at_rp = await browser.follow(back)
    linked = await _claims(
        http, stack, rp, httpx.URL(at_rp.headers["location"]).params["code"], attempt.verifier
    )

    later_attempt, later = await Browser().log_in(stack.broker_url, rp, AN, DEMO_PASSWORD)
    again = await _claims(http, stack, rp, later.query["code"], later_attempt.verifier)
    assert again["sub"] == linked["sub"]
    assert again["acr"] == "urn:vneid:loa:level2"
