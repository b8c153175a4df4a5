"""Helpers for the mock VNeID tests: a fixed clock, a browser-like login, a careful ID token check."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
from fastapi import FastAPI

from tests.support.html_forms import Form, form_with

ISSUER = "http://mock-vneid.test"
CLIENT_ID = "broker-dev"
CLIENT_SECRET = "broker-dev-secret"
REDIRECT_URI = "http://127.0.0.1:8000/login/vneid/callback"
PASSWORD = "Vneid@2024"
AN = "001085012345"  # Nguyễn Văn An, level 2, CMND 012345678
CHAU = "038303004567"  # Lê Minh Châu, level 1, no CMND
FIXED_NOW = datetime(2026, 11, 22, 3, 0, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime = FIXED_NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Pkce:
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    @property
    def challenge(self) -> str:
        digest = hashlib.sha256(self.verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class LoginResult:
    code: str
    state: str
    nonce: str
    pkce: Pkce
    callback: dict[str, str]


def authorize_params(pkce: Pkce, **overrides: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile vneid",
        "state": secrets.token_urlsafe(16),
        "nonce": secrets.token_urlsafe(16),
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
        **overrides,
    }
    return {k: v for k, v in params.items() if v is not None}


def login_form(page: httpx.Response) -> Form:
    return form_with(page.text, str(page.url), "username", "password")


def asgi_client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER)


def callback_params(response: httpx.Response) -> dict[str, str]:
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def open_login_form(client: httpx.AsyncClient, params: dict[str, str]) -> dict[str, str]:
    page = await client.get("/authorize", params=params)
    assert page.status_code == 200, page.text
    return login_form(page).fields


async def submit_login(
    client: httpx.AsyncClient, inputs: dict[str, str], username: str, password: str
) -> httpx.Response:
    return await client.post("/authorize", data={**inputs, "username": username, "password": password})


Login = Callable[..., Awaitable[LoginResult]]


def login_with(client: httpx.AsyncClient) -> Login:
    """Walks the browser through /authorize and the login form; returns the code at the callback."""

    async def run(username: str = AN, password: str = PASSWORD, **overrides: str | None) -> LoginResult:
        pkce = Pkce()
        params = authorize_params(pkce, **overrides)
        inputs = await open_login_form(client, params)
        response = await submit_login(client, inputs, username, password)
        assert response.status_code == 303, response.text
        callback = callback_params(response)
        return LoginResult(callback["code"], params["state"], params["nonce"], pkce, callback)

    return run


def token_form(result: LoginResult, **overrides: str | None) -> dict[str, str]:
    """The token request for `result`'s code; an override of None leaves the parameter out."""
    form: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "code": result.code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": result.pkce.verifier,
        **overrides,
    }
    return {k: v for k, v in form.items() if v is not None}


async def redeem(client: httpx.AsyncClient, result: LoginResult, **overrides: str | None) -> httpx.Response:
    return await client.post("/token", data=token_form(result, **overrides), auth=(CLIENT_ID, CLIENT_SECRET))


class Rejected(jwt.InvalidTokenError):
    """A check that PyJWT leaves to the caller (time against our fixed clock, nonce) failed."""


def verify_id_token(
    token: str, jwks: dict[str, Any], *, nonce: str, now: datetime = FIXED_NOW, leeway: int = 60
) -> dict[str, Any]:
    """What a careful relying party does: RS256 only, a key from the JWKS by kid, iss, aud, times, nonce."""
    kid = jwt.get_unverified_header(token).get("kid")
    keys = {key.key_id: key for key in jwt.PyJWKSet.from_dict(jwks).keys}
    if kid not in keys:
        raise Rejected(f"kid {kid!r} is not in the JWKS")
    claims: dict[str, Any] = jwt.decode(
        token,
        keys[kid],
        algorithms=["RS256"],
        audience=CLIENT_ID,
        issuer=ISSUER,
        # The clock is fixed in these tests, so the time checks are made below against it.
        options={
            "verify_exp": False,
            "verify_iat": False,
            "require": ["iss", "sub", "aud", "exp", "iat", "nonce"],
        },
    )
    instant = int(now.timestamp())
    if claims["exp"] <= instant - leeway:
        raise Rejected("expired")
    if claims["iat"] > instant + leeway:
        raise Rejected("issued in the future")
    if claims["nonce"] != nonce:
        raise Rejected("nonce mismatch")
    return claims


async def sign_in(
    client: httpx.AsyncClient, login: Login, number: str = AN
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Logs `number` in and redeems the code: the token response and the verified ID token claims."""
    result = await login(number, PASSWORD)
    response = await redeem(client, result)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    jwks = (await client.get("/jwks")).json()
    return body, verify_id_token(body["id_token"], jwks, nonce=result.nonce)
