"""Pairwise subject identifiers (OIDC Core §8.1): RPs of different sectors cannot correlate a citizen by
``sub``; every client of one sector (one host, or one sector_identifier_uri) sees the same value; the RP
sees its own ``sub`` everywhere: ID token, userinfo, introspection, logout token."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from broker.admin.clients import ClientRegistrationError
from tests.conftest import Stack
from tests.support.browser import Browser, RelyingParty
from tests.support.op import (
    id_claims,
    introspect,
    jwks,
    log_in_and_redeem,
    verified_logout_token,
    wait_for,
)
from tests.support.relying_party_server import RelyingPartyServer
from tests.support.servers import free_port


@pytest.fixture
def rp_server() -> Iterator[RelyingPartyServer]:
    server = RelyingPartyServer().start()
    yield server
    server.stop()


async def _sub(stack: Stack, http: httpx.AsyncClient, rp: RelyingParty) -> tuple[str, dict[str, str]]:
    browser = Browser()
    try:
        tokens = await log_in_and_redeem(stack, http, browser, rp)
    finally:
        await browser.close()
    return (await id_claims(http, stack, rp, tokens))["sub"], tokens


async def test_sectors_see_different_subjects_and_one_sector_the_same(
    stack: Stack, http: httpx.AsyncClient, rp_server: RelyingPartyServer
) -> None:
    public = await stack.register_client("Public")
    on_ip = await stack.register_client(
        "Sector 127.0.0.1", redirect_uris=[f"http://127.0.0.1:{free_port()}/cb"], subject_type="pairwise"
    )
    on_name = await stack.register_client(
        "Sector localhost",
        redirect_uris=[f"http://localhost:{free_port()}/cb"],
        subject_type="pairwise",
        backchannel_logout_uri=rp_server.backchannel_logout_uri,
    )
    same_sector_uris = [f"http://localhost:{free_port()}/a", f"http://127.0.0.1:{free_port()}/b"]
    rp_server.state.sector_document = [*same_sector_uris, "http://localhost:1/other"]
    on_name_via_document = await stack.register_client(
        "Sector localhost too",
        redirect_uris=same_sector_uris,
        subject_type="pairwise",
        sector_identifier_uri=f"http://localhost:{rp_server.url.rsplit(':', 1)[1]}/sector.json",
    )
    subs = {}
    for name, rp in (("public", public), ("ip", on_ip), ("name", on_name), ("name2", on_name_via_document)):
        subs[name], tokens = await _sub(stack, http, rp)
        userinfo = await http.get(
            f"{stack.broker_url}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert userinfo.json()["sub"] == subs[name]
        assert (await introspect(http, stack, rp, tokens["access_token"])).json()["sub"] == subs[name]
        if name == "name":
            name_tokens = tokens
    assert len({subs["public"], subs["ip"], subs["name"]}) == 3
    assert subs["name"] == subs["name2"]
    assert (await _sub(stack, http, on_ip))[0] == subs["ip"]  # stable

    # Logout tokens carry the RP's own sub too.
    logout = await http.get(f"{stack.broker_url}/logout", params={"id_token_hint": name_tokens["id_token"]})
    assert logout.status_code == 200  # no session in this client: nothing to end, a page
    browser = Browser()
    try:
        tokens = await log_in_and_redeem(stack, http, browser, on_name)
        ended = await browser.http.get(
            f"{stack.broker_url}/logout", params={"id_token_hint": tokens["id_token"]}
        )
        assert ended.status_code == 200
    finally:
        await browser.close()
    await wait_for(lambda: rp_server.state.logout_tokens)
    claims = verified_logout_token(
        rp_server.state.logout_tokens[0], await jwks(http, stack), stack.broker_url, on_name.client_id
    )
    assert claims["sub"] == subs["name"]


async def test_a_sector_document_must_list_every_redirect_uri(
    stack: Stack, rp_server: RelyingPartyServer
) -> None:
    rp_server.state.sector_document = ["http://127.0.0.1:1/a"]
    with pytest.raises(ClientRegistrationError):
        await stack.register_client(
            redirect_uris=["http://127.0.0.1:1/a", "http://localhost:1/b"],
            subject_type="pairwise",
            sector_identifier_uri=f"{rp_server.url}/sector.json",
        )
    with pytest.raises(ClientRegistrationError):  # several hosts and no document
        await stack.register_client(
            redirect_uris=["http://127.0.0.1:1/a", "http://localhost:1/b"], subject_type="pairwise"
        )
