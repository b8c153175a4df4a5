"""A certified third-party OIDC relying-party library (pyoidc, `oic`, OpenID Foundation certified RP),
configured only from the broker's discovery document, completes code + PKCE and verifies the ID token.
Not authlib, which the broker itself uses."""

from __future__ import annotations

import asyncio
from typing import Any

from oic import rndstr
from oic.oic import Client
from oic.oic.message import AccessTokenResponse, AuthorizationResponse, RegistrationResponse
from oic.utils.authn.client import CLIENT_AUTHN_METHOD

from tests.conftest import DEMO_PASSWORD, Stack
from tests.support.browser import Browser, RelyingParty

AN = "001085012345"


def _configured_client(stack: Stack, rp: RelyingParty) -> Client:
    client = Client(client_authn_method=CLIENT_AUTHN_METHOD)
    client.provider_config(stack.broker_url)  # discovery + JWKS, nothing else
    client.store_registration_info(
        RegistrationResponse(
            client_id=rp.client_id,
            client_secret=rp.client_secret,
            redirect_uris=[rp.redirect_uri],
            token_endpoint_auth_method="client_secret_basic",
        )
    )
    client.redirect_uris = [rp.redirect_uri]
    return client


async def test_pyoidc_completes_code_flow_with_pkce_and_verifies_the_id_token(
    stack: Stack, rp: RelyingParty, browser: Browser
) -> None:
    client = await asyncio.to_thread(_configured_client, stack, rp)
    state, nonce = rndstr(32), rndstr(32)
    pkce_args, verifier = client.add_code_challenge()
    assert pkce_args["code_challenge_method"] == "S256"
    request = client.construct_AuthorizationRequest(
        request_args={
            "client_id": rp.client_id,
            "response_type": "code",
            "scope": ["openid", "profile", "identification"],
            "state": state,
            "nonce": nonce,
            "redirect_uri": rp.redirect_uri,
            **pkce_args,
        }
    )
    authorize_url = request.request(client.authorization_endpoint)

    login_page = await browser.http.get(authorize_url)  # /authorize answers with the login page
    vneid_page = await browser.open_vneid(login_page)
    back = await browser.sign_in_at_vneid(vneid_page, AN, DEMO_PASSWORD)
    at_rp = await browser.http.get(back.headers["location"])
    query = at_rp.headers["location"].split("?", 1)[1]

    def finish() -> Any:
        response = client.parse_response(AuthorizationResponse, info=query, sformat="urlencoded")
        assert response["state"] == state
        return client.do_access_token_request(
            state=state,
            request_args={"code": response["code"], "code_verifier": verifier},
            authn_method="client_secret_basic",
        )

    tokens = await asyncio.to_thread(finish)
    assert isinstance(tokens, AccessTokenResponse), tokens
    id_token = tokens["id_token"]  # pyoidc has verified signature (JWKS from discovery), iss and aud
    assert id_token["iss"] == stack.broker_url
    assert id_token["aud"] == [rp.client_id]
    assert id_token["nonce"] == nonce
    assert id_token["name"] == "Nguyễn Văn An"
    assert id_token.jws_header["alg"] == "RS256"
