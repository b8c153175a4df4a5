"""VNeID down: after repeated failures the broker stops calling it for a while and answers at once with
the "VNeID unavailable" page; when the pause ends, one probe finds it back and logins work again."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from broker.clock import FixedClock
from mock_vneid.app import create_app as create_mock_vneid
from tests.conftest import DEMO_PASSWORD, StackFactory
from tests.support.browser import Browser
from tests.support.html_forms import form_posting_to
from tests.support.servers import LiveServer


async def test_the_circuit_opens_fails_fast_and_closes_when_vneid_is_back(
    make_stack: StackFactory, browser: Browser, http: httpx.AsyncClient
) -> None:
    clock = FixedClock(datetime.now(UTC))
    stack = make_stack(clock=clock, vneid_breaker_failures=2, vneid_breaker_cooldown_seconds=30)
    rp = await stack.register_client()
    login_page = await browser.authorize(stack.broker_url, browser.attempt(rp))
    start = form_posting_to(login_page, "/login/vneid")
    stack.vneid.stop()

    reasons = []
    for _ in range(3):
        page = await browser.http.post(start.action, data=start.fields)
        assert page.status_code == 502
        assert "1900.0368" in page.text
        reasons.append(
            "upstream_unavailable" if "upstream_unavailable" in page.text else "discovery_unreachable"
        )
    assert reasons == ["discovery_unreachable", "discovery_unreachable", "upstream_unavailable"]
    assert "broker_upstream_circuit_open 1.0" in (await http.get(f"{stack.broker_url}/metrics")).text

    revived = LiveServer(create_mock_vneid(stack.vneid_settings, clock), stack.vneid.port).start()
    try:
        still_open = await browser.http.post(start.action, data=start.fields)
        assert "upstream_unavailable" in still_open.text  # VNeID is back, but the pause is not over
        clock.advance(seconds=31)
        vneid_page = await browser.follow(await browser.http.post(start.action, data=start.fields))
        back = await browser.sign_in_at_vneid(vneid_page, "001085012345", DEMO_PASSWORD)
        at_rp = await browser.follow(back)
        assert at_rp.status_code == 303 and "code=" in at_rp.headers["location"]
        assert "broker_upstream_circuit_open 0.0" in (await http.get(f"{stack.broker_url}/metrics")).text
    finally:
        revived.stop()
