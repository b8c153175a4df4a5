"""``ui_locales`` (OIDC Core §3.1.2.1), which discovery advertises: the relying party's hint of the
language its user reads picks the login page's language, after the language the person chose at the
broker and before the default. The hint lasts the browser session, so the flow's later pages keep it.
Through real servers (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from html import unescape

import httpx

from tests.conftest import Stack
from tests.support.browser import Browser, RelyingParty
from tests.support.html_forms import flow_of

ENGLISH = "Organisations, enterprises and foreigners"
VIETNAMESE = "Tổ chức, doanh nghiệp và người nước ngoài"


def _language(page: httpx.Response) -> str:
    assert page.status_code == 200, page.text[:500]
    found = re.search(r'<html lang="(\w+)">', page.text)
    assert found, page.text[:500]
    language = found.group(1)
    assert (ENGLISH if language == "en" else VIETNAMESE) in page.text
    return language


def _hint_cookie(response: httpx.Response) -> str | None:
    """The hint's cookie as set by the response; a session cookie: no Max-Age, no Expires."""
    for header in response.headers.get_list("set-cookie"):
        if header.startswith("broker_ui_lang="):
            assert "max-age" not in header.lower() and "expires" not in header.lower(), header
            return header.split(";", 1)[0].split("=", 1)[1]
    return None


def _language_link(page: httpx.Response, language: str) -> str:
    found = re.search(rf'<a href="([^"]*)"[^>]*hreflang="{language}"', page.text)
    assert found, page.text[:1000]
    return str(page.url.join(unescape(found.group(1))))


async def test_the_first_supported_locale_picks_the_page_and_the_flow_keeps_it(
    stack: Stack, rp: RelyingParty, browser: Browser
) -> None:
    page = await browser.authorize(stack.broker_url, browser.attempt(rp, ui_locales="fr-CA en-GB vi"))
    assert _language(page) == "en"
    assert _hint_cookie(page) == "en"
    # The same flow's page shown again at /login (as after a refusal), with no lang= in its address.
    again = await browser.http.get(f"{stack.broker_url}/login", params={"flow": flow_of(page)})
    assert _language(again) == "en"

    # Another relying party's hint replaces it.
    other = await browser.authorize(stack.broker_url, browser.attempt(rp, ui_locales="vi-VN"))
    assert _language(other) == "vi"
    assert _hint_cookie(other) == "vi"


async def test_the_language_the_person_chose_wins_over_the_hint(
    stack: Stack, rp: RelyingParty, browser: Browser
) -> None:
    page = await browser.authorize(stack.broker_url, browser.attempt(rp, ui_locales="en"))
    assert _language(page) == "en"
    chosen = await browser.http.get(_language_link(page, "vi"))
    assert _language(chosen) == "vi"
    later = await browser.authorize(stack.broker_url, browser.attempt(rp, ui_locales="en"))
    assert _language(later) == "vi"
    assert _hint_cookie(later) is None


async def test_unsupported_or_malformed_locales_are_no_error(
    stack: Stack, rp: RelyingParty, browser: Browser
) -> None:
    for hint in ("fr", "", "   ", "zh-Hant-TW de", "e n", "-en"):
        page = await browser.authorize(stack.broker_url, browser.attempt(rp, ui_locales=hint))
        assert _language(page) == "vi", hint
        assert _hint_cookie(page) is None, hint


async def test_an_authorization_request_by_post_takes_the_hint_too(
    stack: Stack, rp: RelyingParty, browser: Browser
) -> None:
    attempt = browser.attempt(rp, ui_locales="en")
    page = await browser.http.post(f"{stack.broker_url}/authorize", data=attempt.params)
    assert _language(page) == "en"
    assert _hint_cookie(page) == "en"
