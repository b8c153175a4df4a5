"""Issue 8 item 7: while the circuit is open the login start answers the "VNeID unavailable" page at once
(even with VNeID's metadata cached, the citizen is never sent to a dead VNeID); when the pause ends the
circuit is half-open: exactly one request probes, every other waiting request is refused at once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from broker.clock import FixedClock
from tests.conftest import DEMO_PASSWORD, Stack, StackFactory
from tests.support.browser import Browser, RelyingParty
from tests.support.html_forms import flow_of
from tests.support.upstream_stacks import ModeStacks

AN = "001085012345"


async def _callback(browser: Browser, stack: Stack, rp: RelyingParty) -> httpx.URL:
    login_page = await browser.authorize(stack.broker_url, browser.attempt(rp))
    vneid_page = await browser.open_vneid(login_page)
    back = await browser.sign_in_at_vneid(vneid_page, AN, DEMO_PASSWORD)
    assert back.status_code == 303
    return httpx.URL(back.headers["location"])


async def _open_the_circuit(stack: Stack, rp: RelyingParty) -> None:
    """One login whose code exchange fails twice (the 5xx and its one retry): one failure, threshold 1."""
    await stack.vneid_faults(token_endpoint="http_500", times=2)
    browser = Browser()
    try:
        page = await browser.http.get(await _callback(browser, stack, rp))
    finally:
        await browser.close()
    assert page.status_code == 502 and "token_exchange_failed" in page.text


async def test_an_open_circuit_shows_the_unavailable_page_at_the_start_even_with_metadata_cached(
    make_stack: StackFactory, browser: Browser, http: httpx.AsyncClient
) -> None:
    stack = make_stack(vneid_breaker_failures=1, vneid_breaker_cooldown_seconds=300)
    rp = await stack.register_client()
    await browser.log_in(stack.broker_url, rp, AN, DEMO_PASSWORD)  # discovery and keys now cached
    await _open_the_circuit(stack, rp)

    other = Browser()
    try:
        login_page = await other.authorize(stack.broker_url, other.attempt(rp))
        start = await other.http.post(f"{stack.broker_url}/login/vneid", data={"flow": flow_of(login_page)})
    finally:
        await other.close()
    assert start.status_code == 502  # not a 303 to VNeID
    assert "upstream_unavailable" in start.text and "1900.0368" in start.text
    assert "broker_upstream_circuit_open 1.0" in (await http.get(f"{stack.broker_url}/metrics")).text


@pytest.fixture
def stacks(tmp_path: Path, database_url: str) -> Iterator[ModeStacks]:
    made = ModeStacks(tmp_path, database_url)
    yield made
    made.stop()


async def test_half_open_lets_exactly_one_probe_through_and_refuses_the_others_at_once(
    stacks: ModeStacks, http: httpx.AsyncClient
) -> None:
    clock = FixedClock(datetime(2026, 11, 22, 9, 0, tzinfo=UTC))
    stack = stacks.single(
        "oauth2-userinfo", clock=clock, vneid_breaker_failures=1, vneid_breaker_cooldown_seconds=30
    )
    rp = await stack.register_client()
    browsers = [Browser() for _ in range(5)]
    try:
        waiting = [await _callback(browser, stack, rp) for browser in browsers]  # codes held, not yet used
        await _open_the_circuit(stack, rp)
        clock.advance(seconds=31)  # the pause is over: half-open
        await stack.vneid_faults(token_endpoint="slow", slow_seconds=1, times=5)

        answers = await asyncio.gather(*(b.http.get(url) for b, url in zip(browsers, waiting, strict=True)))
    finally:
        for browser in browsers:
            await browser.close()

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [303, 502, 502, 502, 502]
    assert all("upstream_unavailable" in a.text for a in answers if a.status_code == 502)
    faults = (await http.get(f"{stack.vneid_url}/_test/faults")).json()
    assert faults["remaining"] == 4  # exactly one token request reached VNeID: the probe
    assert "broker_upstream_circuit_open 0.0" in (await http.get(f"{stack.broker_url}/metrics")).text
