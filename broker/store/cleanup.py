"""Keeping each account's clean-up class current (issue 9): the one store function that link, merge,
freeze and reconcile call, and the unit of an account created at a first VNeID login."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.clock import VIETNAM
from broker.domain import units
from broker.domain.accounts import AccountStatus
from broker.domain.classification import Cleanup, Facts, classify, name_key
from broker.store.tables import Account, LegacyAccount, UpstreamLink

_CHUNK = 500


async def reclassify(session: AsyncSession, account_ids: Sequence[int | None], at: datetime) -> None:
    """Recomputes the stored class (and name key) of these accounts from what the database holds now:
    their links, whether merged, their numbers (the account's, else the first legacy record's as the old
    system had them). A suspected duplicate stays one until it is linked or merged. ``at`` bounds the
    birth years a number may encode."""
    today = at.astimezone(VIETNAM).date()
    ids = sorted({account_id for account_id in account_ids if account_id is not None})
    for start in range(0, len(ids), _CHUNK):
        batch = ids[start : start + _CHUNK]
        found = (await session.execute(select(Account).where(col(Account.id).in_(batch)))).scalars()
        linked = set(
            (
                await session.execute(
                    select(UpstreamLink.account_id).where(col(UpstreamLink.account_id).in_(batch))
                )
            ).scalars()
        )
        records: dict[int, LegacyAccount] = {}
        statement = (
            select(LegacyAccount)
            .where(col(LegacyAccount.account_id).in_(batch))
            .order_by(col(LegacyAccount.id).desc())
        )
        for each in (await session.execute(statement)).scalars():
            records[each.account_id] = each  # the oldest record wins: descending order
        for account in found:
            assert account.id is not None
            _classify(account, records.get(account.id), account.id in linked, today)


class Unread:
    """A value the caller has not read (as opposed to one it read and found absent)."""


UNREAD = Unread()


async def reclassify_linked(
    session: AsyncSession,
    account: Account,
    at: datetime,
    oldest_legacy: LegacyAccount | Unread | None = UNREAD,
) -> None:
    """``reclassify`` for one account this transaction loaded (or created) and that is linked: only its
    oldest legacy record is read (issue 7: a login read the account and its links again), unless the
    caller read it with the account (``oldest_legacy``)."""
    if isinstance(oldest_legacy, Unread):
        statement = (
            select(LegacyAccount)
            .where(col(LegacyAccount.account_id) == account.id)
            .order_by(col(LegacyAccount.id))
            .limit(1)
        )
        oldest_legacy = (await session.execute(statement)).scalars().first()
    _classify(account, oldest_legacy, True, at.astimezone(VIETNAM).date())


def _classify(account: Account, record: LegacyAccount | None, linked: bool, today: date) -> None:
    cleanup_class, key = _class_of(account, record, linked, today)
    # Set only when they change (issue 7: a known citizen's login leaves both as they were).
    if account.cleanup_class != cleanup_class:
        account.cleanup_class = cleanup_class
    if account.name_key != key:
        account.name_key = key


def login_keeps_class(account: Account, oldest_legacy: LegacyAccount | None, at: datetime) -> bool:
    """Whether ``after_vneid_login`` would leave a linked account found by its link as it is: it has a
    unit, and its class and name key are what its login would compute (a returning citizen's, as a rule)."""
    computed = _class_of(account, oldest_legacy, True, at.astimezone(VIETNAM).date())
    return account.unit_code is not None and computed == (account.cleanup_class, account.name_key)


def _class_of(
    account: Account | Unbuilt, record: LegacyAccount | None, linked: bool, today: date
) -> tuple[str, str | None]:
    facts = Facts(
        account_type=account.account_type,
        cccd=account.identification_number or (record.cccd if record else None),
        cmnd=account.old_identification_number or (record.cmnd if record else None),
        birth_date=account.birthdate or (record.birth_date if record else None),
        gender=account.gender or (record.gender if record else None),
        tax_code=account.tax_code,
        linked=linked,
        merged=account.merged_into_id is not None or account.status == AccountStatus.MERGED,
        duplicate_suspect=account.cleanup_class == Cleanup.DUPLICATE_SUSPECT,
    )
    return (
        classify(facts, today).value,
        name_key(account.name or (record.full_name if record else None)),
    )


class Unbuilt(dict[str, Any]):
    """An account's values before its object is built, read as the object's attributes (a column not
    given reads as None, as the ones ``_class_of`` reads default)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # the protocols' hooks (copy, pickle) are not columns
            raise AttributeError(name)
        return self.get(name)


def new_account_columns(
    account: Account | Unbuilt, client_unit: str | None, claimed_unit: str | None, at: datetime
) -> dict[str, Any]:
    """The unit and class of an account this login makes, before its INSERT (issue 7: written with it,
    not by an UPDATE after it): nothing to read, no legacy record can name it yet. ``Unbuilt``: its values,
    so that the object is built with these (a ``setattr`` after construction goes through pydantic and
    the ORM's instrumentation, and these three cost more than the rest of the account)."""
    cleanup_class, key = _class_of(account, None, True, at.astimezone(VIETNAM).date())
    return {
        "unit_code": account.unit_code or units.for_first_login(client_unit, claimed_unit),
        "cleanup_class": cleanup_class,
        "name_key": key,
    }


def classify_new(account: Account, client_unit: str | None, claimed_unit: str | None, at: datetime) -> None:
    """``new_account_columns`` set on an account already built (set only where they differ)."""
    for name, value in new_account_columns(account, client_unit, claimed_unit, at).items():
        if getattr(account, name) != value:
            setattr(account, name, value)


async def after_vneid_login(
    session: AsyncSession,
    account: Account,
    client_unit: str | None,
    claimed_unit: str | None,
    at: datetime,
    created: bool = False,
    oldest_legacy: LegacyAccount | Unread | None = UNREAD,
) -> None:
    """After a VNeID login: the account's class follows its new link, and an account without a unit (one
    created at this first login) takes the RP's unit, else VNeID's address unit, else ``unknown``.
    ``account``: as this transaction loaded or created it (linked: the login came through its link);
    ``created``: by this transaction, so seen by no one else and named by no legacy record (issue 7: its
    unit and class go out with the one UPDATE of the account, nothing read); ``oldest_legacy``: its oldest
    legacy record, when the caller read it with the account."""
    if created:
        classify_new(account, client_unit, claimed_unit, at)
        return
    if account.unit_code is None:  # the UPDATE's own condition guards a unit set meanwhile
        await session.execute(
            update(Account)
            .where(col(Account.id) == account.id, col(Account.unit_code).is_(None))
            .values(unit_code=units.for_first_login(client_unit, claimed_unit))
        )
    await reclassify_linked(session, account, at, oldest_legacy)


async def unclassified(session: AsyncSession, limit: int, after_id: int = 0) -> list[int]:
    """Accounts without a class, by id from ``after_id``: each page starts where the last ended (the
    class is not indexed, so a page from the start would walk every classified account again)."""
    statement = (
        select(Account.id)
        .where(col(Account.id) > after_id, col(Account.cleanup_class).is_(None))
        .order_by(col(Account.id))
    )
    return [
        account_id for account_id in (await session.execute(statement.limit(limit))).scalars() if account_id
    ]
