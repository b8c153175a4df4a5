"""Logout never dead-ends (issue 8, item 5; RP-Initiated Logout 1.0 §2-§3): Apache mod_auth_openidc sends
``post_logout_redirect_uri`` without ``id_token_hint`` or ``client_id`` by default. The person confirms on
the broker's page and the session ends, everywhere; with no client named the URI cannot be checked, so the
broker shows its own "logged out" page instead of redirecting there. Through real servers, both databases."""

from __future__ import annotations

import httpx

from tests.conftest import Stack
from tests.support.browser import Browser, RelyingParty
from tests.support.html_forms import form_with
from tests.support.op import log_in_and_redeem, redirect_to, silent


async def test_a_logout_with_only_a_post_logout_redirect_uri_confirms_and_ends_the_session(
    stack: Stack, browser: Browser, http: httpx.AsyncClient
) -> None:
    rp: RelyingParty = await stack.register_client(
        post_logout_redirect_uris=["https://tthc.example.gov.vn/logged-out"]
    )
    await log_in_and_redeem(stack, http, browser, rp)
    _, still_in = await silent(stack, browser, rp, prompt="none")
    assert "code" in redirect_to(still_in, rp).query

    asked = await browser.http.get(
        f"{stack.broker_url}/logout",
        params={"post_logout_redirect_uri": "https://tthc.example.gov.vn/logged-out"},
    )
    assert asked.status_code == 200  # the confirmation page, not a 400
    form = form_with(asked.text, str(asked.url), "csrf")
    done = await browser.http.post(form.action, data=form.fields)

    assert done.status_code == 200 and "location" not in done.headers  # unverifiable URI: no redirect
    _, after = await silent(stack, browser, rp, prompt="none")
    assert redirect_to(after, rp).query["error"] == "login_required"  # the session is over


async def test_an_unregistered_uri_without_a_client_is_never_followed(
    stack: Stack, browser: Browser, http: httpx.AsyncClient
) -> None:
    rp: RelyingParty = await stack.register_client()
    await log_in_and_redeem(stack, http, browser, rp)
    asked = await browser.http.get(
        f"{stack.broker_url}/logout", params={"post_logout_redirect_uri": "https://attacker.example/"}
    )
    form = form_with(asked.text, str(asked.url), "csrf")
    done = await browser.http.post(form.action, data=form.fields)
    assert done.status_code == 200 and "attacker.example" not in done.headers.get("location", "")
    _, after = await silent(stack, browser, rp, prompt="none")
    assert redirect_to(after, rp).query["error"] == "login_required"
