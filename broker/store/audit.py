"""The append-only audit trail: the database refuses UPDATE, DELETE and (on PostgreSQL) TRUNCATE on it,
and every record is chained to the one before by hash (broker.domain.audit_chain).

Appends are serialised so that the chain has one head: on PostgreSQL a transaction-scoped advisory lock,
taken before the head is read and held until commit (so ids are also handed out in chain order); on SQLite
every writing transaction already holds the database's one write lock (``BEGIN IMMEDIATE``). So that the
lock is held for as short a time as possible (issue 7: a login's transaction went on for a dozen statements
after its audit row, and every concurrent login queued behind it), ``append`` only queues the row on the
session; the transaction's rows are chained and written together at its commit: on PostgreSQL one
statement takes the lock, reads the head (``audit_chain_head_locked``) and inserts the rows, each one's
hash computed by the server over the one before (``_chained_insert_statement``), then COMMIT. A
rolled-back transaction writes none of them, as before.

It is also where logins, links and merges are counted and logged (issue 12): every path that decides
one writes its audit row here, so metrics and log lines come from one place and only once the
transaction that recorded them has committed (a rolled-back login is neither counted nor logged).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import BigInteger, String, bindparam, event, func, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session as SyncSession
from sqlmodel import col, select

from broker.domain import audit_chain
from broker.store import core_rows
from broker.store.tables import Account, AuditEntry

log = logging.getLogger("broker.audit")

OBSERVER = "audit_observer"  # Session.info key: a callable given every committed AuditFact
_PENDING = "audit_pending"
_QUEUED = "audit_queued"  # Session.info key: the rows this transaction will append at its commit
_NEW_ACCOUNTS = "audit_new_accounts"  # Session.info key: account types by sub, of accounts not yet written


@dataclass(frozen=True)
class AuditFact:
    """What an audit row says, without who: for metrics and log lines."""

    action: str
    outcome: str
    reason: str | None
    account_type: str | None
    upstream: str | None


AuditObserver = Callable[[AuditFact], None]


@event.listens_for(SyncSession, "after_commit")
def _report_committed(session: SyncSession) -> None:
    session.info.pop(_NEW_ACCOUNTS, None)
    facts = session.info.pop(_PENDING, None)
    observer = session.info.get(OBSERVER)
    if facts and observer is not None:
        _report(facts, observer)


def report_written(rows: list[dict[str, Any]], account_type: Any, observer: AuditObserver | None) -> None:
    """After ``chained_write``'s statement committed: its rows logged and counted, as a committed
    transaction's are; ``account_type``: of the login rows' subject (a label of the login counter)."""
    if observer is not None:
        _report(
            [_fact(row, account_type if row["action"].startswith("login.") else None) for row in rows],
            observer,
        )


def _report(facts: list[AuditFact], observer: AuditObserver) -> None:
    logged = log.isEnabledFor(logging.INFO)  # asked once, not per row with its fields built first
    for fact in facts:
        if logged:
            log.info(
                "%s %s",
                fact.action,
                fact.outcome,
                extra={"action": fact.action, "outcome": fact.outcome, "reason": fact.reason or ""},
            )
        observer(fact)


@event.listens_for(SyncSession, "before_commit")
def _write_queued(session: SyncSession) -> None:
    # Called inside the AsyncSession's greenlet: the synchronous ``execute`` awaits the driver as usual.
    rows = session.info.pop(_QUEUED, None)
    if rows:
        _write(session, rows)  # carries the transaction's deferred writes with its lock
    core_rows.write_deferred(session)  # without audit rows: alone


@event.listens_for(SyncSession, "after_rollback")
def _forget_rolled_back(session: SyncSession) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_QUEUED, None)
    session.info.pop(_NEW_ACCOUNTS, None)


def note_new_account(session: AsyncSession, sub: str, account_type: Any) -> None:
    """An account whose INSERT goes out in the statement that writes the trail (``core_rows.defer``): that
    statement cannot read it back for the login counter's label, so its type is given here."""
    session.sync_session.info.setdefault(_NEW_ACCOUNTS, {})[sub] = account_type


def _observe(session: SyncSession, row: dict[str, Any], account_type: Any) -> None:
    session.info.setdefault(_PENDING, []).append(_fact(row, account_type))


def _fact(row: dict[str, Any], account_type: Any) -> AuditFact:
    details = row["details"]
    upstream = details.get("upstream") if isinstance(details.get("upstream"), str) else None
    kind = str(getattr(account_type, "value", account_type)) if account_type is not None else None
    return AuditFact(row["action"], row["outcome"], row["reason"], kind, upstream)


# pg_advisory_xact_lock key of the chain's head ("audi" in ASCII): one lock, for every replica.
_CHAIN_LOCK = 0x61756469


@functools.cache
def _locked_head_statement() -> Any:
    return core_rows.built_once(select(_locked_head()))


@functools.cache
def _locked_head_and_account_type_statement() -> Any:
    return core_rows.built_once(select(_locked_head(), _account_type()))


def _locked_head() -> Any:
    return func.audit_chain_head_locked(bindparam("audit_key", type_=BigInteger), type_=String)


def _account_type() -> Any:
    return select(col(Account.account_type)).where(col(Account.sub) == bindparam("sub")).scalar_subquery()


def _chain_link(previous: Any, content: Any) -> Any:
    """``audit_chain.link`` computed by PostgreSQL: SHA-256 (built in since PostgreSQL 11) of the previous
    hash, a newline and the canonical content, as UTF-8, in lowercase hex. ``test_audit_chain`` verifies
    chains written this way with ``audit_chain`` itself (non-ASCII content included)."""
    utf8: Any = sa.literal_column("'UTF8'")
    hexadecimal: Any = sa.literal_column("'hex'")
    newline: Any = sa.literal_column("chr(10)")
    return func.encode(
        func.sha256(func.convert_to(func.concat(previous, newline, content), utf8)), hexadecimal
    )


@functools.cache
def _chained_insert_statement(count: int, with_account_type: bool) -> Any:
    """PostgreSQL: the lock and the head, then ``count`` rows, each chained to the one before by the
    server, in one statement (issue 7: a round trip of every audited transaction saved; the hash needs the
    head, which only the lock's holder may read). Each row's INSERT reads the one before it (a CTE of the
    previous INSERT's RETURNING), so the lock is taken first and the ids follow the chain's order. Its
    parameters: ``audit_key``, per row ``r<i>_<column>`` and its canonical content ``r<i>_content``
    (``sub`` for the account type). Returns the last row's hash (and the account type)."""
    table: Any = AuditEntry.__table__  # type: ignore[attr-defined]
    head = sa.select(_locked_head().label("head")).cte("audit_head")
    source: Any = head
    previous: Any = func.coalesce(head.c.head, audit_chain.GENESIS)
    columns = [*_ROW_COLUMNS[:-2], "prev_hash", "chain_hash"]
    for index in range(count):
        values = [bindparam(f"r{index}_{name}", type_=table.c[name].type) for name in _ROW_COLUMNS[:-2]]
        content = bindparam(f"r{index}_content", type_=String)
        chosen = sa.select(*values, previous, _chain_link(previous, content)).select_from(source)
        row = insert(table).from_select(columns, chosen).returning(table.c.chain_hash)
        source = row.cte(f"audit_row_{index}")
        previous = source.c.chain_hash
    last = sa.select(previous, _account_type()) if with_account_type else sa.select(previous)
    return core_rows.built_once(last.select_from(source))


@functools.cache
def _insert_statement() -> Any:
    return insert(AuditEntry.__table__)  # type: ignore[attr-defined]


_ROW_COLUMNS = ("at", "actor", "action", "outcome", "reason", "sub", "details", "prev_hash", "chain_hash")


@functools.cache
def _insert_rows_statement() -> Any:
    """The INSERT of one row of the trail, its parameters named as the columns (``core_rows.run_in_commit``
    runs it once per row, in one round trip, by asyncpg)."""
    table: Any = AuditEntry.__table__  # type: ignore[attr-defined]
    return core_rows.built_once(insert(table).values(core_rows.set_values(table, _ROW_COLUMNS, "")))


@functools.cache
def _head_statement() -> Any:
    return select(AuditEntry.chain_hash).order_by(col(AuditEntry.id).desc()).limit(1)


@functools.cache
def _head_and_account_type_statement() -> Any:
    # One round trip for both (issue 7): the account type is a label of the login counter.
    head = select(AuditEntry.chain_hash).order_by(col(AuditEntry.id).desc()).limit(1).scalar_subquery()
    return select(head, _account_type())


@functools.cache
def _account_types_statement() -> Any:
    return select(col(Account.sub), col(Account.account_type)).where(
        col(Account.sub).in_(bindparam("subs", expanding=True))
    )


async def append(
    session: AsyncSession,
    *,
    at: datetime,
    actor: str,
    action: str,
    outcome: str,
    reason: str | None = None,
    sub: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Queues the row: it is chained and written when the session's transaction commits."""
    queued = row(at=at, actor=actor, action=action, outcome=outcome, reason=reason, sub=sub, details=details)
    session.sync_session.info.setdefault(_QUEUED, []).append(queued)


def row(
    *,
    at: datetime,
    actor: str,
    action: str,
    outcome: str,
    reason: str | None = None,
    sub: str | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A row of the trail, before its chaining (``append``, ``chained_write``)."""
    return {
        "at": at,
        "actor": actor,
        "action": action,
        "outcome": outcome,
        "reason": reason,
        "sub": sub,
        "details": details or {},
    }


async def write_queued(session: AsyncSession) -> None:
    """Writes the rows queued so far now, for a reader of the trail inside the same transaction."""
    rows = session.sync_session.info.pop(_QUEUED, None)
    if rows:
        await session.run_sync(_write, rows)


def _write(session: SyncSession, rows: list[dict[str, Any]]) -> None:
    observed = OBSERVER in session.info
    # The login counter's label: the account type of each login row's subject.
    subs = sorted({row["sub"] for row in rows if row["sub"] and row["action"].startswith("login.")})
    one_kind = observed and len(subs) == 1
    if session.get_bind().dialect.name == "postgresql":
        if session.new or session.dirty or session.deleted:
            session.flush()  # deferred rows may name rows the unit of work still holds
        if len(rows) <= _CHAINED_IN_ONE:
            found = _write_chained(session, rows, subs[0] if one_kind else None)
        else:
            found = _write_after_head(
                session, rows, _locked_head_rows(session, subs[0] if one_kind else None)
            )
    else:
        head = (
            session.execute(_head_and_account_type_statement(), {"sub": subs[0]}).one()
            if one_kind
            else (session.execute(_head_statement()).scalar_one_or_none(),)
        )
        found = _write_after_head(session, rows, head)
    if not observed:
        return
    kinds: dict[str, Any] = dict(session.info.pop(_NEW_ACCOUNTS, None) or {})
    if one_kind and found[1] is not None:
        kinds[subs[0]] = found[1]
    elif unknown := [sub for sub in subs if sub not in kinds]:
        kinds.update(session.execute(_account_types_statement(), {"subs": unknown}).tuples().all())
    for row in rows:
        _observe(session, row, kinds.get(row["sub"]) if row["action"].startswith("login.") else None)


# A transaction's rows up to this many are chained by the server in the statement that takes the lock
# (a login writes one or two); more (a bulk operation's) are chained here after it, one INSERT for all.
_CHAINED_IN_ONE = 4


def _write_chained(session: SyncSession, rows: list[dict[str, Any]], sub: str | None) -> Any:
    """PostgreSQL: the lock, the head, the rows, the account type of ``sub`` and the transaction's
    deferred writes (a login's code): one round trip (``_chained_insert_statement``)."""
    statement, parameters = _chained(rows, sub)
    statement, parameters = core_rows.carrying_deferred(session, statement, parameters)
    # by asyncpg if it can; the transaction's last write (only the commit follows), so a transaction that
    # has only read so far needs no BEGIN for it
    written = core_rows.run_in_commit(session, statement, parameters, last=True)
    return written[0] if written is not None else session.connection().execute(statement, parameters).one()


def chained_write(rows: list[dict[str, Any]]) -> core_rows.Write:
    """PostgreSQL: ``rows`` (``row``'s) chained after the trail's head and written by one statement, which
    can carry other writes (``Database.commit_writes``): the lock, the head, the rows, as
    ``_write_chained`` writes a transaction's rows at its commit."""
    assert 0 < len(rows) <= _CHAINED_IN_ONE
    return _chained(rows, None)


def _chained(rows: list[dict[str, Any]], sub: str | None) -> core_rows.Write:
    parameters: dict[str, Any] = {"audit_key": _CHAIN_LOCK} | ({"sub": sub} if sub is not None else {})
    for index, row in enumerate(rows):
        parameters |= {f"r{index}_{name}": value for name, value in row.items()}
        parameters[f"r{index}_content"] = audit_chain.canonical(**row)
    return _chained_insert_statement(len(rows), sub is not None), parameters


def _locked_head_rows(session: SyncSession, sub: str | None) -> Any:
    """PostgreSQL: the lock and the head (audit_chain_head_locked, migration 0012), the account type of
    ``sub``, and the transaction's deferred writes: one round trip."""
    statement = _locked_head_and_account_type_statement() if sub is not None else _locked_head_statement()
    parameters: dict[str, Any] = {"audit_key": _CHAIN_LOCK} | ({"sub": sub} if sub is not None else {})
    statement, parameters = core_rows.carrying_deferred(session, statement, parameters)
    head_rows = core_rows.run_in_commit(session, statement, parameters)  # by asyncpg if it can
    return (
        head_rows[0] if head_rows is not None else session.connection().execute(statement, parameters).one()
    )


def _write_after_head(session: SyncSession, rows: list[dict[str, Any]], found: Any) -> Any:
    """The rows chained after the head ``found[0]`` (read under the lock), by one INSERT; ``found``."""
    previous = found[0] or audit_chain.GENESIS
    values = []
    for row in rows:
        content = audit_chain.canonical(**row)
        chain_hash = audit_chain.link(previous, content)
        values.append(row | {"prev_hash": previous, "chain_hash": chain_hash})
        previous = chain_hash
    # A plain INSERT of every row at once: they are never read back here, so the ORM's unit of work would
    # be pure cost. One statement built once, given the rows (several: SQLAlchemy's "insertmanyvalues",
    # still one round trip; a multi-row VALUES built per call was compiled again every time).
    if core_rows.run_in_commit(session, _insert_rows_statement(), values) is None:
        session.connection().execute(_insert_statement(), values[0] if len(values) == 1 else values)
    return found


async def entries(session: AsyncSession, action: str | None = None, limit: int = 1000) -> list[AuditEntry]:
    await write_queued(session)
    statement = select(AuditEntry).order_by(col(AuditEntry.id)).limit(limit)
    if action:
        statement = statement.where(col(AuditEntry.action) == action)
    return list((await session.execute(statement)).scalars())


@dataclass(frozen=True)
class Break:
    """The first record where the chain does not hold, and how."""

    id: int
    problem: str  # "edited", or "chain_broken" (a record before it was deleted, inserted or reordered)


@dataclass(frozen=True)
class Verification:
    checked: int
    head: str  # the last record's hash: keep it elsewhere to detect a removed tail later
    first_break: Break | None


async def verify(session: AsyncSession, batch: int = 1000) -> Verification:
    """Walks the whole trail in id order, a batch at a time (memory stays flat however long it is)."""
    await write_queued(session)
    expected = audit_chain.GENESIS
    checked = 0
    async for entry in _in_order(session, batch):
        assert entry.id is not None
        if entry.prev_hash != expected:
            return Verification(checked, expected, Break(entry.id, "chain_broken"))
        content = audit_chain.canonical(
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            outcome=entry.outcome,
            reason=entry.reason,
            sub=entry.sub,
            details=entry.details,
        )
        if entry.chain_hash != audit_chain.link(expected, content):
            return Verification(checked, expected, Break(entry.id, "edited"))
        expected = entry.chain_hash
        checked += 1
    return Verification(checked, expected, None)


async def _in_order(session: AsyncSession, batch: int) -> AsyncIterator[AuditEntry]:
    after = 0
    while True:
        statement = select(AuditEntry).where(col(AuditEntry.id) > after).order_by(col(AuditEntry.id))
        rows = list((await session.execute(statement.limit(batch))).scalars())
        for entry in rows:
            yield entry
        if len(rows) < batch:
            return
        last = rows[-1].id
        assert last is not None
        after = last
        session.expunge_all()
