"""The benchmark's database round-trip count (BROKER_BENCH_COUNT_ROUND_TRIPS): per answer, exact, and absent
unless asked for."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import DEMO_PASSWORD, StackFactory
from tests.support.browser import Browser, redeem
from tests.support.op import AN, log_in_and_redeem, refresh


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


async def test_a_code_exchange_and_a_refresh_each_read_once_and_write_once(
    make_stack: StackFactory, http: httpx.AsyncClient
) -> None:
    stack = make_stack(bench_count_round_trips=True)
    rp = await stack.register_client(grant_types=["authorization_code", "refresh_token"])
    browser = Browser()
    attempt, back = await browser.log_in(stack.broker_url, rp, AN, DEMO_PASSWORD)
    await browser.close()
    await http.get(f"{stack.broker_url}/jwks")  # the key ring is loaded once, by its first use, not counted
    exchanged = await redeem(http, stack.broker_url, rp, back.query["code"], attempt.verifier)
    assert exchanged.status_code == 200, exchanged.text
    refreshed = await refresh(http, stack, rp, exchanged.json()["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    # PostgreSQL: the client, the code (or refresh token) with its account, then one statement that spends
    # it and writes the new tokens, committed on its own. SQLite runs its reads in snapshot transactions
    # and the spend and each token as statements of one write transaction (counted, not pinned here).
    counts = {exchanged.headers["x-db-round-trips"], refreshed.headers["x-db-round-trips"]}
    if stack.settings.database_url.startswith("postgresql"):
        assert counts == {"3"}, counts
