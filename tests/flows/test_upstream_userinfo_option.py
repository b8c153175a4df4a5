"""An ``oidc`` upstream configured ``userinfo: false`` (``BROKER_VNEID_USERINFO=false``): the identity comes
from the verified ID token alone, one call to the upstream fewer per login; a claim only userinfo gives is
then never seen. Through real servers (mock VNeID, SQLite and PostgreSQL)."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from broker.settings import Settings
from broker.store import audit
from broker.upstream.config import UpstreamConfig
from tests.conftest import DEMO_PASSWORD, Stack, StackFactory
from tests.support.browser import Browser, redeem
from tests.support.op import id_claims

AN = "001085012345"  # Nguyễn Văn An, a citizen of the mock's seed
CHAU = "038303004567"  # Lê Minh Châu, another: one person per broker account in each case


async def _log_in(stack: Stack, http: httpx.AsyncClient, number: str = AN) -> dict[str, object]:
    rp = await stack.register_client()
    browser = Browser()
    try:
        attempt, back = await browser.log_in(stack.broker_url, rp, number, DEMO_PASSWORD)
    finally:
        await browser.close()
    tokens = (await redeem(http, stack.broker_url, rp, back.query["code"], attempt.verifier)).json()
    return await id_claims(http, stack, rp, tokens)


def _upstream_calls(metrics: str, endpoint: str) -> str | None:
    prefix = f'broker_upstream_request_seconds_count{{endpoint="{endpoint}",outcome="ok"}} '
    return next((line.removeprefix(prefix) for line in metrics.splitlines() if line.startswith(prefix)), None)


async def test_without_userinfo_the_identity_comes_from_the_id_token_in_one_call_fewer(
    make_stack: StackFactory, http: httpx.AsyncClient
) -> None:
    for userinfo, calls in ((True, "1.0"), (False, None)):
        stack = make_stack(vneid_userinfo=userinfo)
        claims = await _log_in(stack, http)
        assert (claims["name"], claims["identification_number"]) == ("Nguyễn Văn An", AN), userinfo
        metrics = (await http.get(f"{stack.broker_url}/metrics")).text
        assert _upstream_calls(metrics, "token") == "1.0", userinfo
        assert _upstream_calls(metrics, "userinfo") == calls, userinfo


async def test_without_userinfo_a_claim_only_userinfo_gives_is_never_seen(
    make_stack: StackFactory, http: httpx.AsyncClient
) -> None:
    # With userinfo, a claim the ID token leaves out still arrives.
    with_userinfo = make_stack()
    await with_userinfo.vneid_faults(id_token_drop_claims=["name"])
    assert (await _log_in(with_userinfo, http))["name"] == "Nguyễn Văn An"

    without = make_stack(vneid_userinfo=False)
    await without.vneid_faults(id_token_drop_claims=["name"])
    # Without, it is never seen: Châu's first login makes an account without a name.
    assert "name" not in await _log_in(without, http, CHAU)

    # A required claim missing from the ID token is the hotline page, never a 500 or an account.
    await without.vneid_faults(id_token_drop_claims=["identification_number"])
    rp = await without.register_client()
    browser = Browser()
    try:
        login_page = await browser.authorize(without.broker_url, browser.attempt(rp))
        vneid_page = await browser.open_vneid(login_page)
        back = await browser.sign_in_at_vneid(vneid_page, AN, DEMO_PASSWORD)
        page = await browser.http.get(back.headers["location"])
    finally:
        await browser.close()
    assert page.status_code == 403, page.text[:500]
    assert "claim_missing:identification_number" in page.text
    async with without.database() as db, db.read() as session:
        refusals = [e.reason for e in await audit.entries(session) if e.outcome == "refused"]
    assert refusals == ["claim_missing:identification_number"]


def test_only_an_oidc_upstream_can_go_without_userinfo() -> None:
    UpstreamConfig(id="a", issuer="https://a.example", client_id="c", client_secret="s", userinfo=False)
    with pytest.raises(ValidationError, match="only an oidc upstream"):
        UpstreamConfig(
            id="b",
            type="oauth2-userinfo",
            issuer="https://b.example",
            client_id="c",
            client_secret="s",
            userinfo=False,
        )
    # The same refusal for the upstream of the BROKER_VNEID_* settings, at start-up, not silently ignored.
    Settings(vneid_userinfo=False)
    with pytest.raises(
        ValidationError, match="BROKER_VNEID_USERINFO=false is only for BROKER_VNEID_MODE=oidc"
    ):
        Settings(vneid_userinfo=False, vneid_mode="oauth2-userinfo")
