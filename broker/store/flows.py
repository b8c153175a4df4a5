"""Login flows: every state change is one guarded, conditional UPDATE (see broker.domain.login_flow)."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from broker.domain.login_flow import FlowState, sources_of
from broker.store import core_rows
from broker.store.core_rows import ModelColumns
from broker.store.database import Database
from broker.store.tables import Client, LoginFlow, LoginFlowRequirement
from broker.store.types import row_of


async def add(
    session: AsyncSession, flow: LoginFlow, requirement: LoginFlowRequirement | None = None
) -> None:
    """The flow and, if given, its requirement (one statement on PostgreSQL)."""
    writes = _add_writes(flow, requirement)
    if session.get_bind().dialect.name == "postgresql":
        await core_rows.execute(session, *core_rows.together(*writes))
        return
    for statement, parameters in writes:
        await core_rows.execute(session, statement, parameters)


def _add_writes(flow: LoginFlow, requirement: LoginFlowRequirement | None) -> list[core_rows.Write]:
    return _insert_writes(row_of(flow), row_of(requirement) if requirement is not None else None)


def _insert_writes(flow: dict[str, Any], requirement: dict[str, Any] | None) -> list[core_rows.Write]:
    writes = [core_rows.insert_row(LoginFlow, flow, "flow_")]
    if requirement is not None:
        writes.append(core_rows.insert_row(LoginFlowRequirement, requirement, "requirement_"))
    return writes


async def add_alone(db: Database, flow: dict[str, Any], requirement: dict[str, Any]) -> None:
    """``add`` of a flow and its requirement given as their columns' values, a transaction of its own
    (``Database.write_alone``): /authorize writes nothing else. Their models are not built
    (``core_rows.model_row``): a table instance sets every attribute through SQLAlchemy's
    instrumentation, a sixth of /authorize's CPU (issue 7)."""
    rows = core_rows.model_row(LoginFlow, **flow), core_rows.model_row(LoginFlowRequirement, **requirement)
    await db.write_alone(*_insert_writes(*rows))


async def get(session: AsyncSession, flow_id: str) -> LoginFlow | None:
    return await session.get(LoginFlow, flow_id)


@functools.cache
def _columns() -> ModelColumns:
    return ModelColumns(LoginFlow)


@functools.cache
def _by_id_statement() -> Any:
    return select(*_columns().columns).where(col(LoginFlow.id) == bindparam("flow_id"))


async def by_id(db: Database, flow_id: str) -> LoginFlow | None:
    """``get`` without a session: every step of a login loads its flow first (issue 7). Read-only."""
    rows = await db.rows(_by_id_statement(), {"flow_id": flow_id})
    return _columns().instance(rows[0]) if rows else None


@functools.cache
def _with_client_name_statement() -> Any:
    joined = sa.outerjoin(
        LoginFlow.__table__,  # type: ignore[attr-defined]
        Client.__table__,  # type: ignore[attr-defined]
        col(Client.client_id) == col(LoginFlow.client_id),
    )
    return (
        select(*_columns().columns, col(Client.name))
        .select_from(joined)
        .where(col(LoginFlow.id) == bindparam("flow_id"))
    )


async def by_id_with_client_name(db: Database, flow_id: str) -> tuple[LoginFlow, str | None] | None:
    """``by_id`` and the name of the client it is for, in one statement (the login page). Read-only."""
    rows = await db.rows(_with_client_name_statement(), {"flow_id": flow_id})
    if not rows:
        return None
    return _columns().instance(rows[0][:-1]), rows[0][-1]


@functools.cache
def _requirement_columns() -> ModelColumns:
    return ModelColumns(LoginFlowRequirement)


@functools.cache
def _with_requirement_statement() -> Any:
    joined = sa.outerjoin(
        LoginFlow.__table__,  # type: ignore[attr-defined]
        LoginFlowRequirement.__table__,  # type: ignore[attr-defined]
        col(LoginFlowRequirement.flow_id) == col(LoginFlow.id),
    )
    return (
        select(*_columns().columns, *_requirement_columns().columns)
        .select_from(joined)
        .where(col(LoginFlow.id) == bindparam("flow_id"))
    )


async def by_id_with_requirement(
    db: Database, flow_id: str
) -> tuple[LoginFlow, LoginFlowRequirement | None] | None:
    """``by_id`` and the flow's requirement (written with it at /authorize, never changed) in one
    statement: the VNeID steps need both. Read-only."""
    rows = await db.rows(_with_requirement_statement(), {"flow_id": flow_id})
    if not rows:
        return None
    split = len(_columns())
    return _columns().instance(rows[0][:split]), _requirement_columns().instance_or_none(rows[0][split:])


async def move(
    session: AsyncSession,
    flow_id: str,
    target: FlowState,
    at: datetime,
    via: FlowState | None = None,
    **values: Any,
) -> bool:
    """Moves a live flow to ``target`` if the state machine allows it from where it is now; with ``via``,
    through that state in the same UPDATE (allowed where ``via`` is, and ``via`` leads to ``target``).

    Returns False when another request moved it first, it expired, or the move is not allowed.
    """
    return await core_rows.count(session, *_move(flow_id, target, at, via, values)) == 1


async def move_at_commit(
    session: AsyncSession,
    flow_id: str,
    target: FlowState,
    at: datetime,
    refusal: str,
    via: FlowState | None = None,
    **values: Any,
) -> None:
    """``move`` deferred to the statement that carries the transaction's writes (``core_rows``'s
    ``defer_expecting``): that statement, all of it, fails with ``StoreGuardFailed(refusal)`` unless the
    flow moved, exactly as ``move`` returning False would have refused. Issue 7: with nothing else in the
    transaction but reads, a login's last writes go out as one statement, without BEGIN and COMMIT."""
    guarded, parameters = move_write(flow_id, target, at, refusal, via, **values)
    await core_rows.defer_expecting(session, guarded, parameters)


def move_write(
    flow_id: str, target: FlowState, at: datetime, refusal: str, via: FlowState | None = None, **values: Any
) -> core_rows.Write:
    """``move_at_commit``'s guarded UPDATE, for a statement that carries it (``Database.commit_writes``):
    that statement fails with ``StoreGuardFailed(refusal)`` unless the flow moved."""
    statement, parameters = _move(flow_id, target, at, via, values)
    return _returning(statement, refusal), parameters


@functools.cache
def _returning(statement: Any, refusal: str) -> core_rows.Expecting:
    return core_rows.expecting(core_rows.built_once(statement.returning(col(LoginFlow.id))), refusal)


async def forget_pending_identity(session: AsyncSession, flow_id: str) -> None:
    """The verified identity a flow kept while the citizen read a page, dropped once it has served."""
    table: Any = LoginFlow.__table__  # type: ignore[attr-defined]
    await core_rows.execute(
        session, update(table).where(table.c.id == flow_id).values(pending_identity=sa.null())
    )


async def move_alone(db: Database, flow_id: str, target: FlowState, at: datetime, **values: Any) -> bool:
    """``move`` as a transaction of its own (``Database.write_alone``)."""
    return await db.write_alone(_move(flow_id, target, at, None, values)) == 1


def _move(
    flow_id: str, target: FlowState, at: datetime, via: FlowState | None, values: dict[str, Any]
) -> core_rows.Write:
    parameters = {f"move_{key}": value for key, value in values.items()}
    parameters |= {"move_flow_id": flow_id, "move_at": at}
    return _move_statement(target, via, tuple(values)), parameters


@functools.cache
def _move_statement(target: FlowState, via: FlowState | None, keys: tuple[str, ...]) -> Any:
    """Built once per move and set of columns (issue 7: building it was 2 % of a login)."""
    sources = sources_of(target)
    if via is not None:
        assert via in sources
        sources = sources_of(via)
    table: Any = LoginFlow.__table__  # type: ignore[attr-defined]
    return core_rows.built_once(
        update(LoginFlow)
        .where(
            col(LoginFlow.id) == bindparam("move_flow_id"),
            _state_in(col(LoginFlow.state), sources),
            col(LoginFlow.expires_at) > bindparam("move_at", type_=table.c.expires_at.type),
        )
        .values(state=target.value, **core_rows.set_values(table, keys, "move_"))
    )


def _state_in(column: Any, states: Any) -> Any:
    """``column IN ('a', 'b')`` with the states written into the SQL: a list of values would be an
    "expanding" parameter, rendered per execution, which a statement run by asyncpg itself
    (``Database.write_alone``, ``core_rows.fetch``) cannot carry. The states are the state machine's own
    names, never input."""
    names = sorted(state.value for state in states)
    assert all(name.isidentifier() for name in names)
    return column.in_([sa.literal_column(f"'{name}'") for name in names])


async def start_upstream(
    db: Database,
    flow_id: str,
    browser_hash: str,
    at: datetime,
    legacy_acr: str,
    *,
    nonce: str,
    verifier: str,
    upstream_id: str,
) -> tuple[str | None, int | None, bool | None] | None:
    """The VNeID start's move in one statement (PostgreSQL; issue 7: the flow was read, then moved): a
    live flow of this browser, started or pending, or authenticated by a legacy password (whose account
    the upstream identity is then to be linked to), goes to UPSTREAM_PENDING with the upstream's nonce,
    verifier and id. Returns its ``prompt`` and its requirement's ``min_level`` and ``force_login``;
    ``None`` when nothing moved (or elsewhere than on PostgreSQL): the caller's load then says why."""
    parameters = {
        "start_id": flow_id,
        "start_browser": browser_hash,
        "start_at": at,
        "start_legacy": legacy_acr,
        "start_nonce": nonce,
        "start_verifier": verifier,
        "start_upstream": upstream_id,
    }
    rows = await db.write_alone_returning(_start_upstream_statement(), parameters)
    if not rows:
        return None
    prompt, min_level, force_login = rows[0]
    return prompt, min_level, force_login


@functools.cache
def _start_upstream_statement() -> Any:
    flow: Any = LoginFlow.__table__  # type: ignore[attr-defined]
    requirement: Any = LoginFlowRequirement.__table__  # type: ignore[attr-defined]
    authenticated = FlowState.AUTHENTICATED.value
    others = [s for s in sources_of(FlowState.UPSTREAM_PENDING) if s != FlowState.AUTHENTICATED]
    of_flow = requirement.c.flow_id == flow.c.id
    return (
        update(flow)
        .where(
            flow.c.id == bindparam("start_id"),
            flow.c.browser_hash == bindparam("start_browser"),
            flow.c.expires_at > bindparam("start_at", type_=flow.c.expires_at.type),
            sa.or_(
                _state_in(flow.c.state, others),
                sa.and_(
                    flow.c.state == authenticated,
                    flow.c.acr == bindparam("start_legacy"),
                    flow.c.account_id.is_not(None),
                ),
            ),
        )
        .values(
            state=FlowState.UPSTREAM_PENDING.value,
            upstream_nonce=bindparam("start_nonce"),
            upstream_code_verifier=bindparam("start_verifier"),
            upstream_id=bindparam("start_upstream"),
            # the row as it was: an authenticated (legacy password) flow links to its account
            link_account_id=sa.case((flow.c.state == authenticated, flow.c.account_id), else_=None),
        )
        .returning(
            flow.c.prompt,
            select(requirement.c.min_level).where(of_flow).scalar_subquery(),
            select(requirement.c.force_login).where(of_flow).scalar_subquery(),
        )
    )
