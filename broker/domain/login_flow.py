"""The browser login flow as an explicit state machine (after ORY Hydra's flow/flow.go).

    started ──(send to VNeID)──► upstream_pending ──(VNeID callback ok)──► authenticated ──(code)──► completed
       │                            │      ▲                                  ▲     │
       │                            │      └──(link VNeID after a password)───┼─────┘
       │                            └──(Case 3: several accounts)──► choosing ─┘
       └──(legacy password ok)─────────────────────────────────────────────────┘
    and from every state but completed: (error / refusal / cancel) ──► failed

With one upstream whose endpoints the broker already knows, /authorize opens the flow in upstream_pending
at once: the login page's button goes to the upstream itself (broker.login.vneid_start.prepare). A legacy
password is still taken from there, as after a citizen came back from VNeID without logging in.

Each arrow is guarded: a store moves a flow only from the state the arrow starts at, in one conditional
UPDATE, so a replayed callback or a double submit finds the flow already moved and is refused.
"""

from __future__ import annotations

from enum import StrEnum


class FlowState(StrEnum):
    STARTED = "started"
    UPSTREAM_PENDING = "upstream_pending"
    CHOOSING = "choosing"
    AUTHENTICATED = "authenticated"
    COMPLETED = "completed"
    FAILED = "failed"


TRANSITIONS: dict[FlowState, frozenset[FlowState]] = {
    FlowState.STARTED: frozenset({FlowState.UPSTREAM_PENDING, FlowState.AUTHENTICATED, FlowState.FAILED}),
    # A citizen may press "back" and start again with VNeID: pending -> pending is allowed.
    FlowState.UPSTREAM_PENDING: frozenset(
        {FlowState.UPSTREAM_PENDING, FlowState.CHOOSING, FlowState.AUTHENTICATED, FlowState.FAILED}
    ),
    FlowState.CHOOSING: frozenset({FlowState.AUTHENTICATED, FlowState.FAILED}),
    FlowState.AUTHENTICATED: frozenset({FlowState.COMPLETED, FlowState.UPSTREAM_PENDING, FlowState.FAILED}),
    FlowState.COMPLETED: frozenset(),
    FlowState.FAILED: frozenset(),
}


def sources_of(target: FlowState) -> frozenset[FlowState]:
    """The states from which ``target`` may be entered: the guard of every transition."""
    return frozenset(state for state, targets in TRANSITIONS.items() if target in targets)
