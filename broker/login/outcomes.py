"""What a login step asks the browser to do next: go somewhere, or see one of the broker's pages."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Redirect:
    url: str
    session_cookie: str | None = None  # set when the login opened or renewed the SSO session


@dataclass(frozen=True)
class Page:
    """``name`` is one of: suggest_link, review_notice, choose_account, password_refused, account_refused
    (the policy's refusal; ``reason`` is its reason code)."""

    name: str
    flow_id: str
    reason: str | None = None


Outcome = Redirect | Page
