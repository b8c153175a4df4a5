"""Discovery metadata is complete and truthful: every advertised endpoint answers, every advertised
method is one the broker accepts (OIDC Discovery 1.0 §3, RFC 8414 §2)."""

from __future__ import annotations

import httpx

from tests.conftest import Stack


async def test_discovery_advertises_what_works(stack: Stack, http: httpx.AsyncClient) -> None:
    response = await http.get(f"{stack.broker_url}/.well-known/openid-configuration")
    metadata = response.json()
    issuer = stack.broker_url
    assert metadata["end_session_endpoint"] == f"{issuer}/logout"
    assert metadata["introspection_endpoint"] == f"{issuer}/introspect"
    assert metadata["revocation_endpoint"] == f"{issuer}/revoke"
    assert metadata["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert set(metadata["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    }
    assert "none" not in metadata["introspection_endpoint_auth_methods_supported"]
    assert "HS256" not in metadata["token_endpoint_auth_signing_alg_values_supported"]
    assert "RS256" in metadata["token_endpoint_auth_signing_alg_values_supported"]
    assert metadata["backchannel_logout_supported"] is True
    assert metadata["backchannel_logout_session_supported"] is True
    assert metadata["frontchannel_logout_supported"] is False
    assert metadata["subject_types_supported"] == ["public", "pairwise"]
    assert metadata["acr_values_supported"] == ["urn:vneid:loa:level1", "urn:vneid:loa:level2"]
    assert {"sid", "acr", "auth_time"} <= set(metadata["claims_supported"])
    assert "offline_access" in metadata["scopes_supported"]
    assert "check_session_iframe" not in metadata and "frontchannel_logout_uri" not in metadata

    for endpoint in ("token_endpoint", "introspection_endpoint", "revocation_endpoint"):
        answer = await http.post(metadata[endpoint], data={})
        assert answer.status_code in (400, 401), (endpoint, answer.status_code)
    assert (await http.get(metadata["end_session_endpoint"])).status_code == 200
    assert (await http.get(metadata["jwks_uri"])).status_code == 200


async def test_jwks_and_discovery_answered_before_the_routing_carry_every_response_header(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    # broker/api/documents.py answers these two outside FastAPI's routing: what every response carries
    # (request id, security headers, its latency series under the route's template) must still be there.
    for path, cache in (
        ("/jwks", "public, max-age="),
        ("/.well-known/openid-configuration", "public, max-age=3600"),
    ):
        given = await http.get(f"{stack.broker_url}{path}", headers={"X-Request-ID": "rp-req-7"})
        made = await http.get(f"{stack.broker_url}{path}")
        for response in (given, made):
            assert response.status_code == 200 and response.headers["content-type"] == "application/json"
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["referrer-policy"] == "no-referrer"
            assert response.headers["cache-control"].startswith(cache)
        assert given.headers["x-request-id"] == "rp-req-7"
        assert len(made.headers["x-request-id"]) == 22 and made.headers["x-request-id"] != "rp-req-7"
        assert given.content == made.content
    keys = (await http.get(f"{stack.broker_url}/jwks")).json()["keys"]
    assert keys and all("kid" in key and "d" not in key for key in keys)
    # Another method still reaches the routes, which refuse it as before.
    assert (await http.post(f"{stack.broker_url}/jwks")).status_code == 405
    metrics = (await http.get(f"{stack.broker_url}/metrics")).text
    assert 'route="/jwks"' in metrics and 'route="/.well-known/openid-configuration"' in metrics
