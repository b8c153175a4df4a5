"""Discovery and JWKS: what a relying party reads before the first login."""

from __future__ import annotations

import httpx

from mock_vneid.claims import ID_TOKEN_CLAIMS, IDENTITY_CLAIMS
from tests.mock_vneid.vneid_kit import ISSUER


async def test_discovery_document_describes_a_strict_code_flow_op(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/openid-configuration")

    assert response.status_code == 200
    meta = response.json()
    assert meta["issuer"] == ISSUER
    assert meta["authorization_endpoint"] == f"{ISSUER}/authorize"
    assert meta["token_endpoint"] == f"{ISSUER}/token"
    assert meta["userinfo_endpoint"] == f"{ISSUER}/userinfo"
    assert meta["jwks_uri"] == f"{ISSUER}/jwks"
    assert meta["response_types_supported"] == ["code"]
    assert meta["grant_types_supported"] == ["authorization_code"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["token_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post"]
    assert meta["id_token_signing_alg_values_supported"] == ["RS256"]
    assert meta["subject_types_supported"] == ["public"]
    assert meta["scopes_supported"] == ["openid", "profile", "vneid"]
    assert meta["acr_values_supported"] == ["urn:vneid:loa:level1", "urn:vneid:loa:level2"]
    assert set(meta["claims_supported"]) == set(ID_TOKEN_CLAIMS) | set(IDENTITY_CLAIMS)
    assert meta["authorization_response_iss_parameter_supported"] is True


async def test_jwks_publishes_one_rs256_signing_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/jwks")

    assert response.status_code == 200
    [key] = response.json()["keys"]
    assert key["kty"] == "RSA"
    assert key["alg"] == "RS256"
    assert key["use"] == "sig"
    assert key["kid"]
    assert {"n", "e"} <= key.keys()
    assert "d" not in key  # never the private part
