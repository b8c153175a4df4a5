"""What `make run` shows a newcomer: the demo RP → broker → mock VNeID form → the demo RP's claims table."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.conftest import DEMO_PASSWORD, Stack
from tests.support.browser import Browser
from tests.support.servers import LiveServer, free_port

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from demo_rp.app import create_app as create_demo_rp
from demo_rp.settings import DemoRPSettings


async def test_a_person_clicks_through_the_demo(stack: Stack, browser: Browser) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    rp = await stack.register_client("Cổng dịch vụ công tỉnh (demo)", [f"{base_url}/callback"])
    demo = LiveServer(
        create_demo_rp(
            DemoRPSettings(
                issuer=stack.broker_url,
                base_url=base_url,
                client_id=rp.client_id,
                client_secret=rp.client_secret,
            )
        ),
        port,
    ).start()
    try:
        home = await browser.http.get(f"{base_url}/")
        assert "Đăng nhập" in home.text

        to_broker = await browser.http.get(f"{base_url}/login")
        login_page = await browser.follow(to_broker)  # demo → /authorize, which answers with the login page
        assert "Cổng dịch vụ công tỉnh (demo)" in login_page.text  # the broker names the RP
        vneid_page = await browser.open_vneid(login_page)
        back_at_broker = await browser.sign_in_at_vneid(vneid_page, "001085012345", DEMO_PASSWORD)
        at_demo_callback = await browser.follow(await browser.follow(back_at_broker))  # broker → demo
        me = await browser.follow(at_demo_callback)  # demo's callback → /me

        assert me.status_code == 200, me.text[:1000]
        assert str(me.url) == f"{base_url}/me"
        assert "Nguyễn Văn An" in me.text
        assert "urn:vneid:loa:level2" in me.text
        assert "001085012345" in me.text
    finally:
        demo.stop()
