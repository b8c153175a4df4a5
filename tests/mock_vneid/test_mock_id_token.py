"""The ID token, checked as a careful relying party would, and the claims the README documents."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

import httpx
import jwt
import pytest
from fastapi import FastAPI

from tests.mock_vneid.vneid_kit import (
    AN,
    CHAU,
    CLIENT_ID,
    FIXED_NOW,
    ISSUER,
    Login,
    asgi_client,
    login_with,
    sign_in,
)

NOW = int(FIXED_NOW.timestamp())


async def test_header_names_the_published_key(client: httpx.AsyncClient, login: Login) -> None:
    body, _ = await sign_in(client, login)
    token = body["id_token"]

    header = jwt.get_unverified_header(token)
    [key] = (await client.get("/jwks")).json()["keys"]
    assert header == {"alg": "RS256", "kid": key["kid"], "typ": "JWT"}


async def test_claims_of_a_level2_citizen_with_an_old_cmnd(client: httpx.AsyncClient, login: Login) -> None:
    _, claims = await sign_in(client, login)

    assert claims["iss"] == ISSUER
    assert claims["aud"] == CLIENT_ID
    assert claims["iat"] == NOW
    assert claims["auth_time"] == NOW
    assert claims["exp"] == NOW + 300
    assert claims["acr"] == "urn:vneid:loa:level2"
    assert claims["amr"] == ["pwd"]
    assert claims["identification_number"] == "001085012345"
    assert claims["old_identification_number"] == "012345678"
    assert claims["name"] == "Nguyễn Văn An"
    assert claims["birthdate"] == "1985-03-12"
    assert claims["gender"] == "male"
    assert claims["phone_number"] == "+84912345678"
    assert claims["email"] == "an.nguyen@example.com"


async def test_claims_of_a_level1_citizen_without_cmnd_phone_or_email(
    client: httpx.AsyncClient, login: Login
) -> None:
    _, claims = await sign_in(client, login, CHAU)

    assert claims["acr"] == "urn:vneid:loa:level1"
    assert claims["gender"] == "female"
    assert "old_identification_number" not in claims
    assert "phone_number" not in claims
    assert "email" not in claims


async def test_at_hash_binds_the_access_token(client: httpx.AsyncClient, login: Login) -> None:
    body, claims = await sign_in(client, login)

    digest = hashlib.sha256(body["access_token"].encode()).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


async def test_sub_is_opaque_and_stable(client: httpx.AsyncClient, login: Login) -> None:
    _, first = await sign_in(client, login)
    _, second = await sign_in(client, login)
    _, other = await sign_in(client, login, CHAU)

    assert first["sub"] == second["sub"] != other["sub"]
    assert AN not in first["sub"]
    assert len(first["sub"]) >= 20


async def test_sub_survives_a_restart_and_follows_the_subject_secret(
    make_app: Callable[..., FastAPI],
) -> None:
    subjects = []
    for secret in ["one-secret", "one-secret", "another-secret"]:
        async with asgi_client(make_app(subject_secret=secret)) as client:
            _, claims = await sign_in(client, login_with(client))
            subjects.append(claims["sub"])

    assert subjects[0] == subjects[1] != subjects[2]


@pytest.mark.parametrize("number", [AN, CHAU])
async def test_every_issued_claim_is_announced_in_discovery(
    client: httpx.AsyncClient, login: Login, number: str
) -> None:
    body, _ = await sign_in(client, login, number)
    token = body["id_token"]
    payload = jwt.decode(token, options={"verify_signature": False})
    supported = set((await client.get("/.well-known/openid-configuration")).json()["claims_supported"])

    assert set(payload) <= supported
