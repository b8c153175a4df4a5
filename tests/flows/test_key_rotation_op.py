"""`broker keys rotate`: a new key is published before it signs (publish-ahead ≥ the JWKS max-age), the old
key stops signing then and stays published until its last token has expired; replicas pick keys up by
reloading periodically (OIDC Core §10.1.1)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt

from broker.clock import FixedClock
from tests.conftest import Stack, StackFactory
from tests.support.browser import Browser, RelyingParty
from tests.support.op import jwks, log_in_and_redeem

BROKER = str(Path(sys.executable).parent / "broker")


def _cli(stack: Stack, *args: str) -> Any:
    environment = {
        **os.environ,
        "BROKER_DATABASE_URL": stack.settings.database_url,
        "BROKER_KEY_PUBLISH_AHEAD_SECONDS": str(stack.settings.key_publish_ahead_seconds),
    }
    result = subprocess.run([BROKER, *args], env=environment, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


async def _id_token(stack: Stack, http: httpx.AsyncClient, rp: RelyingParty) -> str:
    browser = Browser()
    try:
        return str((await log_in_and_redeem(stack, http, browser, rp))["id_token"])
    finally:
        await browser.close()


async def test_rotation_publishes_ahead_then_signs_then_retires(
    make_stack: StackFactory, http: httpx.AsyncClient
) -> None:
    clock = FixedClock(datetime.now(UTC))
    stack = make_stack(clock=clock, key_publish_ahead_seconds=600, key_reload_seconds=60)
    rp = await stack.register_client()
    response = await http.get(f"{stack.broker_url}/jwks")
    assert response.headers["cache-control"] == "public, max-age=540"
    old_token = await _id_token(stack, http, rp)
    old_kid = jwt.get_unverified_header(old_token)["kid"]

    added = await asyncio.to_thread(_cli, stack, "keys", "rotate")
    new_kid = next(key["kid"] for key in added if key["alg"] == "RS256")
    statuses = {key["kid"]: key["status"] for key in await asyncio.to_thread(_cli, stack, "keys", "list")}
    assert (statuses[old_kid], statuses[new_kid]) == ("signing", "published (not yet signing)")
    clock.advance(seconds=61)  # every replica has reloaded its keys
    published = {key["kid"] for key in (await jwks(http, stack))["keys"]}
    assert {old_kid, new_kid} <= published
    assert jwt.get_unverified_header(await _id_token(stack, http, rp))["kid"] == old_kid  # not yet signing

    clock.advance(seconds=600)
    new_token = await _id_token(stack, http, rp)
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    keys = await jwks(http, stack)
    assert old_kid in {key["kid"] for key in keys["keys"]}
    for token, kid in ((new_token, new_kid), (old_token, old_kid)):
        # The RP's checks, but at the broker's (moved) clock rather than the machine's.
        jwt.decode(
            token,
            jwt.PyJWK(next(key for key in keys["keys"] if key["kid"] == kid)).key,
            algorithms=["RS256"],
            audience=rp.client_id,
            issuer=stack.broker_url,
            options={"verify_exp": False, "verify_iat": False},
        )

    clock.advance(seconds=stack.settings.longest_token_lifetime_seconds + 61)
    assert old_kid not in {key["kid"] for key in (await jwks(http, stack))["keys"]}
    assert new_kid in {key["kid"] for key in (await jwks(http, stack))["keys"]}
