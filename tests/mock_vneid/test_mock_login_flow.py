"""The citizen's side: the login page, its answers, and the redirect back to the relying party."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

from tests.mock_vneid.vneid_kit import (
    AN,
    CHAU,
    ISSUER,
    PASSWORD,
    REDIRECT_URI,
    FakeClock,
    Login,
    Pkce,
    asgi_client,
    authorize_params,
    callback_params,
    login_form,
    open_login_form,
    redeem,
    submit_login,
    verify_id_token,
)

SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "content-security-policy": "frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
}


async def test_full_code_flow_with_pkce_through_the_html_form(
    client: httpx.AsyncClient, login: Login
) -> None:
    result = await login(AN, PASSWORD)

    assert result.callback["state"] == result.state
    assert result.callback["iss"] == ISSUER
    tokens = await redeem(client, result)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert body["scope"] == "openid profile vneid"
    claims = verify_id_token(body["id_token"], (await client.get("/jwks")).json(), nonce=result.nonce)
    assert claims["identification_number"] == AN


async def test_login_page_is_vietnamese_with_the_contract_inputs(client: httpx.AsyncClient) -> None:
    page = await client.get("/authorize", params=authorize_params(Pkce()))

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Đăng nhập bằng tài khoản định danh điện tử VNeID" in page.text
    form = login_form(page)
    assert (form.method, form.action) == ("post", f"{ISSUER}/authorize")
    inputs = form.fields
    assert {"username", "password", "request_id"} <= inputs.keys()
    # Only an opaque id travels in the form, never the request itself.
    assert "code_challenge" not in inputs
    assert "nonce" not in inputs
    for name, value in SECURITY_HEADERS.items():
        assert page.headers[name] == value
    assert page.headers["cache-control"] == "no-store"


async def test_wrong_password_and_unknown_number_show_the_same_page(client: httpx.AsyncClient) -> None:
    inputs = await open_login_form(client, authorize_params(Pkce()))

    wrong_password = await submit_login(client, inputs, AN, "not-the-password")
    unknown_number = await submit_login(client, inputs, "001085999999", PASSWORD)

    assert wrong_password.status_code == unknown_number.status_code == 200
    message = "Số định danh cá nhân hoặc mật khẩu không đúng."
    assert message in wrong_password.text
    assert message in unknown_number.text
    # Same page apart from the number echoed back into the field (and the fresh one-time QR code).
    assert _without_qr(wrong_password.text).replace(AN, "") == _without_qr(unknown_number.text).replace(
        "001085999999", ""
    )
    for name, value in SECURITY_HEADERS.items():
        assert wrong_password.headers[name] == value


async def test_the_form_can_be_retried_after_a_wrong_password(client: httpx.AsyncClient) -> None:
    inputs = await open_login_form(client, authorize_params(Pkce()))
    retry = login_form(await submit_login(client, inputs, AN, "wrong")).fields

    response = await submit_login(client, retry, AN, PASSWORD)

    assert response.status_code == 303
    assert "code" in callback_params(response)


async def test_a_used_login_form_cannot_be_submitted_again(client: httpx.AsyncClient) -> None:
    inputs = await open_login_form(client, authorize_params(Pkce()))
    assert (await submit_login(client, inputs, AN, PASSWORD)).status_code == 303

    again = await submit_login(client, inputs, AN, PASSWORD)

    assert again.status_code == 400
    assert "location" not in again.headers


async def test_login_form_expires(client: httpx.AsyncClient, clock: FakeClock) -> None:
    inputs = await open_login_form(client, authorize_params(Pkce()))
    clock.advance(601)

    response = await submit_login(client, inputs, AN, PASSWORD)

    assert response.status_code == 400
    assert "hết hạn" in response.text


async def test_cancel_returns_access_denied_with_state(client: httpx.AsyncClient) -> None:
    params = authorize_params(Pkce())
    inputs = await open_login_form(client, params)

    response = await client.post("/authorize", data={**inputs, "action": "cancel"})

    assert response.status_code == 303
    callback = callback_params(response)
    assert callback["error"] == "access_denied"
    assert callback["state"] == params["state"]
    assert callback["iss"] == ISSUER


async def test_login_hint_prefills_the_number(client: httpx.AsyncClient) -> None:
    inputs = await open_login_form(client, authorize_params(Pkce(), login_hint=AN))

    assert inputs["username"] == AN


@pytest.mark.parametrize("requested", [None, "urn:vneid:loa:level2", "urn:vneid:loa:level1"])
async def test_acr_reports_the_citizens_real_level_whatever_was_asked(
    client: httpx.AsyncClient, login: Login, requested: str | None
) -> None:
    # Châu has a level-1 account: asking for level 2 still logs her in, and the RP sees level 1.
    result = await login(CHAU, PASSWORD, acr_values=requested)
    body = (await redeem(client, result)).json()

    claims = verify_id_token(body["id_token"], (await client.get("/jwks")).json(), nonce=result.nonce)
    assert claims["acr"] == "urn:vneid:loa:level1"


async def test_level2_request_is_announced_on_the_page(client: httpx.AsyncClient) -> None:
    page = await client.get("/authorize", params=authorize_params(Pkce(), acr_values="urn:vneid:loa:level2"))

    assert "mức độ 2" in page.text


async def test_state_of_128_characters_comes_back_intact(login: Login) -> None:
    state = "s" * 64 + "-._~" * 16

    result = await login(state=state)

    assert result.callback["state"] == state


async def test_a_registered_redirect_uri_keeps_its_own_query(make_app: Callable[..., FastAPI]) -> None:
    redirect_uri = REDIRECT_URI + "?tenant=hanoi"
    async with asgi_client(make_app(redirect_uris=[redirect_uri])) as client:
        inputs = await open_login_form(client, authorize_params(Pkce(), redirect_uri=redirect_uri))
        response = await submit_login(client, inputs, AN, PASSWORD)

    assert response.status_code == 303
    assert response.headers["location"].startswith(redirect_uri + "&code=")


async def test_what_the_citizen_typed_is_escaped(client: httpx.AsyncClient) -> None:
    inputs = await open_login_form(client, authorize_params(Pkce()))

    page = await submit_login(client, inputs, '"><script>alert(1)</script>', PASSWORD)

    assert "<script>" not in page.text


def _without_qr(page: str) -> str:
    return re.sub(r'<section class="qr".*?</section>', "", page, flags=re.S)
