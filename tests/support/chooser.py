"""The Case 3 chooser as a person uses it: pick the account to keep, read the confirmation, confirm."""

from __future__ import annotations

import httpx

from tests.support.browser import Browser
from tests.support.html_forms import Form, form_posting_to, form_with


async def confirmation_form(browser: Browser, chooser_page: httpx.Response, keep: int) -> Form:
    """The form of the confirmation page (which says what merges into what) for keeping account ``keep``:
    posting it merges."""
    chooser = form_with(chooser_page.text, str(chooser_page.url), "keep")
    confirm_page = await browser.http.get(chooser.action, params={**chooser.fields, "keep": str(keep)})
    assert confirm_page.status_code == 200, confirm_page.text[:500]
    return form_posting_to(confirm_page, "/login/choose")


async def keep_account(browser: Browser, chooser_page: httpx.Response, keep: int) -> httpx.Response:
    """Chooses and confirms; returns the answer to the confirmation (a redirect on to the service)."""
    form = await confirmation_form(browser, chooser_page, keep)
    return await browser.http.post(form.action, data=form.fields)
