"""Step 2: the citizen chose an upstream (VNeID, or another configured one). Bind a fresh nonce and PKCE
verifier and the chosen upstream to the flow, then go upstream. The flow's id is the upstream ``state``,
whatever the upstream supports besides: the broker's own guarantee that a callback belongs to this browser.

With one upstream configured, /authorize binds them when it opens the flow (``prepare``), and the login
page's button goes to the upstream itself: a login costs the browser one request and the broker one
statement less (issue 7). The POST here stays for every other way in: several upstreams, a login page shown
again, the retry buttons, linking VNeID after a legacy password, and an upstream that could not be
prepared for (its circuit open, its discovery unreachable), whose refusal page this step then shows."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from broker.domain.login_flow import FlowState
from broker.errors import LoginFlowError, UpstreamError
from broker.login import flow_guard
from broker.login.ids import digest, new_token
from broker.oidc.discovery import ACR_LEGACY
from broker.registry import Registry
from broker.store import flows
from broker.upstream.adapters.base import UpstreamAdapter

CALLBACK_PATH = "/login/vneid/callback"


def redirect_uri(registry: Registry) -> str:
    """One callback for every upstream: the flow row says which upstream it came from."""
    return registry.settings.issuer + CALLBACK_PATH


@dataclass(frozen=True)
class Prepared:
    """A flow's upstream login, bound before the citizen chose it: the flow's columns, and where it goes as
    a GET form (the login page's button: its action, and its hidden fields, the request's parameters)."""

    upstream_id: str
    nonce: str
    verifier: str
    action: str
    fields: list[tuple[str, str]]

    def columns(self) -> dict[str, str]:
        return {
            "upstream_id": self.upstream_id,
            "upstream_nonce": self.nonce,
            "upstream_code_verifier": self.verifier,
        }


async def prepare(
    registry: Registry, flow_id: str, prompt: str | None, min_level: int | None, force_login: bool
) -> Prepared | None:
    """The one upstream's authorization URL for a flow /authorize is opening, or None: several upstreams
    (the citizen chooses), or the URL not known without calling the upstream (its discovery not fetched
    yet, or its circuit open: the POST then calls it, or says it is unavailable, with the hotline)."""
    adapter = registry.upstreams.only
    if adapter is None or not adapter.sends_without_calling():
        return None
    nonce, verifier = new_token(), new_token()
    request = _request(registry, flow_id, nonce, verifier, prompt, min_level, force_login)
    try:
        endpoint, params = await adapter.authorization_request(**request)
    except UpstreamError:
        return None
    action, query = _split(endpoint)
    return Prepared(adapter.id, nonce, verifier, action, [*query, *params])


@functools.lru_cache(maxsize=64)
def _split(endpoint: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """An endpoint as a GET form's action and the fields of its own query (a form's submission replaces
    its action's query): once per endpoint."""
    parts = urlsplit(endpoint)
    action = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return action, tuple(parse_qsl(parts.query, keep_blank_values=True))


def _request(
    registry: Registry,
    flow_id: str,
    nonce: str,
    verifier: str,
    prompt: str | None,
    min_level: int | None,
    force_login: bool,
) -> dict[str, Any]:
    """A flow's authorization request upstream, as the adapters take it: a forced fresh login
    (prompt=login, max_age) is forced upstream too; a level-2 requirement is asked for."""
    fresh = bool(prompt and "login" in prompt.split()) or force_login
    return {
        "redirect_uri": redirect_uri(registry),
        "state": flow_id,
        "nonce": nonce,
        "code_verifier": verifier,
        "prompt": "login" if fresh else None,
        "level": min_level if min_level is not None else 1,
    }


async def start(
    registry: Registry, flow_id: str | None, browser: str | None, upstream_id: str | None = None
) -> str:
    """Returns the chosen upstream's authorization URL."""
    adapter = registry.upstreams.get(upstream_id or None)
    if adapter is None:
        raise LoginFlowError("upstream_unknown")
    nonce, verifier = new_token(), new_token()
    moved = await _move_at_once(registry, flow_id, browser, nonce, verifier, adapter.id)
    if moved is not None:  # the flow and its requirement as the move returned them
        prompt, min_level, force_login = moved
        assert flow_id is not None
        return await _upstream_url(
            registry, adapter, flow_id, nonce, verifier, prompt, min_level, bool(force_login)
        )
    # Not moved (or not on PostgreSQL): the load says why, or this way moves it.
    flow, requirement = await flow_guard.load_with_requirement(registry, flow_id, browser)
    # After a legacy password, going to VNeID means "link my VNeID to this account": the password is the
    # proof, bound to this flow and used once.
    link_to = flow.account_id if flow.state == FlowState.AUTHENTICATED and flow.acr == ACR_LEGACY else None
    if flow.state == FlowState.AUTHENTICATED and link_to is None:
        raise LoginFlowError("flow_finished")
    await flow_guard.advance_alone(  # one statement, its own transaction
        registry.db,
        flow.id,
        FlowState.UPSTREAM_PENDING,
        registry.clock(),
        "flow_finished",
        upstream_nonce=nonce,
        upstream_code_verifier=verifier,
        link_account_id=link_to,
        upstream_id=adapter.id,
    )
    return await _upstream_url(
        registry,
        adapter,
        flow.id,
        nonce,
        verifier,
        flow.prompt,
        requirement.min_level if requirement else None,
        bool(requirement and requirement.force_login),
    )


async def _move_at_once(
    registry: Registry, flow_id: str | None, browser: str | None, nonce: str, verifier: str, upstream: str
) -> tuple[str | None, int | None, bool | None] | None:
    """The load, its checks and the move above as one statement (issue 7), when the flow may move."""
    if not flow_id or not browser:
        return None
    return await flows.start_upstream(
        registry.db,
        flow_id,
        digest(browser),
        registry.clock(),
        ACR_LEGACY,
        nonce=nonce,
        verifier=verifier,
        upstream_id=upstream,
    )


async def _upstream_url(
    registry: Registry,
    adapter: UpstreamAdapter,
    flow_id: str,
    nonce: str,
    verifier: str,
    prompt: str | None,
    min_level: int | None,
    force_login: bool,
) -> str:
    return await adapter.authorization_url(
        **_request(registry, flow_id, nonce, verifier, prompt, min_level, force_login)
    )
