"""UserInfo: the same identity as the ID token, behind a Bearer token (RFC 6750)."""

from __future__ import annotations

import httpx

from tests.mock_vneid.vneid_kit import FakeClock, Login, redeem, sign_in


async def test_userinfo_returns_the_id_tokens_identity(client: httpx.AsyncClient, login: Login) -> None:
    body, id_claims = await sign_in(client, login)
    access_token = body["access_token"]

    response = await client.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    identity = {
        k: v
        for k, v in id_claims.items()
        if k not in {"iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "at_hash"}
    }
    assert response.json() == identity
    assert response.json()["sub"] == id_claims["sub"]


async def test_userinfo_accepts_post_with_the_token_in_the_header_or_the_body(
    client: httpx.AsyncClient, login: Login
) -> None:
    access_token = (await sign_in(client, login))[0]["access_token"]

    in_header = await client.post("/userinfo", headers={"Authorization": f"Bearer {access_token}"})
    in_body = await client.post("/userinfo", data={"access_token": access_token})

    assert in_header.status_code == in_body.status_code == 200
    assert in_header.json() == in_body.json()


async def test_no_token_gets_a_bare_bearer_challenge(client: httpx.AsyncClient) -> None:
    response = await client.get("/userinfo")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="mock-vneid"'


async def test_unknown_token_is_invalid_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/userinfo", headers={"Authorization": "Bearer made-up"})

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert response.json()["error"] == "invalid_token"


async def test_expired_token_is_invalid_token(
    client: httpx.AsyncClient, login: Login, clock: FakeClock
) -> None:
    access_token = (await sign_in(client, login))[0]["access_token"]
    clock.advance(300)

    response = await client.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_the_id_token_is_not_an_access_token(client: httpx.AsyncClient, login: Login) -> None:
    result = await login()
    id_token = (await redeem(client, result)).json()["id_token"]

    response = await client.get("/userinfo", headers={"Authorization": f"Bearer {id_token}"})

    assert response.status_code == 401


async def test_token_sent_two_ways_is_invalid_request(client: httpx.AsyncClient, login: Login) -> None:
    access_token = (await sign_in(client, login))[0]["access_token"]

    response = await client.post(
        "/userinfo", data={"access_token": access_token}, headers={"Authorization": f"Bearer {access_token}"}
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_other_schemes_are_invalid_request(client: httpx.AsyncClient) -> None:
    response = await client.get("/userinfo", headers={"Authorization": "Basic Zm9vOmJhcg=="})

    assert response.status_code == 400
    assert 'error="invalid_request"' in response.headers["www-authenticate"]
