"""What relying parties do with the broker beyond the first login: SSO, refresh, introspect, revoke, log out.
Written independently of the broker's code, from the specifications."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import jwt

from tests.conftest import DEMO_PASSWORD, Stack
from tests.support.browser import (
    AuthorizationAttempt,
    Browser,
    Redirect,
    RelyingParty,
    redeem,
    verified_id_token,
)

AN = "001085012345"  # level 2
CHAU = "038303004567"  # level 1


async def log_in_and_redeem(
    stack: Stack,
    http: httpx.AsyncClient,
    browser: Browser,
    rp: RelyingParty,
    number: str = AN,
    **overrides: str | None,
) -> dict[str, Any]:
    attempt, back = await browser.log_in(stack.broker_url, rp, number, DEMO_PASSWORD, **overrides)
    response = await redeem(http, stack.broker_url, rp, back.query["code"], attempt.verifier)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def silent(
    stack: Stack, browser: Browser, rp: RelyingParty, **overrides: str | None
) -> tuple[AuthorizationAttempt, httpx.Response]:
    """The browser opens the RP, which sends it to /authorize; nothing is clicked."""
    attempt = browser.attempt(rp, **overrides)
    return attempt, await browser.authorize(stack.broker_url, attempt)


def redirect_to(response: httpx.Response, rp: RelyingParty) -> Redirect:
    assert response.status_code == 303, (response.status_code, response.text[:500])
    location = response.headers["location"]
    assert location.startswith(rp.redirect_uri + "?"), location
    return Redirect(location)


async def jwks(http: httpx.AsyncClient, stack: Stack) -> dict[str, Any]:
    return dict((await http.get(f"{stack.broker_url}/jwks")).json())


async def id_claims(
    http: httpx.AsyncClient, stack: Stack, rp: RelyingParty, tokens: dict[str, Any]
) -> dict[str, Any]:
    return verified_id_token(tokens["id_token"], await jwks(http, stack), stack.broker_url, rp.client_id)


async def refresh(
    http: httpx.AsyncClient, stack: Stack, rp: RelyingParty, refresh_token: str
) -> httpx.Response:
    return await http.post(
        f"{stack.broker_url}/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(rp.client_id, rp.client_secret),
    )


async def introspect(http: httpx.AsyncClient, stack: Stack, rp: RelyingParty, token: str) -> httpx.Response:
    return await http.post(
        f"{stack.broker_url}/introspect", data={"token": token}, auth=(rp.client_id, rp.client_secret)
    )


async def revoke(
    http: httpx.AsyncClient, stack: Stack, rp: RelyingParty, token: str, **extra: str
) -> httpx.Response:
    return await http.post(
        f"{stack.broker_url}/revoke", data={"token": token, **extra}, auth=(rp.client_id, rp.client_secret)
    )


async def userinfo_status(http: httpx.AsyncClient, stack: Stack, access_token: str) -> int:
    response = await http.get(
        f"{stack.broker_url}/userinfo", headers={"Authorization": f"Bearer {access_token}"}
    )
    return response.status_code


async def wait_for(condition: Any, seconds: float = 10.0) -> None:
    """Polls a condition the broker's background worker will make true (back-channel deliveries)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the condition")
        await asyncio.sleep(0.05)


def verified_logout_token(token: str, keys: dict[str, Any], issuer: str, audience: str) -> dict[str, Any]:
    """Back-Channel Logout 1.0 §2.6, as an RP validates a logout token."""
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "logout+jwt", header
    key = next(entry for entry in keys["keys"] if entry["kid"] == header["kid"])
    claims = jwt.decode(
        token,
        jwt.PyJWK(key).key,
        algorithms=[header["alg"]],
        audience=audience,
        issuer=issuer,
        options={"require": ["iss", "aud", "iat", "exp", "jti", "events"]},
    )
    assert claims["events"] == {"http://schemas.openid.net/event/backchannel-logout": {}}
    assert "nonce" not in claims
    assert "sid" in claims or "sub" in claims
    return dict(claims)
