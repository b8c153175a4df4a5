"""Which broker account a verified VNeID identity logs in to: Cases 1, 2 and 3 of the letters.

- Known identity (issuer, subject): its account.
- Case 1, no legacy account carries its numbers: a new account, linked.
- Case 2, one legacy account on its CCCD or its old CMND: that account, linked; the RP keeps seeing its
  ``sub``. Disagreeing name or birth date: linked all the same, flagged, the difference kept for review.
- Case 3, several: when all agree with VNeID the citizen chooses which to keep (broker.login.choose_account);
  when any disagrees an officer decides, and meanwhile the citizen gets in to the best-matching account.
- A legacy account proven by password in this login (the "link your VNeID" step) is linked if its
  numbers do not contradict VNeID's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from broker.domain.accounts import AccountStatus, AccountType, LoginMethod
from broker.domain.identity import VerifiedIdentity
from broker.domain.identity_numbers import mask
from broker.domain.matching import LegacyFacts, differences, match_score, numbers_consistent
from broker.errors import IdentityRefused, PolicyRefused, StoreConflict
from broker.login import account_state
from broker.login.ids import new_subject
from broker.registry import Registry
from broker.store import accounts, audit, cleanup, events, legacy, reviews
from broker.store.database import Session
from broker.store.tables import Account, LegacyAccount, ReviewItem


@dataclass(frozen=True)
class Resolved:
    account: Account
    notice: str | None = None  # "review_notice": a doubtful duplicate went to an officer
    created: bool = False  # Case 1: the account was made by this transaction
    # Found by its link: its oldest legacy record, read with it (for its clean-up class)
    oldest_legacy: LegacyAccount | cleanup.Unread | None = cleanup.UNREAD


@dataclass(frozen=True)
class MustChoose:
    candidate_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Refused:
    """The policy refused the account the identity logs in to (the refusal is audited in the transaction)."""

    reason: str


async def account_for(
    registry: Registry, identity: VerifiedIdentity, link_account_id: int | None = None
) -> Resolved | MustChoose:
    """Concurrent first logins of one person race on the unique (issuer, subject) link: one wins, the
    other retries and finds the winner's account.

    Raises PolicyRefused (after auditing the policy's reason) when the account the identity logs in to may
    not log in: every upstream adapter calls this step, so none can skip the policy."""
    try:
        resolved = await _resolve(registry, identity, link_account_id)
    except StoreConflict:
        resolved = await _resolve(registry, identity, link_account_id)
    return allowed(registry, resolved)


def allowed(registry: Registry, resolved: Resolved | MustChoose | Refused) -> Resolved | MustChoose:
    """Raises PolicyRefused for a refusal (its audit row committed), counting it."""
    if isinstance(resolved, Refused):
        registry.metrics.logins.labels(LoginMethod.VNEID.value, resolved.reason).inc()
        raise PolicyRefused(resolved.reason)
    return resolved


async def _resolve(
    registry: Registry, identity: VerifiedIdentity, link_account_id: int | None
) -> Resolved | MustChoose | Refused:
    async with registry.db.transaction() as session:
        return await resolve_in(registry, session, identity, link_account_id)


async def resolve_in(
    registry: Registry,
    session: Session,
    identity: VerifiedIdentity,
    link_account_id: int | None,
    new_account_units: tuple[str | None, str | None] | None = None,
    read: accounts.FirstLookup | None = None,
) -> Resolved | MustChoose | Refused:
    """``account_for`` in the caller's transaction (the login callback's one transaction): a StoreConflict
    (a concurrent first login linked first) rolls it back, and the caller runs it again.
    ``new_account_units``: the client's and VNeID's unit, for an account this login makes: it is
    classified before its INSERT (``new_account``, by ``cleanup.new_account_columns``). ``read``: the
    identity's lookup, read outside the transaction (``accounts.first_lookup_alone``), not read again."""
    now = registry.clock()
    if read is not None:
        lookup = accounts.attach_lookup(session, read)
    else:
        lookup = await accounts.first_lookup(
            session,
            identity.issuer,
            identity.subject,
            identity.identification_number,
            identity.old_identification_number,
        )
    found = lookup.by_link
    if found is not None:
        known, previous_level, oldest_legacy = found
        decision = await account_state.may_log_in(  # found by its link: linked
            registry, session, known, LoginMethod.VNEID, now, linked=True
        )
        if not decision.allowed:
            await audit.append(
                session,
                at=now,
                actor=f"citizen:{known.sub}",
                action="login.vneid",
                outcome="refused",
                reason=decision.reason,
                sub=known.sub,
                details={"identification_number": mask(identity.identification_number)},
            )
            return Refused(decision.reason.value)
        await events.identifier_change(session, known, identity.identification_number, now)
        if _complete(known, identity):
            # Only a change of its data: a returning citizen's login, recorded on its link, leaves the
            # account's row alone (no UPDATE, no new row version, no lock on it beside a concurrent login).
            known.updated_at = now
        await events.level_changed(session, known, previous_level, identity.level, now)
        await accounts.touch_link(session, identity.issuer, identity.subject, identity.level, now)
        await _unfreeze(session, known, registry)
        # A Case 3 group still waiting for an officer (or for the citizen's later decision).
        return Resolved(
            known, notice="review_reminder" if known.needs_review else None, oldest_legacy=oldest_legacy
        )
    if link_account_id is not None:
        proven = await _proven_by_password(session, identity, link_account_id, registry)
        if proven is not None:
            return proven
    same_person = await _verified_elsewhere(session, identity, registry, lookup.holder)
    if same_person is not None:
        return same_person
    candidates = await _candidates(session, identity, lookup.matches)
    if not candidates:
        created = await _create(session, identity, registry, new_account_units, lookup.new_id)
        return Resolved(created, created=True)
    if len(candidates) == 1:
        account, records = next(iter(candidates.values()))
        return Resolved(await _link(session, account, records, identity, registry, "number_match"))
    doubtful = {
        account_id: diff
        for account_id, (_, records) in candidates.items()
        if (diff := _differences(records, identity))
    }
    if not doubtful:
        return MustChoose(sorted(candidates))
    best = max(candidates.values(), key=lambda pair: (_score(pair[1], identity), -(pair[0].id or 0)))
    await reviews.add(
        session,
        ReviewItem(
            kind="duplicate_accounts",
            account_ids=sorted(candidates),
            details={
                "identification_number": mask(identity.identification_number),
                "old_identification_number": mask(identity.old_identification_number),
                "differences": {str(k): v for k, v in doubtful.items()},
                "logged_in_to": best[0].sub,
            },
            created_at=now,
        ),
    )
    account = await _link(session, best[0], best[1], identity, registry, "duplicate_to_review")
    account.needs_review = True  # later logins remind the citizen until an officer decides
    return Resolved(account, notice="review_notice")


async def _verified_elsewhere(
    session: Session, identity: VerifiedIdentity, registry: Registry, held_by: Account | None
) -> Resolved | None:
    """Issue 10: the same citizen through another upstream lands on the account that already holds the
    number another upstream verified: a second link row, never a second account. An upstream that already
    gave this account another subject is refused: its subjects are not stable, or someone is trying."""
    if identity.identification_number is None:
        return None
    holder = await accounts.surviving(session, held_by)  # read with the link (``first_lookup``)
    if holder is None or holder.id is None:
        return None
    links = await accounts.links_of(session, holder.id)
    if any(link.issuer == identity.issuer and link.subject == identity.subject for link in links):
        # This very identity, linked by a concurrent first login that committed after this transaction
        # looked for it: run again, and it is found by its link (not a changed subject).
        raise StoreConflict("linked by a concurrent first login")
    if any(link.issuer == identity.issuer for link in links):
        raise IdentityRefused(
            "upstream_subject_changed", "this upstream linked the number to another subject"
        )
    return Resolved(
        await link_identity(session, holder, identity, registry, "verified_number_other_upstream")
    )


async def _candidates(
    session: Session, identity: VerifiedIdentity, rows: list[tuple[Account, LegacyAccount]]
) -> dict[int, tuple[Account, list[LegacyAccount]]]:
    """``rows``: the legacy citizen accounts on the identity's numbers (read with the link)."""
    found: dict[int, tuple[Account, list[LegacyAccount]]] = {}
    for account, record in rows:
        assert account.id is not None
        if account.status in (AccountStatus.MERGED, AccountStatus.DISABLED):
            continue
        if any(link.issuer == identity.issuer for link in await accounts.links_of(session, account.id)):
            continue  # already someone's VNeID account: never taken over by a number match
        found.setdefault(account.id, (account, []))[1].append(record)
    return found


async def _proven_by_password(
    session: Session, identity: VerifiedIdentity, account_id: int, registry: Registry
) -> Resolved | None:
    account = await accounts.get(session, account_id)
    if (
        account is None
        or account.merged_into_id is not None
        or account.status == AccountStatus.DISABLED
        or await accounts.has_link(session, account_id)
    ):
        return None
    if identity.identification_number is not None:
        holder = await accounts.holder_of_number(session, identity.identification_number)
        if holder is not None and holder.id != account_id:
            return None  # another upstream already verified this person on their own account: that one wins
    records = await legacy.for_account(session, account_id)
    if not all(numbers_consistent(_facts(record), identity) for record in records):
        await audit.append(
            session,
            at=registry.clock(),
            actor=f"citizen:{account.sub}",
            action="account.link",
            outcome="refused",
            reason="numbers_contradict_vneid",
            sub=account.sub,
            details={"identification_number": mask(identity.identification_number)},
        )
        return None
    return Resolved(await _link(session, account, records, identity, registry, "password_proof"))


async def link_identity(
    session: Session, account: Account, identity: VerifiedIdentity, registry: Registry, reason: str
) -> Account:
    """Links ``identity`` to ``account`` (whose legacy records are compared with VNeID's data)."""
    assert account.id is not None
    return await _link(
        session, account, await legacy.for_account(session, account.id), identity, registry, reason
    )


async def _link(
    session: Session,
    account: Account,
    records: list[LegacyAccount],
    identity: VerifiedIdentity,
    registry: Registry,
    reason: str,
) -> Account:
    now = registry.clock()
    assert account.id is not None
    diff = _differences(records, identity)
    await _add_link(session, account, identity, now)
    if diff:
        account.needs_review = True
        await reviews.add(
            session,
            ReviewItem(
                kind="identity_mismatch",
                account_ids=[account.id],
                details={"differences": diff, "identification_number": mask(identity.identification_number)},
                created_at=now,
            ),
        )
    await events.identifier_change(session, account, identity.identification_number, now)
    _complete(account, identity)
    account.updated_at = now
    await cleanup.reclassify_linked(session, account, now)  # issue 9: the account is now "linked"
    await events.append(session, "account.linked", account.sub, now)
    await audit.append(
        session,
        at=now,
        actor=f"citizen:{account.sub}",
        action="account.link",
        outcome="done",
        reason=reason,
        sub=account.sub,
        details={
            "identification_number": mask(identity.identification_number),
            "old_identification_number": mask(identity.old_identification_number),
            "flagged_for_review": bool(diff),
        },
    )
    await _unfreeze(session, account, registry)
    return account


async def _create(
    session: Session,
    identity: VerifiedIdentity,
    registry: Registry,
    units: tuple[str | None, str | None] | None = None,
    new_id: int | None = None,
) -> Account:
    """``new_id``: the id ``accounts.first_lookup`` drew for it (PostgreSQL): its rows then go out with the
    transaction's last statement."""
    now = registry.clock()
    account = new_account(identity, units, now, new_id)
    link = link_columns(identity, now)
    number = identity.identification_number
    if new_id is not None:
        account = await accounts.insert_linked_at_commit(session, account, new_id, number, now, **link)
    else:
        account = await accounts.insert_linked(session, account, number, now, **link)
    await audit.append(session, **created_row(now, account.sub, identity))
    return account


def new_account(
    identity: VerifiedIdentity,
    units: tuple[str | None, str | None] | None,
    now: datetime,
    account_id: int | None = None,
) -> Account:
    """Case 1's account, not yet written: VNeID's data, and its unit and class when ``units`` (the
    client's and VNeID's) are given; ``account_id``: the id drawn for it, if one was."""
    # Everything given at construction, not set after it: one statement, not an INSERT and an UPDATE,
    # and no ``setattr`` through pydantic and the instrumentation per value
    values = cleanup.Unbuilt(
        sub=new_subject(),
        account_type=AccountType.CITIZEN,
        status=AccountStatus.ACTIVE,
        created_at=now,
        updated_at=now,
        **dict(_verified(identity)),
    )
    if account_id is not None:
        values["id"] = account_id
    if units is not None:
        values |= cleanup.new_account_columns(values, *units, now)
    return accounts.new(**values)


def created_row(at: datetime, sub: str, identity: VerifiedIdentity) -> dict[str, Any]:
    """The audit row of Case 1's account (``audit.row``'s)."""
    return audit.row(
        at=at,
        actor=f"citizen:{sub}",
        action="account.create",
        outcome="done",
        reason="first_vneid_login",
        sub=sub,
        details={"identification_number": mask(identity.identification_number)},
    )


async def _unfreeze(session: Session, account: Account, registry: Registry) -> None:
    if account.status == AccountStatus.FROZEN:
        now = registry.clock()
        account.status, account.updated_at = AccountStatus.ACTIVE, now
        await events.append(session, "account.unfrozen", account.sub, now)
        await audit.append(
            session,
            at=now,
            actor=f"citizen:{account.sub}",
            action="account.unfreeze",
            outcome="done",
            reason="vneid_login",
            sub=account.sub,
        )


async def _add_link(session: Session, account: Account, identity: VerifiedIdentity, now: datetime) -> None:
    assert account.id is not None
    await accounts.add_link_holding_number(
        session, identity.identification_number, now, account_id=account.id, **link_columns(identity, now)
    )


def link_columns(identity: VerifiedIdentity, now: datetime) -> dict[str, Any]:
    """A new link's columns but its account's id: the identity it links, made and last used now."""
    return {
        "issuer": identity.issuer,
        "subject": identity.subject,
        "level": identity.level,
        "created_at": now,
        "last_login_at": now,
    }


def _facts(record: LegacyAccount) -> LegacyFacts:
    return LegacyFacts(record.full_name, record.birth_date, record.cmnd, record.cccd)


def _differences(records: list[LegacyAccount], identity: VerifiedIdentity) -> dict[str, object]:
    found: dict[str, object] = {}
    for record in records:
        found.update(differences(_facts(record), identity))
    return found


def _score(records: list[LegacyAccount], identity: VerifiedIdentity) -> int:
    return max(match_score(_facts(record), identity) for record in records)


def _complete(account: Account, identity: VerifiedIdentity) -> bool:
    """VNeID is the authority on identity data once linked: its verified values replace the account's
    (the legacy record keeps what the old system had). Only a value that differs is set (issue 7: a known
    citizen's are the same, and each ``setattr`` goes through pydantic and the ORM's instrumentation).
    Whether any value changed."""
    changed = completion(account, identity)
    for key, verified in changed:
        setattr(account, key, verified)
    return bool(changed)


def completion(account: Account, identity: VerifiedIdentity) -> list[tuple[str, Any]]:
    """What ``_complete`` would set on the account: VNeID's values that differ from its own."""
    return [(key, verified) for key, verified in _verified(identity) if verified != getattr(account, key)]


def _verified(identity: VerifiedIdentity) -> list[tuple[str, Any]]:
    """VNeID's values of the account's identity data, those it gave."""
    return [
        (key, verified)
        for key, verified in (
            ("name", identity.name),
            ("birthdate", identity.birthdate),
            ("gender", identity.gender),
            ("identification_number", identity.identification_number),
            ("old_identification_number", identity.old_identification_number),
        )
        if verified
    ]
