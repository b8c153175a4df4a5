"""Discovery metadata is complete and truthful: every advertised endpoint answers, every advertised
method is one the broker accepts (OIDC Discovery 1.0 §3, RFC 8414 §2)."""

from __future__ import annotations

import httpx

from tests.conftest import Stack
from tests.support.browser import Browser
from tests.support.op import log_in_and_redeem


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


async def test_token_userinfo_and_introspection_answered_before_the_routing_carry_every_response_header(
    stack: Stack, browser: Browser, http: httpx.AsyncClient
) -> None:
    # broker/api/lean.py answers these outside FastAPI's routing: request id, security headers, the
    # no-store answer, the challenge of a refused token and the latency series under the route's template
    # must all still be there, for answers and refusals alike.
    rp = await stack.register_client()
    tokens = await log_in_and_redeem(stack, http, browser, rp)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}", "X-Request-ID": "rp-req-8"}
    answers = [
        await http.get(f"{stack.broker_url}/userinfo", headers=bearer),
        await http.post(f"{stack.broker_url}/userinfo", headers=bearer),
        await http.post(
            f"{stack.broker_url}/introspect",
            data={"token": tokens["access_token"]},
            auth=(rp.client_id, rp.client_secret),
            headers={"X-Request-ID": "rp-req-8"},
        ),
        await http.post(
            f"{stack.broker_url}/token",
            data={"grant_type": "authorization_code", "code": "unknown", "redirect_uri": rp.redirect_uri},
            auth=(rp.client_id, rp.client_secret),
            headers={"X-Request-ID": "rp-req-8"},
        ),
    ]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 400]
    assert answers[0].json()["sub"] and answers[2].json()["active"] is True
    assert answers[3].json()["error"] == "invalid_request"  # no code_verifier
    refused = await http.get(f"{stack.broker_url}/userinfo", headers={"Authorization": "Bearer x.y.z"})
    unknown_client = await http.post(
        f"{stack.broker_url}/introspect", data={"token": "t"}, auth=("nobody", "secret")
    )
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith(
        'Bearer realm="broker"'
    )
    assert (
        unknown_client.status_code == 401
        and unknown_client.headers["www-authenticate"] == 'Basic realm="broker"'
    )
    for response in [*answers, refused, unknown_client]:
        assert response.headers["content-type"] == "application/json"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert len(response.headers["x-request-id"]) in (8, 22)
    assert {answer.headers["x-request-id"] for answer in answers} == {"rp-req-8"}
    # A method these paths do not take still reaches the routes, which refuse it as before.
    assert (await http.get(f"{stack.broker_url}/token")).status_code == 405
    metrics = (await http.get(f"{stack.broker_url}/metrics")).text
    for route in ("/userinfo", "/introspect", "/token"):
        assert f'route="{route}"' in metrics
