"""The benchmark's database round-trip count (BROKER_BENCH_COUNT_ROUND_TRIPS): per answer, exact, and absent
unless asked for."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import StackFactory
from tests.support.browser import Browser
from tests.support.op import log_in_and_redeem


async def test_each_answer_says_how_many_round_trips_it_cost(
    make_stack: StackFactory, http: httpx.AsyncClient
) -> None:
    stack = make_stack(bench_count_round_trips=True)
    rp = await stack.register_client()
    browser = Browser()
    tokens = await log_in_and_redeem(stack, http, browser, rp)
    await browser.close()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}

    answers = await asyncio.gather(
        *(http.get(f"{stack.broker_url}/userinfo", headers=bearer) for _ in range(8))
    )
    # One statement (token, account, link, roles and client together); SQLite adds its BEGIN and COMMIT.
    expected = "1" if stack.settings.database_url.startswith("postgresql") else "3"
    assert {answer.headers["x-db-round-trips"] for answer in answers} == {expected}  # concurrent, not mixed
    assert (await http.get(f"{stack.broker_url}/jwks")).headers["x-db-round-trips"] == "0"


async def test_no_count_unless_asked(make_stack: StackFactory, http: httpx.AsyncClient) -> None:
    stack = make_stack()
    assert "x-db-round-trips" not in (await http.get(f"{stack.broker_url}/jwks")).headers
