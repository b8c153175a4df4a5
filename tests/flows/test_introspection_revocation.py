"""Introspection (RFC 7662) and revocation (RFC 7009), client-authenticated, each client only for its own
tokens; a revocation that cannot be stored is a 503, never a 200."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import Stack
from tests.support.browser import Browser, RelyingParty
from tests.support.op import id_claims, introspect, log_in_and_redeem, refresh, revoke, userinfo_status


def _no_store(response: httpx.Response) -> None:
    assert response.headers["cache-control"] == "no-store", response.headers
    assert response.headers["pragma"] == "no-cache", response.headers


async def test_an_access_token_introspects_active_until_revoked(
    stack: Stack, rp: RelyingParty, browser: Browser, http: httpx.AsyncClient
) -> None:
    tokens = await log_in_and_redeem(stack, http, browser, rp)
    claims = await id_claims(http, stack, rp, tokens)
    response = await introspect(http, stack, rp, tokens["access_token"])
    assert response.status_code == 200
    _no_store(response)
    body = response.json()
    assert body["active"] is True
    assert (body["sub"], body["client_id"], body["token_type"]) == (claims["sub"], rp.client_id, "Bearer")
    assert body["scope"] == tokens["scope"] and body["exp"] > body["iat"]

    revoked = await revoke(http, stack, rp, tokens["access_token"], token_type_hint="access_token")
    assert revoked.status_code == 200
    _no_store(revoked)
    assert (await introspect(http, stack, rp, tokens["access_token"])).json() == {"active": False}
    assert await userinfo_status(http, stack, tokens["access_token"]) == 401


async def test_revoking_a_refresh_token_revokes_its_grant(
    stack: Stack, browser: Browser, http: httpx.AsyncClient
) -> None:
    rp = await stack.register_client(grant_types=["authorization_code", "refresh_token"])
    tokens = await log_in_and_redeem(stack, http, browser, rp)
    active = (await introspect(http, stack, rp, tokens["refresh_token"])).json()
    assert active["active"] is True and active["token_type"] == "refresh_token"
    # A wrong hint only changes the search order (RFC 7009 §2.1).
    assert (
        await revoke(http, stack, rp, tokens["refresh_token"], token_type_hint="access_token")
    ).status_code == 200
    assert (await refresh(http, stack, rp, tokens["refresh_token"])).json()["error"] == "invalid_grant"
    assert await userinfo_status(http, stack, tokens["access_token"]) == 401


async def test_a_client_cannot_introspect_or_revoke_another_clients_tokens(
    stack: Stack, rp: RelyingParty, browser: Browser, http: httpx.AsyncClient
) -> None:
    other = await stack.register_client("Another RP")
    tokens = await log_in_and_redeem(stack, http, browser, rp)
    assert (await introspect(http, stack, other, tokens["access_token"])).json() == {"active": False}
    revoked = await revoke(http, stack, other, tokens["access_token"])
    assert revoked.status_code == 200  # RFC 7009 §2.2: no error, and no effect
    assert (await introspect(http, stack, rp, tokens["access_token"])).json()["active"] is True
    assert await userinfo_status(http, stack, tokens["access_token"]) == 200


async def test_unknown_and_garbage_tokens(stack: Stack, rp: RelyingParty, http: httpx.AsyncClient) -> None:
    for token in ("garbage", "a.b.c", "x" * 500):
        assert (await introspect(http, stack, rp, token)).json() == {"active": False}
        assert (await revoke(http, stack, rp, token)).status_code == 200


async def test_errors_follow_rfc_6749_section_5_2(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    public = await stack.register_client("Public RP", token_endpoint_auth_method="none")
    for endpoint in ("introspect", "revoke"):
        url = f"{stack.broker_url}/{endpoint}"
        no_client = await http.post(url, data={"token": "x"})
        assert (no_client.status_code, no_client.json()["error"]) == (401, "invalid_client")
        assert no_client.headers["www-authenticate"].startswith("Basic")
        _no_store(no_client)
        wrong = await http.post(url, data={"token": "x"}, auth=(rp.client_id, "wrong-secret"))
        assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
        missing = await http.post(url, data={}, auth=(rp.client_id, rp.client_secret))
        assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")
        as_json = await http.post(url, json={"token": "x"}, auth=(rp.client_id, rp.client_secret))
        assert (as_json.status_code, as_json.json()["error"]) == (400, "invalid_request")
    # RFC 7662 §2.1: introspection needs an authenticated client; revocation accepts public ones (RFC 7009 §2.1).
    public_introspect = await http.post(
        f"{stack.broker_url}/introspect", data={"token": "x", "client_id": public.client_id}
    )
    assert public_introspect.status_code == 401
    public_revoke = await http.post(
        f"{stack.broker_url}/revoke", data={"token": "x", "client_id": public.client_id}
    )
    assert public_revoke.status_code == 200


async def test_a_revocation_that_cannot_be_stored_answers_503(
    stack: Stack, rp: RelyingParty, browser: Browser, http: httpx.AsyncClient
) -> None:
    tokens = await log_in_and_redeem(stack, http, browser, rp)
    engine = create_async_engine(stack.settings.database_url)
    async with engine.begin() as connection:
        await connection.execute(text("ALTER TABLE access_tokens RENAME TO access_tokens_away"))
    try:
        response = await revoke(http, stack, rp, tokens["access_token"])
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "temporarily_unavailable"
        _no_store(response)
    finally:
        async with engine.begin() as connection:
            await connection.execute(text("ALTER TABLE access_tokens_away RENAME TO access_tokens"))
        await engine.dispose()
    # Nothing was revoked: the RP must retry, and it was told so.
    assert await userinfo_status(http, stack, tokens["access_token"]) == 200


async def test_the_caller_of_an_access_tokens_introspection_must_authenticate(
    stack: Stack, rp: RelyingParty, browser: Browser, http: httpx.AsyncClient
) -> None:
    """The caller and the access token are read in one statement (issue 7): the caller is still
    authenticated first, whatever the token."""
    tokens = await log_in_and_redeem(stack, http, browser, rp)
    url = f"{stack.broker_url}/introspect"
    public = await stack.register_client("Public RP", token_endpoint_auth_method="none")
    token = {"token": tokens["access_token"]}
    refusals = {
        "no client": await http.post(url, data=token),
        "wrong secret": await http.post(url, data=token, auth=(rp.client_id, "wrong-secret")),
        "unknown client": await http.post(url, data=token, auth=("rp-nobody", rp.client_secret)),
        "public client": await http.post(url, data={**token, "client_id": public.client_id}),
    }
    for name, answer in refusals.items():
        assert (answer.status_code, answer.json()["error"]) == (401, "invalid_client"), name
        assert "active" not in answer.json(), name
    assert (await introspect(http, stack, rp, tokens["access_token"])).json()["active"] is True
