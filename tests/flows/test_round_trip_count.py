"""The benchmark's database round-trip count (BROKER_BENCH_COUNT_ROUND_TRIPS): per answer, exact, and absent
unless asked for."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import DEMO_PASSWORD, Stack, StackFactory
from tests.support.browser import Browser, RelyingParty, redeem
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
    # Introspection of an access token: the calling client and the token in the same statement.
    introspected = await http.post(
        f"{stack.broker_url}/introspect",
        data={"token": tokens["access_token"]},
        auth=(rp.client_id, rp.client_secret),
    )
    assert introspected.json()["active"] is True
    assert introspected.headers["x-db-round-trips"] == expected


async def test_no_count_unless_asked(make_stack: StackFactory, http: httpx.AsyncClient) -> None:
    stack = make_stack()
    assert "x-db-round-trips" not in (await http.get(f"{stack.broker_url}/jwks")).headers


async def _login_round_trips(stack: Stack, browser: Browser, rp: RelyingParty, number: str) -> dict[str, str]:
    """The citizen journey of ``Browser.log_in``, step by step, with each broker answer's count."""
    counts = {}
    authorized = await browser.authorize(stack.broker_url, browser.attempt(rp))
    counts["authorize"] = authorized.headers["x-db-round-trips"]
    # /authorize answered with the login page, whose VNeID button it prepared: straight to VNeID.
    vneid_page = await browser.open_vneid(authorized)
    back_at_broker = await browser.sign_in_at_vneid(vneid_page, number, DEMO_PASSWORD)
    callback = await browser.http.get(back_at_broker.headers["location"])
    assert callback.status_code == 303, callback.text[:2000]
    assert "code=" in callback.headers["location"]
    counts["callback"] = callback.headers["x-db-round-trips"]
    return counts


async def test_a_login_costs_the_round_trips_the_benchmark_counts(make_stack: StackFactory) -> None:
    """Issue 7: on PostgreSQL a login's steps take 2 and 3 round trips, a first login's as a known
    citizen's, and a known client's /authorize 1 (the client read at the first /authorize and then kept by
    the process, the login page shown by /authorize itself with no read of the flow it has just written and
    its VNeID button bound to the flow in the same insert, going to VNeID with no request to the broker,
    the flow's insert and moves sent alone, writes carried by the next statement, the account
    looked up by its link, its number and the legacy records at once, before any BEGIN, with an id drawn
    for a new account; then the new account with its link and its number, the flow's guarded move, the
    session, the code and the audit chain's lock, head and rows in one statement, without BEGIN)."""
    stack = make_stack(bench_count_round_trips=True)
    rp = await stack.register_client()
    first, again = Browser(), Browser()
    first_login = await _login_round_trips(stack, first, rp, AN)
    known = await _login_round_trips(stack, again, rp, AN)
    await first.close()
    await again.close()
    if not stack.settings.database_url.startswith("postgresql"):
        return  # SQLite: each write is a transaction of its own, with its BEGIN and COMMIT
    assert first_login == {"authorize": "2", "callback": "3"}
    assert known == {"authorize": "1", "callback": "3"}


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
    # PostgreSQL: the client with the code (or refresh token) and its account, then one statement that
    # spends it and writes the new tokens, committed on its own. SQLite runs its reads in snapshot transactions
    # and the spend and each token as statements of one write transaction (counted, not pinned here).
    counts = {exchanged.headers["x-db-round-trips"], refreshed.headers["x-db-round-trips"]}
    if stack.settings.database_url.startswith("postgresql"):
        assert counts == {"2"}, counts
