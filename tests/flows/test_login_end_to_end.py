"""Case 1 of the letters, end to end through real servers: RP → broker → mock VNeID → broker → RP."""

from __future__ import annotations

import httpx

from tests.conftest import DEMO_PASSWORD, Stack
from tests.support.browser import Browser, RelyingParty, redeem, verified_id_token

AN = "001085012345"  # Nguyễn Văn An, level 2, had CMND 012345678


async def test_first_vneid_login_creates_a_linked_account_and_the_rp_gets_verified_claims(
    stack: Stack, rp: RelyingParty, browser: Browser, http: httpx.AsyncClient
) -> None:
    attempt, back = await browser.log_in(stack.broker_url, rp, AN, DEMO_PASSWORD)

    assert back.url.startswith(rp.redirect_uri + "?")
    assert back.query["state"] == attempt.state
    assert back.query["iss"] == stack.broker_url  # RFC 9207
    response = await redeem(http, stack.broker_url, rp, back.query["code"], attempt.verifier)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    tokens = response.json()
    assert tokens["token_type"] == "Bearer"

    jwks = (await http.get(f"{stack.broker_url}/jwks")).json()
    claims = verified_id_token(tokens["id_token"], jwks, stack.broker_url, rp.client_id)
    assert claims["nonce"] == attempt.params["nonce"]
    assert claims["name"] == "Nguyễn Văn An"
    assert claims["identification_number"] == AN
    assert claims["old_identification_number"] == "012345678"
    assert claims["birthdate"] == "1985-03-12"
    assert claims["account_type"] == "citizen"
    assert claims["acr"] == "urn:vneid:loa:level2"
    assert {"auth_time", "amr", "sub"} <= claims.keys()
    assert AN not in claims["sub"]  # the broker's own subject, not the personal number

    userinfo = await http.get(
        f"{stack.broker_url}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert userinfo.status_code == 200
    assert userinfo.json()["sub"] == claims["sub"]
    assert userinfo.json()["name"] == "Nguyễn Văn An"


async def test_the_next_login_finds_the_same_account(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    subjects = []
    for _ in range(2):
        person = Browser()  # a new browser each time: no shared cookies
        attempt, back = await person.log_in(stack.broker_url, rp, AN, DEMO_PASSWORD)
        tokens = (await redeem(http, stack.broker_url, rp, back.query["code"], attempt.verifier)).json()
        jwks = (await http.get(f"{stack.broker_url}/jwks")).json()
        subjects.append(verified_id_token(tokens["id_token"], jwks, stack.broker_url, rp.client_id)["sub"])
        await person.close()
    assert subjects[0] == subjects[1]


async def test_scopes_limit_the_released_claims(
    stack: Stack, rp: RelyingParty, browser: Browser, http: httpx.AsyncClient
) -> None:
    attempt, back = await browser.log_in(stack.broker_url, rp, AN, DEMO_PASSWORD, scope="openid profile")
    tokens = (await redeem(http, stack.broker_url, rp, back.query["code"], attempt.verifier)).json()
    jwks = (await http.get(f"{stack.broker_url}/jwks")).json()
    claims = verified_id_token(tokens["id_token"], jwks, stack.broker_url, rp.client_id)
    assert claims["name"] == "Nguyễn Văn An"
    assert "identification_number" not in claims
    assert "account_type" not in claims


async def test_metrics_count_the_login_and_the_tokens(
    stack: Stack, rp: RelyingParty, browser: Browser, http: httpx.AsyncClient
) -> None:
    attempt, back = await browser.log_in(stack.broker_url, rp, AN, DEMO_PASSWORD)
    await redeem(http, stack.broker_url, rp, back.query["code"], attempt.verifier)
    metrics = (await http.get(f"{stack.broker_url}/metrics")).text
    assert 'broker_logins_total{method="vneid",outcome="success"} 1.0' in metrics
    assert 'broker_tokens_issued_total{grant_type="authorization_code",kind="id_token"} 1.0' in metrics
    assert 'broker_upstream_request_seconds_count{endpoint="token",outcome="ok"} 1.0' in metrics
    assert (await http.get(f"{stack.broker_url}/healthz")).json() == {"status": "ok"}
    assert (await http.get(f"{stack.broker_url}/readyz")).status_code == 200
