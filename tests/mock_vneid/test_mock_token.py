"""The token endpoint: client authentication, single-use codes, PKCE, and RFC 6749 §5.2 errors."""

from __future__ import annotations

import base64
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

from tests.mock_vneid.vneid_kit import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    FakeClock,
    Login,
    asgi_client,
    login_with,
    redeem,
    token_form,
)


def assert_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store"


async def test_successful_response_is_not_cached(client: httpx.AsyncClient, login: Login) -> None:
    response = await redeem(client, await login())

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    assert set(response.json()) == {"access_token", "token_type", "expires_in", "id_token", "scope"}


async def test_client_secret_post_is_accepted(client: httpx.AsyncClient, login: Login) -> None:
    form = {**token_form(await login()), "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}

    response = await client.post("/token", data=form)

    assert response.status_code == 200, response.text


async def test_reused_code_is_invalid_grant_and_revokes_the_first_tokens(
    client: httpx.AsyncClient, login: Login
) -> None:
    result = await login()
    first = await redeem(client, result)
    access_token = first.json()["access_token"]
    assert (await client.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})).is_success

    second = await redeem(client, result)

    assert_error(second, 400, "invalid_grant")
    revoked = await client.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})
    assert revoked.status_code == 401


async def test_wrong_verifier_is_invalid_grant_and_burns_the_code(
    client: httpx.AsyncClient, login: Login
) -> None:
    result = await login()

    wrong = await redeem(client, result, code_verifier="x" * 43)
    right_too_late = await redeem(client, result)

    assert_error(wrong, 400, "invalid_grant")
    assert_error(right_too_late, 400, "invalid_grant")


async def test_redirect_uri_must_match_the_authorization_request(
    client: httpx.AsyncClient, login: Login
) -> None:
    response = await redeem(client, await login(), redirect_uri=REDIRECT_URI + "/other")

    assert_error(response, 400, "invalid_grant")


async def test_code_expires_after_sixty_seconds(
    client: httpx.AsyncClient, login: Login, clock: FakeClock
) -> None:
    result = await login()
    clock.advance(60)

    assert_error(await redeem(client, result), 400, "invalid_grant")


async def test_code_is_good_just_before_expiry(
    client: httpx.AsyncClient, login: Login, clock: FakeClock
) -> None:
    result = await login()
    clock.advance(59)

    assert (await redeem(client, result)).status_code == 200


async def test_unknown_code_is_invalid_grant(client: httpx.AsyncClient, login: Login) -> None:
    assert_error(await redeem(client, await login(), code="made-up"), 400, "invalid_grant")


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"grant_type": None}, "invalid_request"),
        ({"grant_type": "refresh_token"}, "unsupported_grant_type"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"code": None}, "invalid_request"),
        ({"redirect_uri": None}, "invalid_request"),
        ({"code_verifier": None}, "invalid_request"),
        ({"code_verifier": "short"}, "invalid_request"),
        ({"code_verifier": "é" * 50}, "invalid_request"),
    ],
)
async def test_malformed_requests(
    client: httpx.AsyncClient, login: Login, overrides: dict[str, str | None], error: str
) -> None:
    response = await redeem(client, await login(), **overrides)

    assert_error(response, 400, error)


async def test_wrong_secret_with_basic_is_401_with_a_challenge(
    client: httpx.AsyncClient, login: Login
) -> None:
    response = await client.post("/token", data=token_form(await login()), auth=(CLIENT_ID, "wrong"))

    assert_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic")


async def test_wrong_secret_with_post_is_401(client: httpx.AsyncClient, login: Login) -> None:
    form = {**token_form(await login()), "client_id": CLIENT_ID, "client_secret": "wrong"}

    assert_error(await client.post("/token", data=form), 401, "invalid_client")


async def test_unknown_client_is_401(client: httpx.AsyncClient, login: Login) -> None:
    response = await client.post("/token", data=token_form(await login()), auth=("intruder", CLIENT_SECRET))

    assert_error(response, 401, "invalid_client")


async def test_no_client_authentication_is_401(client: httpx.AsyncClient, login: Login) -> None:
    form = {**token_form(await login()), "client_id": CLIENT_ID}

    response = await client.post("/token", data=form)

    assert_error(response, 401, "invalid_client")
    assert "www-authenticate" in response.headers


@pytest.mark.parametrize(
    "header", ["Bearer abc", "Basic !!!not-base64", "Basic " + base64.b64encode(b"nocolon").decode()]
)
async def test_garbled_authorization_header_is_401(
    client: httpx.AsyncClient, login: Login, header: str
) -> None:
    response = await client.post("/token", data=token_form(await login()), headers={"Authorization": header})

    assert_error(response, 401, "invalid_client")


async def test_basic_credentials_are_form_urlencoded(make_app: Callable[..., FastAPI]) -> None:
    # RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic joins them with a colon.
    async with asgi_client(make_app(client_secret="s3cret:with/odd+chars")) as client:
        result = await login_with(client)()
        encoded = base64.b64encode(f"{CLIENT_ID}:s3cret%3Awith%2Fodd%2Bchars".encode()).decode()
        headers = {"Authorization": f"Basic {encoded}"}
        response = await client.post("/token", data=token_form(result), headers=headers)

    assert response.status_code == 200, response.text


async def test_two_authentication_methods_at_once_are_refused(
    client: httpx.AsyncClient, login: Login
) -> None:
    form = {**token_form(await login()), "client_secret": CLIENT_SECRET}

    response = await client.post("/token", data=form, auth=(CLIENT_ID, CLIENT_SECRET))

    assert_error(response, 400, "invalid_request")


async def test_json_body_is_invalid_request(client: httpx.AsyncClient, login: Login) -> None:
    response = await client.post("/token", json=token_form(await login()), auth=(CLIENT_ID, CLIENT_SECRET))

    assert_error(response, 400, "invalid_request")


async def test_repeated_parameter_is_invalid_request(client: httpx.AsyncClient, login: Login) -> None:
    result = await login()
    body = httpx.QueryParams([*token_form(result).items(), ("code", result.code)])

    response = await client.post(
        "/token",
        content=str(body),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )

    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    "body", [b"grant_type=authorization_code&code=%FF%FE", b"\xff\xfe=1", b"x=" + b"a" * 70_000]
)
async def test_bad_bodies_are_invalid_request(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post(
        "/token",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )

    assert_error(response, 400, "invalid_request")
