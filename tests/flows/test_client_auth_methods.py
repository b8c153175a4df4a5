"""Client authentication (OIDC Core §9, RFC 7523 §2.2): one registered method per client, private_key_jwt
with registered keys (jwks or jwks_uri) and single-use assertions, public clients with PKCE only."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from broker.admin.clients import ClientRegistrationError
from tests.conftest import DEMO_PASSWORD, Stack
from tests.support.browser import Browser, RelyingParty
from tests.support.op import AN
from tests.support.relying_party_server import RelyingPartyServer

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class ClientKey:
    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.kid = uuid.uuid4().hex
        self.pem = self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def jwks(self) -> dict[str, Any]:
        jwk = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "ES256"}]}

    def assertion(self, client_id: str, audience: str, **overrides: Any) -> str:
        now = int(time.time())
        claims = {"iss": client_id, "sub": client_id, "aud": audience, "iat": now, "exp": now + 60}
        claims["jti"] = uuid.uuid4().hex
        claims.update(overrides)
        claims = {name: value for name, value in claims.items() if value is not None}
        return jwt.encode(claims, self.pem, algorithm="ES256", headers={"kid": self.kid})


@pytest.fixture
def rp_server() -> Iterator[RelyingPartyServer]:
    server = RelyingPartyServer().start()
    yield server
    server.stop()


async def _code(stack: Stack, rp: RelyingParty) -> tuple[str, str]:
    browser = Browser()
    try:
        attempt, back = await browser.log_in(stack.broker_url, rp, AN, DEMO_PASSWORD)
    finally:
        await browser.close()
    return back.query["code"], attempt.verifier


def _code_form(rp: RelyingParty, code: str, verifier: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": rp.redirect_uri,
        "code_verifier": verifier,
        **extra,
    }


async def test_private_key_jwt_with_registered_jwks_and_a_replayed_assertion(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    key = ClientKey()
    rp = await stack.register_client(token_endpoint_auth_method="private_key_jwt", jwks=key.jwks())
    assert rp.client_secret == ""
    token_url = f"{stack.broker_url}/token"
    assertion = key.assertion(rp.client_id, token_url)
    code, verifier = await _code(stack, rp)
    ok = await http.post(
        token_url,
        data=_code_form(rp, code, verifier, client_assertion_type=ASSERTION_TYPE, client_assertion=assertion),
    )
    assert ok.status_code == 200, ok.text

    code, verifier = await _code(stack, rp)
    replayed = await http.post(
        token_url,
        data=_code_form(rp, code, verifier, client_assertion_type=ASSERTION_TYPE, client_assertion=assertion),
    )
    assert (replayed.status_code, replayed.json()["error"]) == (401, "invalid_client")

    refused = {
        "wrong audience": key.assertion(rp.client_id, "https://elsewhere.example/token"),
        "no exp": key.assertion(rp.client_id, token_url, exp=None),
        "too long": key.assertion(rp.client_id, token_url, exp=int(time.time()) + 3600),
        "expired": key.assertion(rp.client_id, token_url, exp=int(time.time()) - 300),
        "no jti": key.assertion(rp.client_id, token_url, jti=None),
        "another key": ClientKey().assertion(rp.client_id, token_url),
        "HS256": jwt.encode(
            {
                "iss": rp.client_id,
                "sub": rp.client_id,
                "aud": token_url,
                "exp": int(time.time()) + 60,
                "jti": "h",
            },
            "secret-secret-secret-secret-secret",
            algorithm="HS256",
        ),
    }
    for name, bad in refused.items():
        response = await http.post(
            token_url,
            data=_code_form(rp, code, verifier, client_assertion_type=ASSERTION_TYPE, client_assertion=bad),
        )
        assert (response.status_code, response.json()["error"]) == (401, "invalid_client"), name
    # The issuer as audience is accepted too (OIDC Core §9), and the code was never burnt by the refusals.
    accepted = await http.post(
        token_url,
        data=_code_form(
            rp,
            code,
            verifier,
            client_assertion_type=ASSERTION_TYPE,
            client_assertion=key.assertion(rp.client_id, stack.broker_url),
        ),
    )
    assert accepted.status_code == 200, accepted.text

    # Introspecting its access token: the caller read with the token (issue 7), its assertion checked
    # against the same registered keys, each assertion once.
    introspection_url = f"{stack.broker_url}/introspect"
    once = key.assertion(rp.client_id, introspection_url)
    form = {"token": accepted.json()["access_token"], "client_assertion_type": ASSERTION_TYPE}
    active = await http.post(introspection_url, data={**form, "client_assertion": once})
    assert active.status_code == 200 and active.json()["active"] is True, active.text
    again = await http.post(introspection_url, data={**form, "client_assertion": once})
    assert (again.status_code, again.json()["error"]) == (401, "invalid_client")
    stranger = ClientKey().assertion(rp.client_id, introspection_url)
    refused_key = await http.post(introspection_url, data={**form, "client_assertion": stranger})
    assert (refused_key.status_code, refused_key.json()["error"]) == (401, "invalid_client")


async def test_private_key_jwt_with_keys_from_jwks_uri(
    stack: Stack, http: httpx.AsyncClient, rp_server: RelyingPartyServer
) -> None:
    key = ClientKey()
    rp_server.state.jwks = key.jwks()
    rp = await stack.register_client(
        token_endpoint_auth_method="private_key_jwt", jwks_uri=f"{rp_server.url}/jwks"
    )
    introspection_url = f"{stack.broker_url}/introspect"
    response = await http.post(
        introspection_url,
        data={
            "token": "anything",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": key.assertion(rp.client_id, introspection_url),
        },
    )
    assert response.status_code == 200 and response.json() == {"active": False}


async def test_each_client_has_exactly_one_method(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    code, verifier = await _code(stack, rp)
    token_url = f"{stack.broker_url}/token"
    as_post = await http.post(
        token_url, data=_code_form(rp, code, verifier, client_id=rp.client_id, client_secret=rp.client_secret)
    )
    assert (as_post.status_code, as_post.json()["error"]) == (401, "invalid_client")
    as_public = await http.post(token_url, data=_code_form(rp, code, verifier, client_id=rp.client_id))
    assert (as_public.status_code, as_public.json()["error"]) == (401, "invalid_client")
    both = await http.post(
        token_url,
        data=_code_form(rp, code, verifier, client_assertion_type=ASSERTION_TYPE, client_assertion="a.b.c"),
        auth=(rp.client_id, rp.client_secret),
    )
    assert (both.status_code, both.json()["error"]) == (400, "invalid_request")
    assert (
        await http.post(token_url, data=_code_form(rp, code, verifier), auth=(rp.client_id, rp.client_secret))
    ).status_code == 200


async def test_a_public_client_uses_pkce_and_no_secret(stack: Stack, http: httpx.AsyncClient) -> None:
    rp = await stack.register_client("Ứng dụng di động", token_endpoint_auth_method="none")
    code, verifier = await _code(stack, rp)
    token_url = f"{stack.broker_url}/token"
    wrong_verifier = await http.post(token_url, data=_code_form(rp, code, "x" * 43, client_id=rp.client_id))
    assert wrong_verifier.json()["error"] == "invalid_grant"
    code, verifier = await _code(stack, rp)
    with_secret = await http.post(
        token_url, data=_code_form(rp, code, verifier), auth=(rp.client_id, "guess")
    )
    assert (with_secret.status_code, with_secret.json()["error"]) == (401, "invalid_client")
    ok = await http.post(token_url, data=_code_form(rp, code, verifier, client_id=rp.client_id))
    assert ok.status_code == 200, ok.text
    assert "refresh_token" not in ok.json()


async def test_registration_refuses_inconsistent_metadata(stack: Stack) -> None:
    for metadata in (
        {"token_endpoint_auth_method": "private_key_jwt"},
        {"token_endpoint_auth_method": "client_secret_jwt"},
        {
            "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]},
            "token_endpoint_auth_method": "private_key_jwt",
        },
        {"backchannel_logout_uri": "http://rp.example/logout"},
        {"post_logout_redirect_uris": ["https://rp.example/bye#x"]},
        {"default_acr_values": ["urn:other:loa"]},
        {"grant_types": ["authorization_code", "password"]},
    ):
        with pytest.raises(ClientRegistrationError):
            await stack.register_client(**metadata)
