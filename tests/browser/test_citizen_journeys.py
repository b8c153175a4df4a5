"""A citizen's and an organisation's journeys in Chromium: VNeID by password and by QR code, the
organisation form, the refusal after the cut-off with its language switch, Case 3's chooser with its
confirmation, and logout across two relying parties."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, World
from tests.support.legacy import LEGACY_PASSWORD, csv_text, row

AN = "001085012345"
BINH, BINH_CMND = "001190023456", "023456789"
CHAU = "038303004567"
HUY = "079212005678"
DUNG_CMND = "031234567"

LookAt = Callable[[Any, str], None]


def _to_broker(page: Any, rp_url: str) -> None:
    page.goto(f"{rp_url}/")
    page.get_by_role("link", name="Đăng nhập").click()
    expect(page.get_by_role("heading", name="Đăng nhập để sử dụng dịch vụ công")).to_be_visible()


def _vneid_password(page: Any, number: str) -> None:
    page.locator("#username").fill(number)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập", exact=True).click()


def _at_rp(page: Any, rp_url: str) -> None:
    expect(page).to_have_url(re.compile(re.escape(rp_url) + "/(me)?$"))


def test_vneid_password_login(world: World, new_page: Callable[[], Any], look_at: LookAt) -> None:
    page = new_page()
    _to_broker(page, world.rp_urls[0])
    look_at(page, "broker-login")
    page.get_by_role("button", name="Đăng nhập bằng VNeID").click()
    expect(
        page.get_by_role("heading", name="Đăng nhập bằng tài khoản định danh điện tử VNeID")
    ).to_be_visible()
    expect(page.get_by_text("Cổng xác thực tập trung (dịch vụ công)")).to_be_visible()  # a name, not an id
    look_at(page, "vneid-login")
    _vneid_password(page, AN)
    _at_rp(page, world.rp_urls[0])
    expect(page.get_by_text("Nguyễn Văn An").first).to_be_visible()


def test_qr_login_with_the_mock_phone(world: World, new_page: Callable[[], Any], look_at: LookAt) -> None:
    page = new_page()
    _to_broker(page, world.rp_urls[0])
    page.get_by_role("button", name="Đăng nhập bằng VNeID").click()
    expect(page.locator("img.qr-code")).to_be_visible()
    phone = page.context.new_page()
    phone.goto(page.locator(".qr-phone a").get_attribute("href"))
    look_at(phone, "vneid-phone")
    phone.select_option("#citizen", HUY)
    phone.get_by_role("button", name="Xác nhận đăng nhập").click()
    expect(phone.get_by_text("Đã xác nhận đăng nhập")).to_be_visible()
    # The login page notices by itself (it polls every second) and continues the flow.
    expect(page).to_have_url(re.compile(re.escape(world.rp_urls[0]) + "/(me)?$"), timeout=4_000)
    expect(page.get_by_text("Phạm Gia Huy").first).to_be_visible()


def test_a_refused_qr_code_says_so_and_offers_a_new_one(
    world: World, new_page: Callable[[], Any], look_at: LookAt
) -> None:
    page = new_page()
    _to_broker(page, world.rp_urls[0])
    page.get_by_role("button", name="Đăng nhập bằng VNeID").click()
    phone = page.context.new_page()
    phone.goto(page.locator(".qr-phone a").get_attribute("href"))
    phone.get_by_role("button", name="Từ chối").click()
    expect(page.locator("#qr-status")).to_contain_text("từ chối", timeout=4_000)
    look_at(page, "vneid-qr-refused")
    old = page.locator(".qr-phone a").get_attribute("href")
    page.get_by_role("button", name=re.compile("Lấy mã mới")).click()
    expect(page.locator("img.qr-code")).to_be_visible()
    assert page.locator(".qr-phone a").get_attribute("href") != old


def test_organisation_login(world: World, new_page: Callable[[], Any], look_at: LookAt) -> None:
    world.import_legacy(
        csv_text(
            row(
                "org-1",
                "senvang-admin",
                account_type="organisation",
                org_name="Công ty TNHH Sen Vàng",
                tax_code="0101234567",
            )
        )
    )
    page = new_page()
    _to_broker(page, world.rp_urls[0])
    expect(page.get_by_role("heading", name="Tổ chức, doanh nghiệp và người nước ngoài")).to_be_visible()
    page.locator("#username").fill("senvang-admin")
    page.locator("#password").fill(LEGACY_PASSWORD)
    page.get_by_role("button", name="Đăng nhập bằng tên đăng nhập và mật khẩu").click()
    _at_rp(page, world.rp_urls[0])


def test_citizen_password_refused_after_the_cutoff_in_both_languages(
    world: World, new_page: Callable[[], Any], look_at: LookAt
) -> None:
    world.import_legacy(csv_text(row("d-1", DUNG_CMND, full_name="Hoàng Văn Dũng", cmnd=DUNG_CMND)))
    page = new_page()
    _to_broker(page, world.rp_urls[0])
    page.locator("#username").fill(DUNG_CMND)
    page.locator("#password").fill(LEGACY_PASSWORD)
    page.get_by_role("button", name="Đăng nhập bằng tên đăng nhập và mật khẩu").click()
    expect(
        page.get_by_text("Từ ngày 15/6/2024, công dân chỉ đăng nhập bằng tài khoản định danh điện tử VNeID.")
    ).to_be_visible()
    expect(page.locator('a[href="tel:19000368"]').first).to_be_visible()
    look_at(page, "password-refused")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_text("Since 15/6/2024, citizens log in only with their VNeID")).to_be_visible()
    look_at(page, "password-refused-en")
    page.get_by_role("button", name="Sign in with VNeID").click()  # the same login goes on
    expect(page.locator("#username")).to_be_visible()
    assert page.url.startswith(world.vneid.url)


def test_case_3_chooser_with_confirmation(world: World, new_page: Callable[[], Any], look_at: LookAt) -> None:
    world.import_legacy(
        csv_text(
            row(
                "b-1",
                BINH_CMND,
                full_name="Trần Thị Bình",
                birth_date="1990-07-25",
                cmnd=BINH_CMND,
                created_at="2019-03-01",
            ),
            row(
                "b-2",
                "binh.tran@example.vn",
                source_system="motcua-huyen",
                full_name="Trần Thị Bình",
                birth_date="1990-07-25",
                cccd=BINH,
                created_at="2022-08-15",
            ),
        )
    )
    page = new_page()
    _to_broker(page, world.rp_urls[0])
    page.get_by_role("button", name="Đăng nhập bằng VNeID").click()
    _vneid_password(page, BINH)
    expect(page.get_by_role("heading", name="Bạn có nhiều tài khoản cũ")).to_be_visible()
    radios = page.get_by_role("radio")
    expect(radios).to_have_count(2)
    assert not any(radios.nth(i).is_checked() for i in range(2))  # nothing chosen for the citizen
    expect(page.get_by_text("Một cửa điện tử huyện")).to_be_visible()  # display names, not codes
    look_at(page, "choose-account")
    page.get_by_label(re.compile("Một cửa điện tử huyện")).check()
    page.get_by_role("button", name="Tiếp tục", exact=True).click()
    expect(page.get_by_role("heading", name="Xác nhận hợp nhất tài khoản")).to_be_visible()
    expect(page.locator("ul.accounts").first).to_contain_text("bi*******@example.vn")
    expect(page.locator("ul.accounts").nth(1)).to_contain_text("023***789")
    look_at(page, "choose-confirm")
    page.get_by_role("button", name="Xác nhận hợp nhất và tiếp tục").click()
    _at_rp(page, world.rp_urls[0])


def test_logout_across_two_relying_parties(
    world: World, new_page: Callable[[], Any], look_at: LookAt
) -> None:
    page = new_page()
    first, second = world.rp_urls
    _to_broker(page, first)
    page.get_by_role("button", name="Đăng nhập bằng VNeID").click()
    _vneid_password(page, CHAU)
    _at_rp(page, first)
    # Single sign-on: the second relying party gets the citizen without a login page.
    page.goto(f"{second}/")
    page.get_by_role("link", name="Đăng nhập").click()
    _at_rp(page, second)
    expect(page.get_by_text("Lê Minh Châu").first).to_be_visible()

    # The broker's own logout page, as a person typing its address would see it: asks to confirm.
    page.goto(f"{world.broker_url}/logout")
    expect(page.get_by_role("heading", name="Bạn có muốn đăng xuất không?")).to_be_visible()
    look_at(page, "logout-confirm")

    page.goto(f"{first}/")
    page.get_by_role("link", name="Đăng xuất").click()
    # With its ID token as hint, the relying party's logout needs no confirmation: back at its home.
    expect(page).to_have_url(re.compile(re.escape(first) + r"/(\?state=[\w-]+)?$"))
    # The broker session is over: the second relying party's next login shows the login page again.
    page.goto(f"{second}/logout")
    page.goto(f"{second}/")
    page.get_by_role("link", name="Đăng nhập").click()
    expect(page.get_by_role("heading", name="Đăng nhập để sử dụng dịch vụ công")).to_be_visible()


def test_error_cancel_and_logout_pages_pass_axe(
    world: World, new_page: Callable[[], Any], look_at: LookAt
) -> None:
    page = new_page()
    page.goto(f"{world.broker_url}/authorize?client_id=unknown-client")
    expect(page.get_by_role("heading", name="Yêu cầu đăng nhập không hợp lệ")).to_be_visible()
    look_at(page, "broker-error")
    page.goto(f"{world.vneid.url}/authorize?client_id=unknown-client")
    look_at(page, "vneid-error")

    _to_broker(page, world.rp_urls[0])
    page.get_by_role("button", name="Đăng nhập bằng VNeID").click()
    page.get_by_role("button", name="Hủy").click()
    expect(page.get_by_role("heading", name="Bạn đã huỷ đăng nhập")).to_be_visible()
    look_at(page, "vneid-cancelled")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="You cancelled the login")).to_be_visible()
    expect(page.get_by_role("button", name="Try again")).to_be_visible()
    look_at(page, "vneid-cancelled-en")

    page.goto(f"{world.broker_url}/logout?lang=vi")  # no session in this browser: nothing to confirm
    expect(page.get_by_role("heading", name="Bạn đã đăng xuất")).to_be_visible()
    look_at(page, "logged-out")
