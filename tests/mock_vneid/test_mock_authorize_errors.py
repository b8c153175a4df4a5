"""Bad authorization requests: a page when the redirect cannot be trusted, an error redirect otherwise."""

from __future__ import annotations

import httpx
import pytest

from tests.mock_vneid.vneid_kit import (
    ISSUER,
    REDIRECT_URI,
    Pkce,
    authorize_params,
    callback_params,
)


@pytest.mark.parametrize(
    "overrides",
    [
        {"redirect_uri": "http://127.0.0.1:8000/login/vneid/callback/extra"},
        {"redirect_uri": "http://127.0.0.1:8000/login/vneid/callback?x=1"},
        {"redirect_uri": "HTTP://127.0.0.1:8000/login/vneid/callback"},
        {"redirect_uri": "http://127.0.0.1:8000/login/vneid/Callback"},
        {"redirect_uri": "http://127.0.0.1:8000@evil.example/login/vneid/callback"},
        {"redirect_uri": "https://evil.example/callback"},
        {"redirect_uri": None},
        {"client_id": "someone-else"},
        {"client_id": None},
    ],
    ids=[
        "extra-path",
        "extra-query",
        "case",
        "path-case",
        "userinfo-trick",
        "foreign",
        "missing",
        "client",
        "no-client",
    ],
)
async def test_untrusted_client_or_redirect_gets_a_page_never_a_redirect(
    client: httpx.AsyncClient, overrides: dict[str, str | None]
) -> None:
    response = await client.get("/authorize", params=authorize_params(Pkce(), **overrides))

    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["x-frame-options"] == "DENY"
    assert "Yêu cầu đăng nhập không hợp lệ" in response.text


async def test_repeated_redirect_uri_gets_a_page(client: httpx.AsyncClient) -> None:
    params = httpx.QueryParams([*authorize_params(Pkce()).items(), ("redirect_uri", REDIRECT_URI)])

    response = await client.get("/authorize", params=params)

    assert response.status_code == 400
    assert "location" not in response.headers


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "too-short"}, "invalid_request"),
        ({"code_challenge": "a" * 42 + "!"}, "invalid_request"),
        ({"nonce": None}, "invalid_request"),
        ({"response_type": None}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unsupported_response_type"),
        ({"scope": "profile vneid"}, "invalid_scope"),
        ({"scope": None}, "invalid_scope"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"prompt": "none"}, "login_required"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"max_age": "soon"}, "invalid_request"),
        ({"request": "eyJ..."}, "request_not_supported"),
        ({"request_uri": "https://rp.example/req"}, "request_uri_not_supported"),
    ],
)
async def test_invalid_requests_go_back_to_the_client_with_state_and_iss(
    client: httpx.AsyncClient, overrides: dict[str, str | None], error: str
) -> None:
    params = authorize_params(Pkce(), **overrides)

    response = await client.get("/authorize", params=params)

    assert response.status_code == 302
    callback = callback_params(response)
    assert callback["error"] == error
    assert callback["error_description"]
    assert callback["state"] == params["state"]
    assert callback["iss"] == ISSUER
    assert "code" not in callback


async def test_missing_state_is_refused_without_one(client: httpx.AsyncClient) -> None:
    response = await client.get("/authorize", params=authorize_params(Pkce(), state=None))

    callback = callback_params(response)
    assert callback["error"] == "invalid_request"
    assert "state" not in callback


async def test_repeated_parameter_is_refused(client: httpx.AsyncClient) -> None:
    params = httpx.QueryParams([*authorize_params(Pkce()).items(), ("scope", "openid")])

    response = await client.get("/authorize", params=params)

    assert callback_params(response)["error"] == "invalid_request"


async def test_prompt_login_and_unknown_scopes_are_accepted(client: httpx.AsyncClient) -> None:
    params = authorize_params(Pkce(), prompt="login", scope="openid vneid phone")

    response = await client.get("/authorize", params=params)

    assert response.status_code == 200
    assert 'name="request_id"' in response.text  # the login form, for the service named by its display name
