"""What the login page shows for a flow: who is asking."""

from __future__ import annotations

from dataclasses import dataclass

from broker.domain.login_flow import FlowState
from broker.errors import LoginFlowError
from broker.login import flow_guard
from broker.registry import Registry


@dataclass(frozen=True)
class LoginPage:
    flow_id: str
    client_name: str
    # the one upstream's login as a GET form, prepared by /authorize (vneid_start.prepare): its action, its
    # fields, and the values among them that are this flow's own (its state, nonce and PKCE challenge)
    upstream_form: tuple[str, list[tuple[str, str]], frozenset[str]] | None = None


async def describe(registry: Registry, flow_id: str | None, browser: str | None) -> LoginPage:
    flow, client_name = await flow_guard.load_with_client_name(registry, flow_id, browser)
    return LoginPage(flow.id, client_name or flow.client_id)


# The pages of a login that answer a POST or a callback, and the flow states in which each can be shown
# again by a GET (its language links and a reload lead there; issue 8 item 11).
_SHOWN_IN: dict[str, frozenset[FlowState]] = {
    "password_refused": frozenset({FlowState.STARTED, FlowState.UPSTREAM_PENDING}),
    "upstream_failed": frozenset({FlowState.STARTED, FlowState.UPSTREAM_PENDING}),
    "upstream_cancelled": frozenset({FlowState.STARTED, FlowState.UPSTREAM_PENDING}),
    "suggest_link": frozenset({FlowState.AUTHENTICATED}),
    "review_notice": frozenset({FlowState.AUTHENTICATED}),
    "review_reminder": frozenset({FlowState.AUTHENTICATED}),
}


async def shown_again(registry: Registry, flow_id: str | None, browser: str | None, name: str) -> str:
    """The flow id, when page ``name`` still describes where this browser's login stands."""
    states = _SHOWN_IN.get(name)
    if states is None:
        raise LoginFlowError("page_unknown")
    flow = await flow_guard.load(registry, flow_id, browser)
    if FlowState(flow.state) not in states:
        raise LoginFlowError("flow_moved_on")
    return flow.id
