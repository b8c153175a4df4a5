"""The citizen's pages (issue 11, issue 8 item 11): language links that keep the login flow on pages
answered to a POST or at the VNeID callback, policy dates from the settings, help numbers to call,
source systems by name, and Case 3's "decide later" with its reminder at later logins."""

from __future__ import annotations

import asyncio
import io
import re
from html import unescape

import httpx
from sqlmodel import select

from broker.admin import source_systems
from broker.app import build_registry, close_registry
from broker.store.tables import Account, ReviewItem
from tests.conftest import DEMO_PASSWORD, Stack, StackFactory
from tests.support.browser import Browser, RelyingParty
from tests.support.html_forms import form_posting_to, form_with
from tests.support.legacy import LEGACY_PASSWORD, csv_text, row

AN, AN_CMND = "001085012345", "012345678"
BINH, BINH_CMND = "001190023456", "023456789"


def _language_link(page: httpx.Response, language: str) -> str:
    found = re.search(rf'<a href="([^"]*)"[^>]*hreflang="{language}"', page.text)
    assert found, page.text[:1000]
    return str(page.url.join(unescape(found.group(1))))


async def _login_page(browser: Browser, stack: Stack, rp: RelyingParty) -> httpx.Response:
    return await browser.authorize(stack.broker_url, browser.attempt(rp))


async def test_the_password_refusal_switches_language_and_keeps_the_flow_with_the_configured_date(
    make_stack: StackFactory, browser: Browser
) -> None:
    stack = make_stack(citizen_vneid_only_from="2024-06-20T00:00:00")
    rp = await stack.register_client()
    await stack.import_legacy(csv_text(row("c-1", AN_CMND, full_name="Nguyễn Văn An", cmnd=AN_CMND)))
    login = await _login_page(browser, stack, rp)
    assert "Từ ngày 20/6/2024, công dân đăng nhập bằng tài khoản định danh điện tử VNeID" in login.text
    assert "15/6/2024" not in login.text
    form = form_with(login.text, str(login.url), "username", "password")
    refused = await browser.http.post(
        form.action, data={**form.fields, "username": AN_CMND, "password": LEGACY_PASSWORD}
    )
    assert refused.status_code == 200 and "20/6/2024" in refused.text
    flow = form.fields["flow"]

    english = await browser.http.get(_language_link(refused, "en"))

    assert english.status_code == 200
    assert "Since 20/6/2024, citizens log in only with their VNeID" in english.text
    assert form_posting_to(english, "/login/vneid").fields["flow"] == flow  # the same login goes on
    to_vneid = await browser.http.post(form_posting_to(english, "/login/vneid").action, data={"flow": flow})
    assert to_vneid.status_code == 303 and to_vneid.headers["location"].startswith(stack.vneid_url)


async def test_a_page_at_the_vneid_callback_switches_language_without_echoing_the_callback(
    stack: Stack, rp: RelyingParty, browser: Browser
) -> None:
    login = await _login_page(browser, stack, rp)
    vneid_page = await browser.open_vneid(login)
    cancel = form_with(vneid_page.text, str(vneid_page.url), "username", "password")
    back = await browser.http.post(cancel.action, data={**cancel.fields, "action": "cancel"})
    cancelled = await browser.follow(back)  # answered at the callback URL, with the callback's state
    assert cancelled.status_code == 200 and "Bạn đã huỷ đăng nhập" in cancelled.text

    link = _language_link(cancelled, "en")
    assert "state=" not in link and "code=" not in link and "error=" not in link
    english = await browser.http.get(link)

    assert english.status_code == 200
    assert "You cancelled the login" in english.text and "Bạn đã huỷ" not in english.text
    retry = form_posting_to(english, "/login/vneid")
    again = await browser.http.post(retry.action, data=retry.fields)
    assert again.status_code == 303 and again.headers["location"].startswith(stack.vneid_url)
    # Another browser cannot open this flow's page.
    stranger = Browser()
    assert (await stranger.http.get(link)).status_code != 200
    await stranger.close()


async def test_help_numbers_are_links_to_call_and_the_secondary_form_is_for_organisations(
    stack: Stack, rp: RelyingParty, browser: Browser
) -> None:
    login = await _login_page(browser, stack, rp)

    assert 'href="tel:19000368"' in login.text and 'href="tel:18001096"' in login.text
    assert "Tổ chức, doanh nghiệp và người nước ngoài" in login.text
    assert "tài khoản cũ của bạn sẽ được liên kết tự động" in login.text
    english = await browser.http.get(_language_link(login, "en"))
    assert "Organisations, enterprises and foreigners" in english.text


async def _case_3(stack: Stack) -> None:
    await stack.import_legacy(
        csv_text(
            row("b-1", BINH_CMND, full_name="Trần Thị Bình", birth_date="1990-07-25", cmnd=BINH_CMND),
            row(
                "b-2",
                BINH,
                source_system="motcua-huyen",
                full_name="Trần Thị Bình",
                birth_date="1990-07-25",
                cccd=BINH,
            ),
        )
    )


async def test_case_3_decide_later_continues_the_login_and_later_logins_remind_the_citizen(
    make_stack: StackFactory, browser: Browser
) -> None:
    stack = make_stack(source_system_names={"motcua-huyen": "Một cửa điện tử huyện Yên Thành"})
    rp = await stack.register_client()
    await _case_3(stack)
    names = "source_system,display_name\ndvc-tinh,Cổng DVC tỉnh (nhập)\nmotcua-huyen,bị cấu hình thay thế\n"
    registry = build_registry(stack.settings)
    try:
        await source_systems.import_names(registry, source_systems.read_names(io.StringIO(names)))
    finally:
        await close_registry(registry)
    login = await _login_page(browser, stack, rp)
    vneid_page = await browser.open_vneid(login)
    chooser = await browser.follow(
        await browser.follow(await browser.sign_in_at_vneid(vneid_page, BINH, DEMO_PASSWORD))
    )
    assert "Một cửa điện tử huyện Yên Thành" in chooser.text and "motcua-huyen" not in chooser.text
    assert "Cổng DVC tỉnh (nhập)" in chooser.text and "dvc-tinh" not in chooser.text  # imported name
    assert "bị cấu hình thay thế" not in chooser.text  # a configured name overrides an imported one

    later = form_posting_to(chooser, "/login/choose/later")
    at_rp = await browser.http.post(later.action, data=later.fields)
    assert at_rp.status_code == 303 and "code=" in at_rp.headers["location"]
    async with stack.database() as database, database.read() as session:
        item = (await session.execute(select(ReviewItem))).scalar_one()
        assert item.status == "open" and item.details["reason"] == "citizen_decides_later"
        statuses = sorted((await session.execute(select(Account.status))).scalars().all())
        assert statuses == ["active", "active"]  # nothing merged
    # A double submit lands nowhere new: the flow has moved on.
    assert (await browser.http.post(later.action, data=later.fields)).status_code != 303

    second = Browser()
    login = await _login_page(second, stack, rp)
    vneid_page = await second.open_vneid(login)
    reminder = await second.follow(await second.sign_in_at_vneid(vneid_page, BINH, DEMO_PASSWORD))
    assert reminder.status_code == 200 and "vẫn đang chờ rà soát" in reminder.text
    english = await second.http.get(_language_link(reminder, "en"))
    assert "still waiting for review" in english.text
    go_on = form_posting_to(english, "/login/continue")
    assert (await second.http.post(go_on.action, data=go_on.fields)).status_code == 303


async def test_case_3_decide_later_pressed_five_times_at_once_continues_once(
    stack: Stack, rp: RelyingParty, browser: Browser
) -> None:
    await _case_3(stack)
    login = await _login_page(browser, stack, rp)
    vneid_page = await browser.open_vneid(login)
    chooser = await browser.follow(
        await browser.follow(await browser.sign_in_at_vneid(vneid_page, BINH, DEMO_PASSWORD))
    )
    later = form_posting_to(chooser, "/login/choose/later")

    answers = await asyncio.gather(*(browser.http.post(later.action, data=later.fields) for _ in range(5)))

    assert sorted(answer.status_code for answer in answers) == [303, 400, 400, 400, 400]
    assert all(answer.status_code != 500 for answer in answers)
    async with stack.database() as database, database.read() as session:
        assert len((await session.execute(select(ReviewItem))).scalars().all()) == 1
