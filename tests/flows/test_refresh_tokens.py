"""Refresh tokens (RFC 6749 §6, OIDC Core §12, RFC 9700 §4.14.2): rotated on every use, exactly one winner
among parallel refreshes, reuse revokes the whole grant, an absolute lifetime, the same ``sub``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from broker.clock import FixedClock
from tests.conftest import Stack, StackFactory
from tests.support.browser import Browser
from tests.support.op import id_claims, introspect, log_in_and_redeem, refresh, userinfo_status

OFFLINE = "openid profile offline_access"


async def test_refresh_rotates_and_keeps_the_subject(
    stack: Stack, browser: Browser, http: httpx.AsyncClient
) -> None:
    rp = await stack.register_client(grant_types=["authorization_code", "refresh_token"])
    tokens = await log_in_and_redeem(stack, http, browser, rp)
    first_claims = await id_claims(http, stack, rp, tokens)
    response = await refresh(http, stack, rp, tokens["refresh_token"])
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store" and response.headers["pragma"] == "no-cache"
    renewed = response.json()
    assert renewed["refresh_token"] != tokens["refresh_token"]
    claims = await id_claims(http, stack, rp, renewed)
    assert claims["sub"] == first_claims["sub"]
    assert claims["auth_time"] == first_claims["auth_time"]
    assert "nonce" not in claims
    assert await userinfo_status(http, stack, renewed["access_token"]) == 200


async def test_a_client_without_the_refresh_grant_gets_no_refresh_token(
    stack: Stack, browser: Browser, http: httpx.AsyncClient
) -> None:
    rp = await stack.register_client()
    tokens = await log_in_and_redeem(stack, http, browser, rp, scope=OFFLINE)
    assert "refresh_token" not in tokens
    assert "offline_access" not in tokens["scope"]


async def test_reusing_a_rotated_refresh_token_revokes_the_whole_grant(
    stack: Stack, browser: Browser, http: httpx.AsyncClient
) -> None:
    rp = await stack.register_client(grant_types=["authorization_code", "refresh_token"])
    tokens = await log_in_and_redeem(stack, http, browser, rp, scope=OFFLINE)
    renewed = (await refresh(http, stack, rp, tokens["refresh_token"])).json()

    stolen = await refresh(http, stack, rp, tokens["refresh_token"])
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    assert stolen.headers["cache-control"] == "no-store"
    # Everything of the grant is dead: the legitimate new tokens too.
    assert (await refresh(http, stack, rp, renewed["refresh_token"])).json()["error"] == "invalid_grant"
    assert await userinfo_status(http, stack, renewed["access_token"]) == 401
    assert await userinfo_status(http, stack, tokens["access_token"]) == 401
    assert (await introspect(http, stack, rp, renewed["refresh_token"])).json() == {"active": False}


async def test_parallel_refreshes_with_one_token_have_exactly_one_winner(
    stack: Stack, browser: Browser, http: httpx.AsyncClient
) -> None:
    rp = await stack.register_client(grant_types=["authorization_code", "refresh_token"])
    tokens = await log_in_and_redeem(stack, http, browser, rp)
    responses = await asyncio.gather(*(refresh(http, stack, rp, tokens["refresh_token"]) for _ in range(10)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [400] * 9, [response.text for response in responses]
    assert {response.json()["error"] for response in responses if response.status_code == 400} == {
        "invalid_grant"
    }


async def test_the_grant_has_an_absolute_lifetime(make_stack: StackFactory, http: httpx.AsyncClient) -> None:
    clock = FixedClock(datetime.now(UTC))
    stack = make_stack(clock=clock, refresh_token_ttl_seconds=3600)
    rp = await stack.register_client(grant_types=["authorization_code", "refresh_token"])
    browser = Browser()
    try:
        tokens = await log_in_and_redeem(stack, http, browser, rp)
    finally:
        await browser.close()
    clock.advance(minutes=50)
    renewed = await refresh(http, stack, rp, tokens["refresh_token"])
    assert renewed.status_code == 200
    clock.advance(minutes=11)  # rotation did not extend the grant
    expired = await refresh(http, stack, rp, renewed.json()["refresh_token"])
    assert expired.status_code == 400 and expired.json()["error"] == "invalid_grant"


async def test_an_account_that_is_no_longer_active_gets_no_more_tokens(
    stack: Stack, browser: Browser, http: httpx.AsyncClient
) -> None:
    rp = await stack.register_client(grant_types=["authorization_code", "refresh_token"])
    tokens = await log_in_and_redeem(stack, http, browser, rp)
    engine = create_async_engine(stack.settings.database_url)
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE accounts SET status = 'frozen'"))
    await engine.dispose()
    response = await refresh(http, stack, rp, tokens["refresh_token"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert (await introspect(http, stack, rp, tokens["access_token"])).json() == {"active": False}


async def test_refresh_errors_follow_rfc_6749(
    stack: Stack, browser: Browser, http: httpx.AsyncClient
) -> None:
    rp = await stack.register_client(grant_types=["authorization_code", "refresh_token"])
    plain = await stack.register_client()
    tokens = await log_in_and_redeem(stack, http, browser, rp)
    url = f"{stack.broker_url}/token"
    missing = await http.post(
        url, data={"grant_type": "refresh_token"}, auth=(rp.client_id, rp.client_secret)
    )
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")
    other = await refresh(http, stack, plain, tokens["refresh_token"])
    assert (other.status_code, other.json()["error"]) == (400, "unauthorized_client")
    access_as_refresh = await refresh(http, stack, rp, tokens["access_token"])
    assert (access_as_refresh.status_code, access_as_refresh.json()["error"]) == (400, "invalid_grant")
    wider = await http.post(
        url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "scope": "openid offline_access",
        },
        auth=(rp.client_id, rp.client_secret),
    )
    assert (wider.status_code, wider.json()["error"]) == (400, "invalid_scope")
    bad_client = await http.post(
        url,
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(rp.client_id, "wrong"),
    )
    assert bad_client.status_code == 401 and bad_client.headers["www-authenticate"].startswith("Basic")
