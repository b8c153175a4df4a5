"""The userinfo endpoint refuses everything but a live access token it issued (OIDC Core §5.3, RFC 6750 §3),
with the challenge an RP's client library understands."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from broker.clock import FixedClock
from tests.conftest import DEMO_PASSWORD, Stack, StackFactory
from tests.support.browser import Browser, RelyingParty, redeem


@pytest.fixture
async def rp(stack: Stack) -> RelyingParty:
    """A client with RFC 9068 access tokens: the forgeries below are JWTs (opaque ones: test_opaque_access_tokens)."""
    return await stack.register_client(access_token_format="jwt")


AN = "001085012345"


async def tokens_for(stack: Stack, rp: RelyingParty, http: httpx.AsyncClient) -> dict[str, str]:
    person = Browser()
    try:
        attempt, back = await person.log_in(stack.broker_url, rp, AN, DEMO_PASSWORD)
    finally:
        await person.close()
    response = await redeem(http, stack.broker_url, rp, back.query["code"], attempt.verifier)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def userinfo(http: httpx.AsyncClient, stack: Stack, authorization: str | None) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return await http.get(f"{stack.broker_url}/userinfo", headers=headers)


def assert_invalid_token(response: httpx.Response) -> None:
    context = (
        response.request.headers.get("authorization", "")[:80],
        response.status_code,
        response.text[:300],
    )
    assert response.status_code == 401, context
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer "), context
    assert 'realm="broker"' in challenge, context
    assert 'error="invalid_token"' in challenge, (challenge, context)
    assert response.json()["error"] == "invalid_token", context
    assert "sub" not in response.json(), context
    assert response.headers["cache-control"] == "no-store", context


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, str], claims: dict[str, object]) -> str:
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}."


async def test_a_request_without_a_bearer_token_gets_a_bare_challenge(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    for authorization in (None, "Basic dXNlcjpwYXNz"):
        response = await userinfo(http, stack, authorization)
        assert response.status_code == 401, (authorization, response.text)
        # RFC 6750 §3.1: no credentials, so no error code; just how to authenticate.
        assert response.headers["www-authenticate"] == 'Bearer realm="broker"'
        assert "error" not in response.json()
        assert response.headers["cache-control"] == "no-store"
    posted = await http.post(f"{stack.broker_url}/userinfo")
    assert posted.status_code == 401
    assert posted.headers["www-authenticate"] == 'Bearer realm="broker"'


async def test_garbage_and_forged_tokens_are_refused_as_invalid_token(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    tokens = await tokens_for(stack, rp, http)
    real = tokens["access_token"]
    assert (await userinfo(http, stack, f"Bearer {real}")).status_code == 200  # the control
    header = jwt.get_unverified_header(real)
    claims = jwt.decode(real, options={"verify_signature": False})

    stranger_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    stranger_pem = stranger_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    head, payload, signature = real.split(".")
    forged_claims = {**claims, "sub": "someone-else"}
    garbage = {
        "a word": "garbage",
        "three dots": "a.b.c",
        "empty segments": "..",
        "not base64": "!!!.???.***",
        "alg none": unsigned({"alg": "none", "typ": "at+jwt", "kid": header["kid"]}, claims),
        "HS256 with the public kid": jwt.encode(
            claims, "secret-secret-secret-secret-secret!", algorithm="HS256", headers={"kid": header["kid"]}
        ),
        "signed by another key under our kid": jwt.encode(
            claims, stranger_pem, algorithm="RS256", headers={"kid": header["kid"], "typ": "at+jwt"}
        ),
        "our signature on changed claims": f"{head}.{b64url(json.dumps(forged_claims).encode())}.{signature}",
        "signature cut off": f"{head}.{payload}.",
        "unknown kid": jwt.encode(
            claims, stranger_pem, algorithm="RS256", headers={"kid": "not-a-broker-key"}
        ),
        "a JWKS key's kid with a jku": jwt.encode(
            claims,
            stranger_pem,
            algorithm="RS256",
            headers={"kid": header["kid"], "jku": "https://evil.example/jwks"},
        ),
    }
    for name, token in garbage.items():
        response = await userinfo(http, stack, f"Bearer {token}")
        assert response.status_code == 401, (name, response.text)
        assert_invalid_token(response)

    # A malformed header is a bad request, not a server error.
    malformed = await userinfo(http, stack, f"Bearer {real} extra")
    assert malformed.status_code == 400, malformed.text
    assert 'error="invalid_request"' in malformed.headers["www-authenticate"]


async def test_the_id_token_is_not_an_access_token(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    tokens = await tokens_for(stack, rp, http)
    response = await userinfo(http, stack, f"Bearer {tokens['id_token']}")
    assert_invalid_token(response)
    assert (await userinfo(http, stack, f"Bearer {tokens['access_token']}")).status_code == 200


async def test_an_access_token_past_its_expiry_is_refused(
    make_stack: StackFactory, http: httpx.AsyncClient
) -> None:
    clock = FixedClock(datetime.now(UTC))
    stack = make_stack(clock=clock)
    rp = await stack.register_client(access_token_format="jwt")
    tokens = await tokens_for(stack, rp, http)
    lifetime = int(tokens["expires_in"])

    clock.advance(seconds=lifetime - 1)
    assert (await userinfo(http, stack, f"Bearer {tokens['access_token']}")).status_code == 200
    clock.advance(seconds=1)
    assert_invalid_token(await userinfo(http, stack, f"Bearer {tokens['access_token']}"))
    clock.advance(days=1)
    assert_invalid_token(await userinfo(http, stack, f"Bearer {tokens['access_token']}"))


async def test_the_token_is_recognised_by_its_stored_hash_and_one_issued_before_by_its_signature(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    """Issue 7: userinfo and introspection compare the token's SHA-256 with the one stored at issuance
    (migration 0015) instead of checking the RSA signature again; a token issued before the migration
    has no stored hash and is checked by its signature. Either way a forged token is refused."""
    tokens = await tokens_for(stack, rp, http)
    real = tokens["access_token"]
    claims = jwt.decode(real, options={"verify_signature": False})
    head, _, signature = real.split(".")
    # Our signature on changed claims, under the real jti: its row exists, its hash is not the stored one.
    forged = f"{head}.{b64url(json.dumps({**claims, 'scope': 'openid'}).encode())}.{signature}"
    engine = create_async_engine(stack.settings.database_url)
    try:
        async with engine.connect() as connection:
            stored = (
                await connection.execute(
                    text("SELECT token_hash FROM access_tokens WHERE jti = :jti"), {"jti": claims["jti"]}
                )
            ).scalar_one()
        assert stored == hashlib.sha256(real.encode()).hexdigest()
        assert (await userinfo(http, stack, f"Bearer {real}")).status_code == 200
        assert_invalid_token(await userinfo(http, stack, f"Bearer {forged}"))

        async with engine.begin() as connection:  # as a token issued before migration 0015
            await connection.execute(text("UPDATE access_tokens SET token_hash = NULL"))
        answer = await userinfo(http, stack, f"Bearer {real}")
        assert answer.status_code == 200 and answer.json()["sub"]
        assert_invalid_token(await userinfo(http, stack, f"Bearer {forged}"))
    finally:
        await engine.dispose()
