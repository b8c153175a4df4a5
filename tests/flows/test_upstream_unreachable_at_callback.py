"""VNeID gone between the citizen's sign-in and the callback: the code exchange meets a refused connection
(broker.upstream.wire's since issue 7) and the citizen gets the same "could not sign in with VNeID" page as for
a failing token endpoint, never a 500; the call is counted as unreachable."""

from __future__ import annotations

import httpx

from tests.conftest import DEMO_PASSWORD, Stack
from tests.support.browser import Browser, RelyingParty


async def test_a_refused_code_exchange_is_the_vneid_failure_page(
    stack: Stack, rp: RelyingParty, browser: Browser, http: httpx.AsyncClient
) -> None:
    login_page = await browser.authorize(stack.broker_url, browser.attempt(rp))
    vneid_page = await browser.open_vneid(login_page)
    back = await browser.sign_in_at_vneid(vneid_page, "001085012345", DEMO_PASSWORD)
    assert back.status_code == 303
    stack.vneid.stop()

    page = await browser.http.get(back.headers["location"])

    assert page.status_code == 502
    assert "location" not in page.headers
    assert "Chưa đăng nhập được bằng VNeID" in page.text and "1900.0368" in page.text
    assert "token_exchange_failed" in page.text
    metrics = (await http.get(f"{stack.broker_url}/metrics")).text
    assert (
        'broker_upstream_call_seconds_count{endpoint="token",outcome="unreachable",upstream="vneid"} 1.0'
        in metrics
    )
