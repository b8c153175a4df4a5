"""Loads a login flow for this browser, or refuses: unknown, expired, finished, or someone else's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from broker.domain.login_flow import FlowState
from broker.errors import LoginFlowError, StoreGuardFailed
from broker.login.ids import matches_digest
from broker.registry import Registry
from broker.store import flows
from broker.store.database import Database, Session
from broker.store.tables import LoginFlow, LoginFlowRequirement


async def load(registry: Registry, flow_id: str | None, browser: str | None) -> LoginFlow:
    if not flow_id or not browser:
        raise LoginFlowError("flow_missing")
    return _checked(registry, await flows.by_id(registry.db, flow_id), browser)


async def load_with_client_name(
    registry: Registry, flow_id: str | None, browser: str | None
) -> tuple[LoginFlow, str | None]:
    """``load`` and the name of the client the flow is for, in one statement (the login page)."""
    if not flow_id or not browser:
        raise LoginFlowError("flow_missing")
    found = await flows.by_id_with_client_name(registry.db, flow_id)
    return _checked(registry, found[0] if found else None, browser), found[1] if found else None


async def load_with_requirement(
    registry: Registry, flow_id: str | None, browser: str | None
) -> tuple[LoginFlow, LoginFlowRequirement | None]:
    """``load`` and the flow's requirement, in one statement (the VNeID steps need both)."""
    if not flow_id or not browser:
        raise LoginFlowError("flow_missing")
    found = await flows.by_id_with_requirement(registry.db, flow_id)
    return _checked(registry, found[0] if found else None, browser), found[1] if found else None


def _checked(registry: Registry, flow: LoginFlow | None, browser: str) -> LoginFlow:
    if flow is None:
        raise LoginFlowError("flow_unknown")
    # Login CSRF (RFC 9700 §4.7): a state that belongs to another browser is refused.
    if not matches_digest(browser, flow.browser_hash):
        raise LoginFlowError("flow_not_this_browser")
    if flow.expires_at <= registry.clock():
        raise LoginFlowError("flow_expired")
    return flow


async def advance(
    session: Session,
    flow_id: str,
    target: FlowState,
    at: datetime,
    refusal: str = "flow_replayed",
    via: FlowState | None = None,
    **values: Any,
) -> None:
    """Moves the flow along the state machine (through ``via`` in one UPDATE, if given), or refuses:
    another request (a replay, a double submit) moved it first, it expired, or the move is not allowed
    from where it stands."""
    if not await flows.move(session, flow_id, target, at, via, **values):
        raise LoginFlowError(refusal)


async def advance_at_commit(
    session: Session,
    flow_id: str,
    target: FlowState,
    at: datetime,
    refusal: str = "flow_replayed",
    via: FlowState | None = None,
    **values: Any,
) -> None:
    """``advance`` checked by the statement that carries the transaction's writes (``flows.move_at_commit``):
    its refusal comes as ``StoreGuardFailed`` when that statement runs, at the latest from the commit, and
    nothing of the transaction is written. ``refused`` turns it into this module's refusal."""
    await flows.move_at_commit(session, flow_id, target, at, refusal, via, **values)


def refused(guard: StoreGuardFailed) -> LoginFlowError:
    """A flow's move refused by its guard (``advance_at_commit``), as ``advance`` refuses it."""
    return LoginFlowError(guard.refusal)


async def advance_alone(
    db: Database, flow_id: str, target: FlowState, at: datetime, refusal: str = "flow_replayed", **values: Any
) -> None:
    """``advance`` as a transaction of its own, for a step that writes nothing else."""
    if not await flows.move_alone(db, flow_id, target, at, **values):
        raise LoginFlowError(refusal)
