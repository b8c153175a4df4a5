"""QR login in mock VNeID (issue 11): the login page's code, the phone's answer, the page continuing."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx

from mock_vneid.qr_requests import qr_svg
from tests.mock_vneid.vneid_kit import (
    AN,
    CHAU,
    ISSUER,
    FakeClock,
    LoginResult,
    Pkce,
    authorize_params,
    callback_params,
    redeem,
    verify_id_token,
)


class QrPage:
    def __init__(self, page: httpx.Response) -> None:
        assert page.status_code == 200, page.text
        self.html = page.text
        self.poll_id = _one(r'name="poll_id" value="([^"]+)"', page.text)
        phone_url = _one(r'href="([^"]*/phone\?scan=[^"]+)"', page.text).replace("&amp;", "&")
        self.scan = parse_qs(urlsplit(phone_url).query)["scan"][0]
        self.request_id = _one(r'name="request_id" value="([^"]+)"', page.text)


def _one(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    assert found, pattern
    return found.group(1)


async def _open(client: httpx.AsyncClient) -> tuple[QrPage, dict[str, str], Pkce]:
    pkce = Pkce()
    params = authorize_params(pkce)
    return QrPage(await client.get("/authorize", params=params)), params, pkce


async def _status(client: httpx.AsyncClient, page: QrPage) -> str:
    response = await client.get(f"/qr/status/{page.poll_id}")
    assert response.headers["cache-control"] == "no-store"
    return str(response.json()["status"])


async def test_login_page_shows_an_svg_qr_code_and_the_services_name(client: httpx.AsyncClient) -> None:
    page, _, _ = await _open(client)
    assert f'<img class="qr-code" src="/qr/image/{page.poll_id}"' in page.html
    image = await client.get(f"/qr/image/{page.poll_id}")
    assert image.status_code == 200 and image.headers["content-type"] == "image/svg+xml"
    assert image.headers["cache-control"] == "no-store" and "<svg" in image.text
    # The code carries the phone's link for this request's scan token, nothing else.
    assert image.text == qr_svg(f"{ISSUER}/phone?scan={page.scan}")
    assert (await client.get("/qr/image/no-such-request")).status_code == 404
    assert "Cổng xác thực tập trung" in page.html  # the display name, not the client id
    assert "<strong>broker-dev</strong>" not in page.html
    assert 'name="username"' in page.html and 'name="password"' in page.html  # number + password stays


async def test_phone_approval_continues_the_login_with_the_chosen_citizen(client: httpx.AsyncClient) -> None:
    page, params, pkce = await _open(client)
    assert await _status(client, page) == "pending"
    phone = await client.get("/phone", params={"scan": page.scan})
    assert "Cổng xác thực tập trung" in phone.text and "Lê Minh Châu" in phone.text
    answer = await client.post("/phone", data={"scan": page.scan, "citizen": CHAU, "decision": "approve"})
    assert answer.status_code == 200 and "Đã xác nhận" in answer.text
    assert await _status(client, page) == "approved"
    assert (await client.get(f"/qr/image/{page.poll_id}")).status_code == 404  # answered: no code to show

    finished = await client.post("/qr/finish", data={"poll_id": page.poll_id})
    assert finished.status_code == 303
    callback = callback_params(finished)
    assert callback["state"] == params["state"]
    result = LoginResult(callback["code"], params["state"], params["nonce"], pkce, callback)
    tokens = await redeem(client, result)
    assert tokens.status_code == 200, tokens.text
    claims = verify_id_token(
        tokens.json()["id_token"], (await client.get("/jwks")).json(), nonce=params["nonce"]
    )
    userinfo = await client.get(
        "/userinfo", headers={"Authorization": f"Bearer {tokens.json()['access_token']}"}
    )
    assert claims["sub"] == userinfo.json()["sub"]
    assert "038303004567" in userinfo.text

    # One approval, one code: a second finish and a late phone answer are refused.
    again = await client.post("/qr/finish", data={"poll_id": page.poll_id})
    assert again.status_code == 400
    late = await client.post("/phone", data={"scan": page.scan, "citizen": AN, "decision": "approve"})
    assert late.status_code == 400


async def test_a_rejection_is_seen_by_the_page_and_gives_no_code(client: httpx.AsyncClient) -> None:
    page, _, _ = await _open(client)
    await client.post("/phone", data={"scan": page.scan, "citizen": "", "decision": "reject"})
    assert await _status(client, page) == "rejected"
    assert (await client.post("/qr/finish", data={"poll_id": page.poll_id})).status_code == 400


async def test_the_code_expires_after_two_minutes_and_a_new_one_can_be_had(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    page, _, _ = await _open(client)
    clock.advance(119)
    assert await _status(client, page) == "pending"
    clock.advance(2)
    assert await _status(client, page) == "expired"
    refused = await client.post("/phone", data={"scan": page.scan, "citizen": AN, "decision": "approve"})
    assert refused.status_code == 400 and "hết hạn" in refused.text
    assert (await client.post("/qr/finish", data={"poll_id": page.poll_id})).status_code == 400

    fresh = QrPage(await client.get("/qr/login", params={"request_id": page.request_id}))
    assert fresh.poll_id != page.poll_id
    assert await _status(client, fresh) == "pending"
    await client.post("/phone", data={"scan": fresh.scan, "citizen": AN, "decision": "approve"})
    assert (await client.post("/qr/finish", data={"poll_id": fresh.poll_id})).status_code == 303


async def test_the_phones_token_cannot_finish_and_the_pages_id_cannot_approve(
    client: httpx.AsyncClient,
) -> None:
    page, _, _ = await _open(client)
    assert (
        await client.post("/phone", data={"scan": page.poll_id, "citizen": AN, "decision": "approve"})
    ).status_code == 400
    await client.post("/phone", data={"scan": page.scan, "citizen": AN, "decision": "approve"})
    assert (await client.post("/qr/finish", data={"poll_id": page.scan})).status_code == 400
    assert await _status(client, page) == "approved"
