"""Test controls: each fault is one the broker must refuse, and they are absent unless enabled."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from jwt.algorithms import RSAAlgorithm

from tests.mock_vneid.vneid_kit import (
    FIXED_NOW,
    Login,
    LoginResult,
    Rejected,
    asgi_client,
    redeem,
    verify_id_token,
)

NOW = int(FIXED_NOW.timestamp())


async def arm(client: httpx.AsyncClient, **plan: object) -> dict[str, object]:
    response = await client.post("/_test/faults", json=plan)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def id_token_after_login(client: httpx.AsyncClient, login: Login) -> tuple[str, LoginResult]:
    result = await login()
    response = await redeem(client, result)
    assert response.status_code == 200, response.text
    return response.json()["id_token"], result


async def jwks(client: httpx.AsyncClient) -> dict[str, Any]:
    keys: dict[str, Any] = (await client.get("/jwks")).json()
    return keys


@pytest.mark.parametrize(
    ("fault", "refusal"),
    [
        ("bad_signature", jwt.InvalidSignatureError),
        ("wrong_aud", jwt.InvalidAudienceError),
        ("wrong_iss", jwt.InvalidIssuerError),
        ("missing_nonce", jwt.MissingRequiredClaimError),
        ("alg_none", jwt.InvalidAlgorithmError),
        ("hs256_with_public_key", jwt.InvalidAlgorithmError),
    ],
)
async def test_id_token_faults_that_pyjwt_refuses(
    client: httpx.AsyncClient, login: Login, fault: str, refusal: type[Exception]
) -> None:
    await arm(client, id_token=fault)
    token, result = await id_token_after_login(client, login)

    with pytest.raises(refusal):
        verify_id_token(token, await jwks(client), nonce=result.nonce)


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("wrong_nonce", "nonce mismatch"),
        ("expired", "expired"),
        ("future_iat", "issued in the future"),
        ("unknown_kid", "is not in the JWKS"),
    ],
)
async def test_id_token_faults_the_relying_party_must_catch(
    client: httpx.AsyncClient, login: Login, fault: str, reason: str
) -> None:
    await arm(client, id_token=fault)
    token, result = await id_token_after_login(client, login)

    with pytest.raises(Rejected, match=reason):
        verify_id_token(token, await jwks(client), nonce=result.nonce)


async def test_bad_signature_only_touches_the_signature(client: httpx.AsyncClient, login: Login) -> None:
    await arm(client, id_token="bad_signature")
    token, result = await id_token_after_login(client, login)

    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["nonce"] == result.nonce
    assert jwt.get_unverified_header(token)["alg"] == "RS256"


async def test_alg_none_token_is_unsigned(client: httpx.AsyncClient, login: Login) -> None:
    await arm(client, id_token="alg_none")
    token, _ = await id_token_after_login(client, login)

    assert jwt.get_unverified_header(token)["alg"] == "none"
    assert token.endswith(".")


async def test_hs256_token_is_keyed_with_the_published_public_key(
    client: httpx.AsyncClient, login: Login
) -> None:
    await arm(client, id_token="hs256_with_public_key")
    token, _ = await id_token_after_login(client, login)

    [jwk] = (await jwks(client))["keys"]
    public_key = RSAAlgorithm.from_jwk(jwk)
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_pem = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input, _, signature = token.rpartition(".")
    expected = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert base64.urlsafe_b64encode(expected).rstrip(b"=").decode() == signature


async def test_expired_and_future_tokens_are_far_outside_any_leeway(
    client: httpx.AsyncClient, login: Login
) -> None:
    await arm(client, id_token="expired")
    expired, _ = await id_token_after_login(client, login)
    await arm(client, id_token="future_iat")
    future, _ = await id_token_after_login(client, login)

    assert jwt.decode(expired, options={"verify_signature": False})["exp"] <= NOW - 3600
    assert jwt.decode(future, options={"verify_signature": False})["iat"] >= NOW + 3600


async def test_clock_offset_shifts_the_token_times(client: httpx.AsyncClient, login: Login) -> None:
    await arm(client, clock_offset_seconds=-900)
    token, result = await id_token_after_login(client, login)

    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["iat"], claims["auth_time"], claims["exp"]) == (NOW - 900, NOW - 900, NOW - 600)
    with pytest.raises(Rejected, match="expired"):
        verify_id_token(token, await jwks(client), nonce=result.nonce)


async def test_a_fault_lasts_times_token_responses(client: httpx.AsyncClient, login: Login) -> None:
    await arm(client, id_token="wrong_aud", times=2)

    audiences = []
    for _ in range(3):
        token, _ = await id_token_after_login(client, login)
        audiences.append(jwt.decode(token, options={"verify_signature": False})["aud"])

    assert audiences == ["not-broker-dev", "not-broker-dev", "broker-dev"]


async def test_faults_can_be_read_and_cleared(client: httpx.AsyncClient, login: Login) -> None:
    await arm(client, id_token="wrong_iss", times=3)
    assert (await client.get("/_test/faults")).json()["remaining"] == 3

    assert (await client.delete("/_test/faults")).status_code == 204

    assert (await client.get("/_test/faults")).json() == {"plan": None, "remaining": 0}
    token, result = await id_token_after_login(client, login)
    verify_id_token(token, await jwks(client), nonce=result.nonce)


@pytest.mark.parametrize(
    "plan", [{"id_token": "nonsense"}, {"token_endpoint": "explode"}, {"times": 0}, {"surprise": True}]
)
async def test_unknown_faults_are_refused(client: httpx.AsyncClient, plan: dict[str, object]) -> None:
    assert (await client.post("/_test/faults", json=plan)).status_code == 422


async def test_http_500_leaves_the_code_usable(client: httpx.AsyncClient, login: Login) -> None:
    result = await login()
    await arm(client, token_endpoint="http_500")

    failed = await redeem(client, result)
    retried = await redeem(client, result)

    assert failed.status_code == 500
    assert retried.status_code == 200


async def test_html_200_answers_a_maintenance_page(client: httpx.AsyncClient, login: Login) -> None:
    await arm(client, token_endpoint="html_200")

    response = await redeem(client, await login())

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    with pytest.raises(ValueError):
        response.json()


async def test_slow_delays_a_normal_answer(client: httpx.AsyncClient, login: Login) -> None:
    result = await login()
    await arm(client, token_endpoint="slow", slow_seconds=0.3)

    started = time.monotonic()
    response = await redeem(client, result)

    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200


async def test_rotation_keeps_the_old_key_published(client: httpx.AsyncClient, login: Login) -> None:
    [old] = (await jwks(client))["keys"]

    rotated = (await client.post("/_test/rotate-keys")).json()

    assert rotated["published_kids"] == [rotated["active_kid"], old["kid"]]
    assert [k["kid"] for k in (await jwks(client))["keys"]] == rotated["published_kids"]
    token, result = await id_token_after_login(client, login)
    assert jwt.get_unverified_header(token)["kid"] == rotated["active_kid"]
    verify_id_token(token, await jwks(client), nonce=result.nonce)


async def test_rotation_can_drop_the_old_key(client: httpx.AsyncClient, login: Login) -> None:
    token_before, result = await id_token_after_login(client, login)

    rotated = (await client.post("/_test/rotate-keys", json={"drop_old": True})).json()

    assert rotated["published_kids"] == [rotated["active_kid"]]
    with pytest.raises(Rejected, match="is not in the JWKS"):
        verify_id_token(token_before, await jwks(client), nonce=result.nonce)


async def test_rotation_stays_in_memory(make_app: Callable[..., FastAPI]) -> None:
    async with asgi_client(make_app()) as client:
        before = await jwks(client)
        await client.post("/_test/rotate-keys", json={"drop_old": True})
    async with asgi_client(make_app()) as restarted:
        assert await jwks(restarted) == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/_test/faults"),
        ("GET", "/_test/faults"),
        ("DELETE", "/_test/faults"),
        ("POST", "/_test/rotate-keys"),
    ],
)
async def test_controls_are_absent_unless_enabled(
    make_app: Callable[..., FastAPI], method: str, path: str
) -> None:
    async with asgi_client(make_app(test_controls=False)) as client:
        response = await client.request(method, path, json={"id_token": "alg_none"})

    assert response.status_code == 404
