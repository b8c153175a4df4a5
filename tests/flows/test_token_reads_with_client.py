"""The token endpoint reads the client and the code (or refresh token) in one statement (issue 7): the
client is still authenticated before anything it read is used, a refusal spends nothing, and a request
missing what its grant needs is refused for its client first."""

from __future__ import annotations

from dataclasses import replace

import httpx

from tests.conftest import DEMO_PASSWORD, StackFactory
from tests.support.browser import Browser, redeem
from tests.support.op import AN, refresh


async def test_a_code_presented_by_a_client_that_fails_authentication_stays_unspent(
    make_stack: StackFactory, http: httpx.AsyncClient
) -> None:
    stack = make_stack()
    rp = await stack.register_client(grant_types=["authorization_code", "refresh_token"])
    other = await stack.register_client(grant_types=["authorization_code", "refresh_token"])
    browser = Browser()
    attempt, back = await browser.log_in(stack.broker_url, rp, AN, DEMO_PASSWORD)
    await browser.close()
    code = back.query["code"]

    wrong_secret = await redeem(
        http, stack.broker_url, replace(rp, client_secret="not-the-secret"), code, attempt.verifier
    )
    unknown = await redeem(
        http, stack.broker_url, replace(rp, client_id="no-such-client"), code, attempt.verifier
    )
    assert (wrong_secret.status_code, wrong_secret.json()["error"]) == (401, "invalid_client")
    assert (unknown.status_code, unknown.json()["error"]) == (401, "invalid_client")
    # Another client, authenticated, with this client's redirect URI: the code is not its own.
    theirs = await redeem(
        http, stack.broker_url, replace(other, redirect_uri=rp.redirect_uri), code, attempt.verifier
    )
    assert (theirs.status_code, theirs.json()["error"]) == (400, "invalid_grant")
    # Missing the verifier and with a wrong secret: the client is refused first, as before the merged read.
    missing = await http.post(
        f"{stack.broker_url}/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri},
        auth=(rp.client_id, "not-the-secret"),
    )
    assert (missing.status_code, missing.json()["error"]) == (401, "invalid_client")

    exchanged = await redeem(http, stack.broker_url, rp, code, attempt.verifier)
    assert exchanged.status_code == 200, exchanged.text  # none of the refusals spent it
    presented = exchanged.json()["refresh_token"]

    refused = await refresh(http, stack, replace(rp, client_secret="not-the-secret"), presented)
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")
    not_theirs = await refresh(http, stack, other, presented)
    assert (not_theirs.status_code, not_theirs.json()["error"]) == (400, "invalid_grant")
    no_token = await http.post(
        f"{stack.broker_url}/token",
        data={"grant_type": "refresh_token"},
        auth=(rp.client_id, "not-the-secret"),
    )
    assert (no_token.status_code, no_token.json()["error"]) == (401, "invalid_client")
    refreshed = await refresh(http, stack, rp, presented)
    assert refreshed.status_code == 200, refreshed.text  # still the client's, unrotated by the refusals
    assert refreshed.json()["refresh_token"] != presented
