"""Accounts and their links to upstream identities."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import bindparam, func, inspect, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.errors import StoreConflict
from broker.store import audit, core_rows
from broker.store.database import Database
from broker.store.tables import Account, AccountAlias, LegacyAccount, UpstreamLink, VerifiedNumber
from broker.store.types import row_of


@dataclass(frozen=True)
class FirstLookup:
    """What a VNeID login looks its account up by, read at once (``first_lookup``)."""

    # the linked account, the level its link last recorded and its oldest legacy record (what its
    # clean-up class is computed from, ``cleanup.reclassify_linked``)
    by_link: tuple[Account, int, LegacyAccount | None] | None
    holder: Account | None  # the account holding the verified number, before any merge is followed
    # legacy citizen accounts on the CCCD or the old CMND, not merged away (Cases 2 and 3 of the letters)
    matches: list[tuple[Account, LegacyAccount]]
    # PostgreSQL, no link found: an account id drawn from the accounts' sequence, for the account a first
    # login may make (``insert_linked_at_commit``); unused by a login that finds one (a gap, as a
    # rolled-back INSERT leaves)
    new_id: int | None = None


async def first_lookup(
    session: AsyncSession, issuer: str, subject: str, number: str | None, old_number: str | None
) -> FirstLookup:
    """The account linked to (issuer, subject); and, only for the login that finds none, the account holding
    the verified ``number`` and the legacy citizen accounts on ``number`` (CCCD) or ``old_number`` (CMND):
    one statement (issue 7: three round trips of a first login), one snapshot. The objects go into the
    session as ``core_rows.fetch``'s reads put them; the holder's merge chain is the caller's to follow."""
    draws = session.get_bind().dialect.name == "postgresql"
    statement, parameters = _first_lookup(issuer, subject, number, old_number, draws)
    rows = await core_rows.read(session, statement, parameters)  # locks nothing: needs no BEGIN
    return _looked_up(rows, lambda columns, values: columns.attached(session, values))


async def first_lookup_alone(
    db: Database, issuer: str, subject: str, number: str | None, old_number: str | None
) -> FirstLookup:
    """``first_lookup`` outside any transaction, as ``Database.rows`` reads (on PostgreSQL by asyncpg, on
    a statement's own snapshot: what ``first_lookup`` reads too, before its transaction's BEGIN). Its
    objects belong to no session: ``attach_lookup`` gives them to the transaction that goes on with them."""
    statement, parameters = _first_lookup(issuer, subject, number, old_number, db.is_postgresql)
    rows = await db.rows(statement, parameters)
    return _looked_up(rows, lambda columns, values: columns.instance(values))


def attach_lookup(session: AsyncSession, lookup: FirstLookup) -> FirstLookup:
    """``first_lookup_alone``'s objects in ``session``, as ``first_lookup`` would have read them there."""
    accounts, records = account_columns(), _legacy_columns()
    by_link = None
    if lookup.by_link is not None:
        account, level, legacy = lookup.by_link
        by_link = (accounts.attach(session, account), level, legacy and records.attach(session, legacy))
    return FirstLookup(
        by_link,
        lookup.holder and accounts.attach(session, lookup.holder),
        [(accounts.attach(session, a), records.attach(session, r)) for a, r in lookup.matches],
        lookup.new_id,
    )


def _first_lookup(
    issuer: str, subject: str, number: str | None, old_number: str | None, draws: bool
) -> core_rows.Write:
    statement = _first_lookup_statement(bool(number), bool(old_number), draws)
    parameters = {"issuer": issuer, "subject": subject}
    parameters |= {key: value for key, value in (("number", number), ("old_number", old_number)) if value}
    return statement, parameters


def _looked_up(rows: list[Any], build: Any) -> FirstLookup:
    accounts, records = account_columns(), _legacy_columns()
    split = len(accounts) + 1
    by_link, holder, matches, new_id = None, None, [], None
    for row in rows:
        kind, account_values, level, legacy_values = row[0], row[1:split], row[split], row[split + 1 :]
        if kind == _NEW_ID:
            new_id = account_values[0]
            continue
        account = build(accounts, account_values)
        legacy = build(records, legacy_values) if legacy_values[0] is not None else None
        if kind == _BY_LINK:
            by_link = (account, level, legacy)
        elif kind == _HOLDER:
            holder = account
        else:
            assert legacy is not None
            matches.append((account, legacy))
    return FirstLookup(by_link, holder, matches, new_id)


_BY_LINK, _HOLDER, _MATCH, _NEW_ID = 0, 1, 2, 3


@functools.cache
def _first_lookup_statement(by_number: bool, by_old_number: bool, draws_id: bool) -> Any:
    """The account by its link (with its oldest legacy record), the holder of the number and the legacy
    matches as one UNION ALL of rows (kind, account, link level, legacy record), built once per kind of
    search (issue 7: building the matching search per login was 2.5 % of a first login). ``draws_id``
    (PostgreSQL): with no link, a row of its own with the next account id (``nextval`` is no write: it
    needs no transaction and is never rolled back)."""
    account: Any = Account.__table__  # type: ignore[attr-defined]
    link: Any = UpstreamLink.__table__  # type: ignore[attr-defined]
    legacy: Any = LegacyAccount.__table__  # type: ignore[attr-defined]
    held: Any = VerifiedNumber.__table__  # type: ignore[attr-defined]
    records = legacy.alias("records")
    oldest = (
        sa.select(func.min(records.c.id))
        .where(records.c.account_id == account.c.id)
        .correlate(account)
        .scalar_subquery()
    )
    accounts, legacy_columns = account_columns().columns, _legacy_columns().columns
    no_level = sa.cast(sa.null(), link.c.level.type)
    no_legacy = [sa.cast(sa.null(), column.type).label(f"no_{column.name}") for column in legacy_columns]
    selects = [
        sa.select(sa.literal_column(str(_BY_LINK)).label("kind"), *accounts, link.c.level, *legacy_columns)
        .select_from(
            account.join(link, link.c.account_id == account.c.id).outerjoin(legacy, legacy.c.id == oldest)
        )
        .where(link.c.issuer == bindparam("issuer"), link.c.subject == bindparam("subject"))
    ]
    # A login found by its link needs neither of the others: not read (a returning citizen's rows).
    unlinked = ~sa.exists().where(
        link.c.issuer == bindparam("issuer"), link.c.subject == bindparam("subject")
    )
    if by_number:
        selects.append(
            sa.select(sa.literal_column(str(_HOLDER)), *accounts, no_level, *no_legacy)
            .select_from(held.join(account, account.c.id == held.c.account_id))
            .where(held.c.identification_number == bindparam("number"), unlinked)
        )
    conditions = []
    if by_number:
        conditions.append(legacy.c.cccd == bindparam("number"))
    if by_old_number:
        conditions.append(legacy.c.cmnd == bindparam("old_number"))
    if conditions:
        selects.append(
            sa.select(sa.literal_column(str(_MATCH)), *accounts, no_level, *legacy_columns)
            .select_from(account.join(legacy, legacy.c.account_id == account.c.id))
            .where(
                sa.or_(*conditions),
                legacy.c.account_type == "citizen",
                account.c.merged_into_id.is_(None),
                unlinked,
            )
        )
    if draws_id:
        no_account = [sa.cast(sa.null(), column.type) for column in accounts[1:]]
        drawn = func.nextval(func.pg_get_serial_sequence(account.name, account.c.id.name))
        selects.append(
            sa.select(
                sa.literal_column(str(_NEW_ID)),
                sa.cast(drawn, account.c.id.type),
                *no_account,
                no_level,
                *no_legacy,
            ).where(unlinked)
        )
    combined: Any = sa.union_all(*selects) if len(selects) > 1 else selects[0]
    # By position (the kind, the account's id, the legacy record's id): names repeat across the tables.
    positions = (1, 2, len(accounts) + 3)
    return core_rows.built_once(combined.order_by(*(sa.literal_column(str(p)) for p in positions)))


@functools.cache
def account_columns() -> core_rows.ModelColumns:
    return core_rows.ModelColumns(Account)


@functools.cache
def _legacy_columns() -> core_rows.ModelColumns:
    return core_rows.ModelColumns(LegacyAccount)


async def defer_changes(session: AsyncSession, account: Account) -> None:
    """The account's changed columns as one UPDATE deferred (``core_rows.defer``) rather than flushed by
    the unit of work as a statement of its own (issue 7: a login changes its account and reads nothing of
    it back from the database). Elsewhere than on PostgreSQL the unit of work writes them as before."""
    if session.get_bind().dialect.name != "postgresql" or account.id is None:
        return
    state = inspect(account)
    changed = {}
    for key in tuple(state.committed_state):  # the attributes set since loaded: only they can differ
        history = state.attrs[key].history
        if history.added and history.added != history.deleted:
            changed[key] = history.added[0]
    # Written by the deferred UPDATE, not by a flush; the attributes set to the value they had are no
    # change either: the account leaves the unit of work's dirty set (issue 7: a known citizen's login
    # ran a whole flush, which found nothing to write, before its next statement).
    state._commit_all(state.dict, session.sync_session.identity_map)
    if not changed:
        return
    keys = tuple(sorted(changed))
    parameters = {f"account_{key}": value for key, value in changed.items()} | {"account_id_": account.id}
    await core_rows.defer(session, _account_update_statement(keys), parameters=parameters)


@functools.cache
def _account_update_statement(keys: tuple[str, ...]) -> Any:
    table: Any = Account.__table__  # type: ignore[attr-defined]
    return core_rows.built_once(
        update(Account)
        .where(col(Account.id) == bindparam("account_id_"))
        .values(core_rows.set_values(table, keys, "account_"))
    )


async def find_by_upstream(session: AsyncSession, issuer: str, subject: str) -> Account | None:
    statement = (
        select(Account)
        .join(UpstreamLink, col(UpstreamLink.account_id) == col(Account.id))
        .where(col(UpstreamLink.issuer) == issuer, col(UpstreamLink.subject) == subject)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def get(session: AsyncSession, account_id: int) -> Account | None:
    return await session.get(Account, account_id)


async def get_by_sub(session: AsyncSession, sub: str) -> Account | None:
    return (await session.execute(select(Account).where(col(Account.sub) == sub))).scalar_one_or_none()


def new(**values: Any) -> Account:
    """``Account(**values)`` built as the ORM's loader builds an object (``core_rows.ModelColumns.built``),
    without SQLModel's construction (issue 7: a ``setattr`` through pydantic and the instrumentation per
    column); for ``insert``."""
    account: Account = account_columns().built(**values)
    return account


async def add(session: AsyncSession, account: Account) -> Account:
    session.add(account)
    await session.flush()
    return account


async def insert(session: AsyncSession, account: Account) -> Account:
    """``add`` by one INSERT … RETURNING id (``core_rows.fetch``) instead of the unit of work's flush
    (issue 7: a first login's costliest statement); the account is then in the session as ``add`` leaves
    it, persistent, its values the committed state."""
    row = row_of(account)
    statement = _insert_returning_id(tuple(row))
    rows = await core_rows.fetch(session, statement, {f"account_{key}": value for key, value in row.items()})
    account.id = rows[0][0]
    core_rows.attach_new(session, account)
    return account


@functools.cache
def _insert_returning_id(keys: tuple[str, ...]) -> Any:
    table: Any = Account.__table__  # type: ignore[attr-defined]
    return core_rows.built_once(
        sa.insert(table).values(core_rows.set_values(table, keys, "account_")).returning(table.c.id)
    )


async def insert_linked(
    session: AsyncSession, account: Account, identification_number: str | None, at: datetime, **link: Any
) -> Account:
    """``insert`` of a new account, then ``add_link_holding_number`` of its first link (``link``: the
    link's columns but ``account_id``): on PostgreSQL one statement (issue 7: a first login's round trip),
    the link and the number data-modifying WITHs that take the new account's id. The guards are the same
    statements': a concurrent first login that linked the same identity first fails this one's link
    INSERT (StoreConflict, and the caller's retry finds that account); a number that another account
    came to hold meanwhile is not taken (ON CONFLICT DO NOTHING) and is a StoreConflict."""
    if session.get_bind().dialect.name != "postgresql":
        account = await insert(session, account)
        assert account.id is not None
        await add_link_holding_number(session, identification_number, at, account_id=account.id, **link)
        return account
    row, link_row = row_of(account), core_rows.model_row(UpstreamLink, account_id=0, **link)
    del link_row["account_id"]  # the new account's, in the statement
    statement = _insert_linked_statement(tuple(row), tuple(link_row), identification_number is not None)
    parameters = {f"account_{key}": value for key, value in row.items()}
    parameters |= {f"link_{key}": value for key, value in link_row.items()}
    if identification_number is not None:
        parameters |= {"held_number": identification_number, "held_at": at}
    (account_id, held), *_ = await core_rows.fetch(session, statement, parameters)
    account.id = account_id
    core_rows.attach_new(session, account)
    if identification_number is not None and not held:
        holder = await holder_of_number(session, identification_number)
        if holder is not None and holder.id != account_id:
            raise StoreConflict("the verified number belongs to another account")
    return account


async def insert_linked_at_commit(
    session: AsyncSession,
    account: Account,
    account_id: int,
    identification_number: str | None,
    at: datetime,
    **link: Any,
) -> Account:
    """``insert_linked`` of an account whose id ``first_lookup`` drew (PostgreSQL), its rows deferred to
    the statement that carries the transaction's writes (issue 7: a first login's callback then sends no
    BEGIN, as a known citizen's). The guards are the same, in that statement: a concurrent first login
    that linked the same identity first fails it on the link's unique key, and a number another account
    came to hold meanwhile (ON CONFLICT DO NOTHING, nothing written) fails it too
    (``core_rows.defer_expecting``): StoreConflict either way, when it runs, and the caller runs the
    login again."""
    (account_statement, parameters), (link_statement, link_parameters), *held = linked_writes(
        account, account_id, identification_number, at, **link
    )
    await core_rows.defer(session, account_statement, link_statement, parameters=parameters | link_parameters)
    for guarded, values in held:
        await core_rows.defer_expecting(session, guarded, values)
    core_rows.attach_new(session, account)
    audit.note_new_account(session, account.sub, account.account_type)
    return account


def linked_writes(
    account: Account, account_id: int, identification_number: str | None, at: datetime, **link: Any
) -> list[core_rows.Write]:
    """``insert_linked_at_commit``'s writes (the account, given its id, its link, the number it now holds,
    guarded), for a statement that carries them (``Database.commit_writes``)."""
    if account.id != account_id:  # given at construction, as a rule (link_account.new_account)
        account.id = account_id
    writes = [
        core_rows.insert_row(Account, row_of(account), "account_"),
        core_rows.insert_row(
            UpstreamLink, core_rows.model_row(UpstreamLink, account_id=account_id, **link), "link_"
        ),
    ]
    if identification_number is not None:
        held = {"held_number": identification_number, "held_account": account_id, "held_at": at}
        writes.append((_hold_new_number(), held))
    return writes


@functools.cache
def _hold_new_number() -> core_rows.Expecting:
    return core_rows.expecting(_hold_number_statement("postgresql"), "number_taken", conflict=True)


@functools.cache
def _hold_number_statement(dialect: str) -> Any:
    """The number's INSERT that takes nothing already held (ON CONFLICT DO NOTHING) and returns the row
    it wrote, if any; parameters ``held_number``, ``held_account``, ``held_at``."""
    numbers: Any = VerifiedNumber.__table__  # type: ignore[attr-defined]
    insert_of = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return core_rows.built_once(
        insert_of(numbers)
        .values(
            identification_number=bindparam("held_number", type_=numbers.c.identification_number.type),
            account_id=bindparam("held_account", type_=numbers.c.account_id.type),
            created_at=bindparam("held_at", type_=numbers.c.created_at.type),
        )
        .on_conflict_do_nothing(index_elements=["identification_number"])
        .returning(numbers.c.account_id)
    )


@functools.cache
def _insert_linked_statement(keys: tuple[str, ...], link_keys: tuple[str, ...], holding: bool) -> Any:
    table: Any = Account.__table__  # type: ignore[attr-defined]
    links: Any = UpstreamLink.__table__  # type: ignore[attr-defined]
    numbers: Any = VerifiedNumber.__table__  # type: ignore[attr-defined]
    new = (
        sa.insert(table)
        .values(core_rows.set_values(table, keys, "account_"))
        .returning(table.c.id)
        .cte("new_account")
    )
    link_values = [bindparam(f"link_{key}", type_=links.c[key].type) for key in link_keys]
    link = sa.insert(links).from_select(["account_id", *link_keys], sa.select(new.c.id, *link_values))
    held: Any = sa.literal(True)
    if holding:
        number = (
            postgresql.insert(numbers)
            .from_select(
                ["identification_number", "account_id", "created_at"],
                sa.select(
                    bindparam("held_number", type_=numbers.c.identification_number.type),
                    new.c.id,
                    bindparam("held_at", type_=numbers.c.created_at.type),
                ),
            )
            .on_conflict_do_nothing(index_elements=["identification_number"])
            .returning(numbers.c.account_id)
            .cte("held_number")
        )
        held = sa.exists().select_from(number)
    statement = sa.select(new.c.id, held).add_cte(link.cte("new_link"))
    return core_rows.built_once(statement)


async def add_link(session: AsyncSession, link: UpstreamLink) -> UpstreamLink:
    """Flushes at once so that a concurrent duplicate surfaces here as an IntegrityError."""
    session.add(link)
    await session.flush()
    return link


async def add_link_holding_number(
    session: AsyncSession, identification_number: str | None, at: datetime, **link: Any
) -> None:
    """``add_link`` of a link of these columns (``UpstreamLink``'s, written without building its object:
    ``core_rows.model_row``), then ``hold_number`` for the number the link verified: on PostgreSQL one
    statement (the link a data-modifying WITH of the number's INSERT; issue 7). A concurrent duplicate
    link is an IntegrityError of that statement, as of ``add_link``."""
    row = core_rows.model_row(UpstreamLink, **link)
    statement, parameters = core_rows.insert_row(UpstreamLink, row, "link_")
    if identification_number is None:
        await core_rows.execute(session, statement, parameters)
        return
    await core_rows.defer(session, statement, parameters=parameters)  # carried by hold_number's INSERT
    await hold_number(session, identification_number, row["account_id"], at)


async def touch_link(session: AsyncSession, issuer: str, subject: str, level: int, at: datetime) -> None:
    # One UPDATE, no read of the link first; nothing reads it back in a login: deferred.
    statement, parameters = touch_link_write(issuer, subject, level, at)
    await core_rows.defer(session, statement, parameters=parameters)


def touch_link_write(issuer: str, subject: str, level: int, at: datetime) -> core_rows.Write:
    """``touch_link``'s UPDATE, for a statement that carries it (``Database.commit_writes``)."""
    parameters = {"touch_issuer": issuer, "touch_subject": subject, "touch_level": level, "touch_at": at}
    return _touch_link_statement(), parameters


@functools.cache
def _touch_link_statement() -> Any:
    table: Any = UpstreamLink.__table__  # type: ignore[attr-defined]
    return core_rows.built_once(
        update(UpstreamLink)
        .where(
            col(UpstreamLink.issuer) == bindparam("touch_issuer"),
            col(UpstreamLink.subject) == bindparam("touch_subject"),
        )
        .values(
            level=bindparam("touch_level", type_=table.c.level.type),
            last_login_at=bindparam("touch_at", type_=table.c.last_login_at.type),
        )
    )


async def get_by_sub_or_alias(session: AsyncSession, sub: str) -> Account | None:
    """The surviving account for a sub, following the alias of a merged-away account."""
    account = await get_by_sub(session, sub)
    if account is not None and account.merged_into_id is None:
        return account
    alias = await session.get(AccountAlias, sub)
    if alias is not None:
        return await get(session, alias.account_id)
    return account


async def has_link(session: AsyncSession, account_id: int) -> bool:
    statement = select(UpstreamLink.id).where(col(UpstreamLink.account_id) == account_id).limit(1)
    return (await session.execute(statement)).first() is not None


async def links_of(session: AsyncSession, account_id: int) -> list[UpstreamLink]:
    statement = select(UpstreamLink).where(col(UpstreamLink.account_id) == account_id)
    return list((await session.execute(statement)).scalars())


async def aliases_of(session: AsyncSession, account_id: int) -> list[AccountAlias]:
    statement = select(AccountAlias).where(col(AccountAlias.account_id) == account_id)
    return list((await session.execute(statement)).scalars())


async def add_alias(session: AsyncSession, alias: AccountAlias) -> None:
    session.add(alias)
    await session.flush()


async def lock(session: AsyncSession, account_ids: list[int]) -> list[Account]:
    """Loads accounts for update, in id order so that concurrent merges cannot deadlock."""
    statement = select(Account).where(col(Account.id).in_(sorted(account_ids))).order_by(col(Account.id))
    return list((await session.execute(statement.with_for_update())).scalars())


async def unlinked_active_citizens(session: AsyncSession, limit: int) -> list[Account]:
    """Active citizen accounts with no VNeID link: the ones the freeze date catches."""
    linked = select(UpstreamLink.id).where(col(UpstreamLink.account_id) == col(Account.id)).exists()
    statement = (
        select(Account)
        .where(
            col(Account.account_type) == "citizen",
            col(Account.status) == "active",
            col(Account.merged_into_id).is_(None),
            ~linked,
        )
        .order_by(col(Account.id))
        .limit(limit)
    )
    return list((await session.execute(statement.with_for_update())).scalars())


async def holder_of_number(session: AsyncSession, identification_number: str) -> Account | None:
    """The surviving account that holds a verified identification number (following a merge): the
    number's account in one statement (``core_rows.fetch``; issue 7: two ORM reads before), then the
    merge chain, if any."""
    rows = await core_rows.fetch(session, _holder_statement(), {"number": identification_number})
    return await surviving(session, account_columns().attached(session, rows[0]) if rows else None)


async def surviving(session: AsyncSession, account: Account | None) -> Account | None:
    """The account itself, or the one it was merged into (following the chain)."""
    seen: set[int] = set()
    while account is not None and account.merged_into_id is not None and account.id not in seen:
        seen.add(account.id or 0)
        account = await get(session, account.merged_into_id)
    return account


@functools.cache
def _holder_statement() -> Any:
    account: Any = Account.__table__  # type: ignore[attr-defined]
    held: Any = VerifiedNumber.__table__  # type: ignore[attr-defined]
    return core_rows.built_once(
        sa.select(*account_columns().columns)
        .select_from(held.join(account, account.c.id == held.c.account_id))
        .where(held.c.identification_number == bindparam("number"))
    )


async def hold_number(
    session: AsyncSession, identification_number: str, account_id: int, at: datetime
) -> None:
    """Records that a verified number belongs to this account.

    Another surviving account holding it (a first login of the same person through another upstream
    committed first) is a StoreConflict, so this transaction rolls back and the caller's retry finds that
    account; of two inserts racing, the second waits for the first to commit, then finds the number held:
    the same conflict, here."""
    # One statement when the number is new (issue 7): the insert itself says whether it was.
    statement = _hold_number_statement(session.get_bind().dialect.name)
    held = {"held_number": identification_number, "held_account": account_id, "held_at": at}
    if await core_rows.fetch(session, statement, held):
        return
    holder = await holder_of_number(session, identification_number)
    if holder is not None and holder.id != account_id:
        raise StoreConflict("the verified number belongs to another account")
