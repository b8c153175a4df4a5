"""The officers' console in Chromium: a citizen's doubtful Case 3 group reaches the review queue, an
officer signs in through the broker with VNeID and resolves it, looks an account up, and (as auditor)
reads the clean-up dashboard whose chart is drawn."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.sync_api import expect
from sqlmodel import col, select

from broker.store.tables import Account, LegacyAccount, UpstreamLink
from tests.browser.conftest import PASSWORD, World
from tests.support.legacy import csv_text, row

AN, AN_CMND = "001085012345", "012345678"
MAI = "048192005566"

LookAt = Callable[[Any, str], None]


def _vneid_password(page: Any, number: str) -> None:
    page.locator("#username").fill(number)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập", exact=True).click()


def _history(world: World) -> None:
    """Clean-up history for the trend: four legacy citizen accounts imported 20 days ago, of which one
    was linked to VNeID 10 days ago and one 5 days ago (as those logins would have left them)."""
    world.import_legacy(
        csv_text(
            *(row(f"h-{n}", f"hist-user-{n}", full_name="Người Thử", unit_code="17390") for n in range(4))
        )
    )

    async def backdate(registry: Any) -> None:
        now = datetime.now(UTC)
        async with registry.db.transaction() as session:
            statement = (
                select(Account)
                .join(LegacyAccount, col(LegacyAccount.account_id) == col(Account.id))
                .where(col(LegacyAccount.legacy_id).startswith("h-"))
                .order_by(col(Account.id))
            )
            history = list((await session.execute(statement)).scalars())
            for account in history:
                account.created_at = now - timedelta(days=20)
            for account, days in zip(history, (10, 5), strict=False):
                assert account.id is not None
                linked_at = now - timedelta(days=days)
                session.add(
                    UpstreamLink(
                        account_id=account.id,
                        issuer="https://vneid.example",
                        subject=f"history-{account.id}",
                        created_at=linked_at,
                        last_login_at=linked_at,
                    )
                )

    world.run(backdate)


def _console_sign_in(page: Any, world: World, look_at: LookAt) -> None:
    page.goto(f"{world.broker_url}/console")
    look_at(page, "console-sign-in")
    page.get_by_role("link", name="Đăng nhập bằng VNeID").click()
    expect(page.get_by_text("Bảng điều khiển cán bộ (Cổng xác thực)")).to_be_visible()
    page.get_by_role("button", name="Đăng nhập bằng VNeID").click()
    _vneid_password(page, MAI)
    expect(page).to_have_url(f"{world.broker_url}/console")


def test_an_officer_resolves_a_review_and_reads_the_dashboard(
    world: World, new_page: Callable[[], Any], look_at: LookAt
) -> None:
    world.import_legacy(
        csv_text(
            row(
                "a-1",
                AN_CMND,
                full_name="Nguyễn Văn An",
                birth_date="1985-03-21",
                cmnd=AN_CMND,
                unit_code="17380",
            ),
            row(
                "a-2",
                AN,
                source_system="motcua-huyen",
                full_name="Nguyễn Văn An",
                birth_date="1985-03-12",
                cccd=AN,
                unit_code="17380",
            ),
        )
    )
    citizen = new_page()
    citizen.goto(f"{world.rp_urls[0]}/")
    citizen.get_by_role("link", name="Đăng nhập").click()
    citizen.get_by_role("button", name="Đăng nhập bằng VNeID").click()
    _vneid_password(citizen, AN)
    expect(citizen.get_by_role("heading", name="Bạn có nhiều tài khoản cũ cần được rà soát")).to_be_visible()
    look_at(citizen, "review-notice")
    citizen.get_by_role("button", name="Tiếp tục vào dịch vụ").click()
    expect(citizen).to_have_url(re.compile(re.escape(world.rp_urls[0]) + "/(me)?$"))

    officer = new_page()
    _console_sign_in(officer, world, look_at)
    world.grant(MAI, "one_stop_officer", "auditor", "ops_admin")
    officer.reload()
    look_at(officer, "console-home")

    officer.get_by_role("link", name="Hàng chờ rà soát").first.click()
    group = officer.locator(".review-group").first
    expect(group).to_contain_text("Nguyễn Văn An")
    expect(group).to_contain_text("012***678")
    expect(group).to_contain_text("Một cửa điện tử huyện")
    expect(group.locator("table")).to_contain_text("21/03/1985")  # the old system, beside VNeID's date
    look_at(officer, "console-reviews")
    cards = group.locator(".account-card")
    expect(cards).to_have_count(2)
    cards.nth(1).get_by_role("button", name="Hợp nhất vào tài khoản này").click()
    expect(officer.get_by_role("status")).to_contain_text("Đã hợp nhất")
    expect(officer.locator("code.retired-sub")).to_have_count(1)
    look_at(officer, "console-review-done")

    officer.get_by_role("link", name="Tra cứu tài khoản").first.click()
    officer.locator("#query").fill(AN_CMND)
    officer.get_by_role("button", name="Tra cứu").click()
    expect(officer.locator(".account-card").first).to_contain_text("Nguyễn V. A.")
    assert AN_CMND not in officer.content()
    look_at(officer, "console-lookup")

    officer.get_by_role("link", name="Tạo tài khoản tổ chức").first.click()
    officer.select_option("#account_type", "citizen")
    officer.locator("#full_name").fill("Trần Văn Tư")
    officer.locator("#birth_date").fill("2003-04-05")
    officer.select_option("#gender", "male")
    officer.get_by_role("button", name="Tạo tài khoản").click()
    expect(officer.get_by_role("alert")).to_contain_text("không tạo tài khoản cho công dân")
    look_at(officer, "console-new-account-refused")

    _history(world)
    officer.get_by_role("link", name="Tiến độ làm sạch").first.click()
    chart = officer.locator("svg.trend-chart")
    expect(chart).to_be_visible()
    bars = chart.locator("rect.bar")
    expect(bars).to_have_count(30)
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    heights = [float(bars.nth(i).get_attribute("height") or 0) for i in range(30)]
    # 4 accounts imported 20 days ago, one linked 10 days ago, one 5 days ago: the bars step down.
    assert heights[0] == 0 and heights[12] > heights[22] > heights[29] > 0
    expect(officer.locator(".projected")).to_have_text(re.compile(r"\d{2}/\d{2}/\d{4}"))
    expect(officer.locator("table.units")).to_contain_text("17380")
    look_at(officer, "console-dashboard")
    with officer.expect_download() as download:
        officer.get_by_role("link", name="Tải về XLSX").click()
    assert download.value.suggested_filename == "cleanup.xlsx"

    officer.get_by_role("link", name="Hệ thống kết nối").first.click()
    expect(officer.locator("table")).to_contain_text(world.rp_urls[1])
    look_at(officer, "console-clients")
    officer.get_by_role("link", name="English").click()
    expect(officer.get_by_role("heading", name="Relying parties")).to_be_visible()
    look_at(officer, "console-clients-en")
