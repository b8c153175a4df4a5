"""The certified pyoidc RP library (`oic`), configured only from discovery, through SSO, refresh and
logout: its own request builders and its own validation of ID tokens and logout tokens."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from oic import rndstr
from oic.oic import Client
from oic.oic.message import (
    AccessTokenResponse,
    AuthorizationResponse,
    BackChannelLogoutRequest,
    RegistrationResponse,
)
from oic.utils.authn.client import CLIENT_AUTHN_METHOD

from tests.conftest import DEMO_PASSWORD, Stack
from tests.support.browser import Browser, RelyingParty
from tests.support.op import AN, wait_for
from tests.support.relying_party_server import RelyingPartyServer


@pytest.fixture
def receiver() -> Iterator[RelyingPartyServer]:
    server = RelyingPartyServer().start()
    yield server
    server.stop()


def _client(stack: Stack, rp: RelyingParty, post_logout: str) -> Client:
    client = Client(client_authn_method=CLIENT_AUTHN_METHOD)
    client.provider_config(stack.broker_url)
    client.store_registration_info(
        RegistrationResponse(
            client_id=rp.client_id,
            client_secret=rp.client_secret,
            redirect_uris=[rp.redirect_uri],
            post_logout_redirect_uris=[post_logout],
            token_endpoint_auth_method="client_secret_basic",
        )
    )
    client.redirect_uris = [rp.redirect_uri]
    return client


def _authorization_url(client: Client, rp: RelyingParty, state: str, **extra: str) -> str:
    pkce_args, verifier = client.add_code_challenge()
    client.verifiers = {**getattr(client, "verifiers", {}), state: verifier}
    request = client.construct_AuthorizationRequest(
        request_args={
            "client_id": rp.client_id,
            "response_type": "code",
            "scope": ["openid", "profile", "offline_access"],
            "state": state,
            "nonce": rndstr(32),
            "redirect_uri": rp.redirect_uri,
            **pkce_args,
            **extra,
        }
    )
    return str(request.request(client.authorization_endpoint))


def _redeem(client: Client, query: str, state: str) -> Any:
    response = client.parse_response(AuthorizationResponse, info=query, sformat="urlencoded")
    assert response["state"] == state
    return client.do_access_token_request(
        state=state,
        request_args={"code": response["code"], "code_verifier": client.verifiers[state]},
        authn_method="client_secret_basic",
    )


async def test_pyoidc_sso_refresh_and_logout(
    stack: Stack, browser: Browser, receiver: RelyingPartyServer
) -> None:
    post_logout = f"{receiver.url}/bye"
    rp_a = await stack.register_client(
        "RP A",
        grant_types=["authorization_code", "refresh_token"],
        backchannel_logout_uri=receiver.backchannel_logout_uri,
        post_logout_redirect_uris=[post_logout],
    )
    rp_b = await stack.register_client("RP B", post_logout_redirect_uris=[post_logout])
    client_a = await asyncio.to_thread(_client, stack, rp_a, post_logout)
    client_b = await asyncio.to_thread(_client, stack, rp_b, post_logout)
    assert client_a.provider_info["backchannel_logout_supported"] is True

    state_a = rndstr(32)
    login_page = await browser.http.get(_authorization_url(client_a, rp_a, state_a))
    vneid_page = await browser.open_vneid(login_page)
    back = await browser.sign_in_at_vneid(vneid_page, AN, DEMO_PASSWORD)
    at_rp = await browser.http.get(back.headers["location"])
    tokens_a = await asyncio.to_thread(_redeem, client_a, at_rp.headers["location"].split("?", 1)[1], state_a)
    assert isinstance(tokens_a, AccessTokenResponse), tokens_a
    assert "refresh_token" in tokens_a

    refreshed = await asyncio.to_thread(
        client_a.do_access_token_refresh, state=state_a, authn_method="client_secret_basic"
    )
    assert isinstance(refreshed, AccessTokenResponse), refreshed
    assert refreshed["id_token"]["sub"] == tokens_a["id_token"]["sub"]
    assert refreshed["refresh_token"] != tokens_a["refresh_token"]

    # SSO at B, silently.
    state_b = rndstr(32)
    silent = await browser.http.get(_authorization_url(client_b, rp_b, state_b, prompt="none"))
    assert silent.status_code == 303 and silent.headers["location"].startswith(rp_b.redirect_uri)
    tokens_b = await asyncio.to_thread(
        _redeem, client_b, silent.headers["location"].split("?", 1)[1], state_b
    )
    assert tokens_b["id_token"]["sub"] == tokens_a["id_token"]["sub"]
    assert tokens_b["id_token"]["sid"] == tokens_a["id_token"]["sid"]

    # B logs the citizen out (its library builds the request); A hears of it on the back channel.
    logout = client_b.construct_EndSessionRequest(
        state=state_b, request_args={"post_logout_redirect_uri": post_logout, "state": "logout-state"}
    )
    response = await browser.http.get(logout.request(client_b.end_session_endpoint))
    assert response.status_code == 303 and response.headers["location"] == f"{post_logout}?state=logout-state"
    await wait_for(lambda: receiver.state.logout_tokens)
    request = BackChannelLogoutRequest(logout_token=receiver.state.logout_tokens[0])
    assert request.verify(aud=rp_a.client_id, iss=stack.broker_url, keyjar=client_a.keyjar)
    assert request["logout_token"]["sid"] == tokens_a["id_token"]["sid"]
