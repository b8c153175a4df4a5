"""Opaque access tokens, the default (``BROKER_ACCESS_TOKEN_FORMAT``): they say nothing to whoever holds
them and are resolved by the broker alone; a client may be registered for RFC 9068 JWTs instead. Through
real servers (SQLite and PostgreSQL).

An opaque token is ``<jti>.<secret>``: the broker finds its row by the jti and accepts it only if its hash
is the stored one, so a token naming a real jti with another secret is refused everywhere.
"""

from __future__ import annotations

import base64
import hashlib

import httpx
import jwt
import pytest

from broker.admin.clients import ClientRegistrationError
from tests.conftest import Stack, StackFactory
from tests.flows.test_roles_and_officer import (
    FOREIGNER,
    MAI,
    ORGANISATION,
    access_token,
    change_role,
    create,
)
from tests.support.browser import Browser, RelyingParty
from tests.support.op import id_claims, introspect, log_in_and_redeem, refresh, revoke, userinfo_status


def _at_hash(token: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()[:16]).rstrip(b"=").decode()


def _opaque_parts(token: str) -> tuple[str, str]:
    with pytest.raises(jwt.DecodeError):
        jwt.get_unverified_header(token)
    jti, _, secret = token.partition(".")
    assert len(jti) >= 43 and len(secret) >= 43 and "." not in secret, token
    return jti, secret


async def _userinfo(http: httpx.AsyncClient, stack: Stack, token: str) -> httpx.Response:
    return await http.get(f"{stack.broker_url}/userinfo", headers={"Authorization": f"Bearer {token}"})


async def test_an_opaque_access_token_answers_userinfo_and_introspection_until_revoked(
    stack: Stack, rp: RelyingParty, browser: Browser, http: httpx.AsyncClient
) -> None:
    tokens = await log_in_and_redeem(stack, http, browser, rp)
    token = tokens["access_token"]
    jti, _ = _opaque_parts(token)
    claims = await id_claims(http, stack, rp, tokens)
    assert claims["at_hash"] == _at_hash(token)

    userinfo = await _userinfo(http, stack, token)
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json()["sub"] == claims["sub"]

    body = (await introspect(http, stack, rp, token)).json()
    assert body["active"] is True
    assert (body["sub"], body["client_id"], body["token_type"]) == (claims["sub"], rp.client_id, "Bearer")
    assert (
        body["scope"] == tokens["scope"]
        and body["exp"] - body["iat"] == stack.settings.access_token_ttl_seconds
    )
    assert body["acr"] == claims["acr"]

    # The jti alone, or with another secret, is nobody's token: refused, inactive, and not revocable.
    for forged in (f"{jti}.{'A' * 43}", f"{jti}.", jti):
        assert await userinfo_status(http, stack, forged) == 401
        assert (await introspect(http, stack, rp, forged)).json() == {"active": False}
        assert (await revoke(http, stack, rp, forged)).status_code == 200
    assert await userinfo_status(http, stack, token) == 200

    # Another client's revocation has no effect; the client's own revokes it at once.
    other = await stack.register_client("Another RP")
    assert (await introspect(http, stack, other, token)).json() == {"active": False}
    assert (await revoke(http, stack, other, token)).status_code == 200
    assert await userinfo_status(http, stack, token) == 200
    assert (await revoke(http, stack, rp, token, token_type_hint="access_token")).status_code == 200
    assert (await introspect(http, stack, rp, token)).json() == {"active": False}
    assert await userinfo_status(http, stack, token) == 401


async def test_a_refresh_issues_a_new_opaque_access_token_and_refresh_tokens_are_told_apart(
    stack: Stack, browser: Browser, http: httpx.AsyncClient
) -> None:
    rp = await stack.register_client(grant_types=["authorization_code", "refresh_token"])
    tokens = await log_in_and_redeem(stack, http, browser, rp)
    assert "." not in tokens["refresh_token"]
    refreshed = await refresh(http, stack, rp, tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    new = refreshed.json()
    _opaque_parts(new["access_token"])
    assert new["access_token"] != tokens["access_token"]
    assert (await id_claims(http, stack, rp, new))["at_hash"] == _at_hash(new["access_token"])
    assert await userinfo_status(http, stack, new["access_token"]) == 200
    # Introspection finds a refresh token among the refresh tokens, whatever the access tokens look like.
    active = (await introspect(http, stack, rp, new["refresh_token"])).json()
    assert active["active"] is True and active["token_type"] == "refresh_token"
    # Revoking the refresh token revokes its grant, the opaque access token included.
    assert (await revoke(http, stack, rp, new["refresh_token"])).status_code == 200
    assert await userinfo_status(http, stack, new["access_token"]) == 401


async def test_an_officers_opaque_token_carries_the_roles_the_account_holds(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    token = await access_token(stack, rp, http, MAI)
    _opaque_parts(token)
    sub = (await _userinfo(http, stack, token)).json()["sub"]
    refused = await create(http, stack, token, ORGANISATION)
    assert refused.json() == {"error": "forbidden", "reason": "role_required"}

    # An opaque token names no roles: those the account holds count, from the grant on and until revoked.
    assert (await change_role(stack, "grant", sub)).changed
    organisation = await create(http, stack, token, ORGANISATION)
    assert organisation.status_code == 201, organisation.text
    assert (await change_role(stack, "revoke", sub)).changed
    response = await create(http, stack, token, FOREIGNER)
    assert response.status_code == 403
    assert response.json() == {"error": "forbidden", "reason": "role_required"}
    assert await userinfo_status(http, stack, token) == 200


async def test_a_client_registered_for_jwts_gets_them_whatever_the_default_and_the_other_way_round(
    make_stack: StackFactory, http: httpx.AsyncClient
) -> None:
    stack = make_stack()
    plain = await stack.register_client("Dịch vụ công tỉnh")
    verifying = await stack.register_client("Cổng có máy chủ tài nguyên", access_token_format="jwt")
    for rp, is_jwt in ((plain, False), (verifying, True)):
        person = Browser()
        try:
            tokens = await log_in_and_redeem(stack, http, person, rp)
        finally:
            await person.close()
        token = tokens["access_token"]
        if is_jwt:
            assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
        else:
            _opaque_parts(token)
        assert (await id_claims(http, stack, rp, tokens))["at_hash"] == _at_hash(token)
        assert await userinfo_status(http, stack, token) == 200
        assert (await introspect(http, stack, rp, token)).json()["active"] is True

    # With JWTs as the broker's default, a client registered for opaque tokens still gets them.
    jwt_by_default = make_stack(access_token_format="jwt")
    opaque_rp = await jwt_by_default.register_client(access_token_format="opaque")
    person = Browser()
    try:
        tokens = await log_in_and_redeem(jwt_by_default, http, person, opaque_rp)
    finally:
        await person.close()
    _opaque_parts(tokens["access_token"])
    assert await userinfo_status(http, jwt_by_default, tokens["access_token"]) == 200

    with pytest.raises(ClientRegistrationError, match="access_token_format"):
        await stack.register_client(access_token_format="jwe")
