"""THE policy: who may log in how, whose data may be released, who may create citizen accounts, at a given
instant. Pure: the instant is an argument; every date is a setting (the letters' dates are the defaults).

The rules (letter 3701/VPCP-KSTT and the provinces' letters; ../shared/DESIGN.md, "Policy table"):
- citizens log in only with VNeID from ``citizen_vneid_only_from`` (15/6/2024);
- a legacy citizen account not linked to VNeID is frozen from ``unlinked_legacy_frozen_from`` (1/7/2024):
  nothing about it is released until the citizen logs in with VNeID, which links and unfreezes it;
- organisations and foreigners keep their passwords until their own dates (unset: no date yet);
- one-stop officers cannot create citizen accounts from ``officer_citizen_creation_disabled_from``.
Every refusal carries a machine-readable reason; pages and wire errors are chosen from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from broker.domain.accounts import AccountStatus, AccountType, LoginMethod


class Reason(StrEnum):
    ALLOWED = "allowed"
    CITIZEN_VNEID_ONLY = "citizen_vneid_only"
    ORGANISATION_VNEID_ONLY = "organisation_vneid_only"
    FOREIGNER_VNEID_ONLY = "foreigner_vneid_only"
    VNEID_NOT_FOR_ORGANISATIONS = "vneid_not_for_organisations"
    ACCOUNT_FROZEN = "account_frozen"
    ACCOUNT_MERGED = "account_merged"
    ACCOUNT_DISABLED = "account_disabled"
    OFFICER_CITIZEN_CREATION_DISABLED = "officer_citizen_creation_disabled"
    ROLE_REQUIRED = "role_required"


@dataclass(frozen=True)
class Rules:
    citizen_vneid_only_from: datetime | None
    unlinked_legacy_frozen_from: datetime | None
    organisation_vneid_only_from: datetime | None
    foreigner_vneid_only_from: datetime | None
    officer_citizen_creation_disabled_from: datetime | None

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name}: a naive datetime is a bug; give it a time zone")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: Reason
    suggest_linking: bool = False  # before the cut-off: let the citizen in, and offer to link VNeID

    @classmethod
    def allow(cls, suggest_linking: bool = False) -> Decision:
        return cls(True, Reason.ALLOWED, suggest_linking)

    @classmethod
    def refuse(cls, reason: Reason) -> Decision:
        return cls(False, reason)


def _reached(date: datetime | None, at: datetime) -> bool:
    if at.tzinfo is None:
        raise ValueError("a naive datetime is a bug; give the instant a time zone")
    return date is not None and at >= date


def is_frozen(
    account_type: AccountType, status: AccountStatus, linked: bool, at: datetime, rules: Rules
) -> bool:
    """Whether an account's data is withheld: stored frozen, or an unlinked legacy citizen past the date.

    ``linked``: the account holds a VNeID identity (a fact beside its stored status, not a status)."""
    if status is AccountStatus.FROZEN:
        return True
    return (
        account_type is AccountType.CITIZEN
        and status is AccountStatus.ACTIVE
        and not linked
        and _reached(rules.unlinked_legacy_frozen_from, at)
    )


def may_log_in(
    account_type: AccountType,
    method: LoginMethod,
    status: AccountStatus,
    linked: bool,
    at: datetime,
    rules: Rules,
) -> Decision:
    """Asked by every login path: legacy password, VNeID, a Case 3 choice, and single sign-on reuse."""
    if status is AccountStatus.DISABLED:
        return Decision.refuse(Reason.ACCOUNT_DISABLED)
    if status is AccountStatus.MERGED:
        return Decision.refuse(Reason.ACCOUNT_MERGED)
    if method is LoginMethod.VNEID:
        if account_type is not AccountType.CITIZEN:
            return Decision.refuse(Reason.VNEID_NOT_FOR_ORGANISATIONS)
        return Decision.allow()  # a VNeID login links and unfreezes: always the way in
    if account_type is AccountType.CITIZEN:
        if _reached(rules.citizen_vneid_only_from, at):
            return Decision.refuse(Reason.CITIZEN_VNEID_ONLY)
        if is_frozen(account_type, status, linked, at, rules):
            return Decision.refuse(Reason.ACCOUNT_FROZEN)
        return Decision.allow(suggest_linking=not linked)
    if account_type is AccountType.ORGANISATION and _reached(rules.organisation_vneid_only_from, at):
        return Decision.refuse(Reason.ORGANISATION_VNEID_ONLY)
    if account_type is AccountType.FOREIGNER and _reached(rules.foreigner_vneid_only_from, at):
        return Decision.refuse(Reason.FOREIGNER_VNEID_ONLY)
    return Decision.allow()


def may_release_data(
    account_type: AccountType, status: AccountStatus, linked: bool, at: datetime, rules: Rules
) -> Decision:
    """Whether tokens (and so data) may be issued for an account at ``at``: every issuance asks."""
    if status is AccountStatus.DISABLED:
        return Decision.refuse(Reason.ACCOUNT_DISABLED)
    if status is AccountStatus.MERGED:
        return Decision.refuse(Reason.ACCOUNT_MERGED)
    if is_frozen(account_type, status, linked, at, rules):
        return Decision.refuse(Reason.ACCOUNT_FROZEN)
    return Decision.allow()


def may_create_account(officer: bool, account_type: AccountType, at: datetime, rules: Rules) -> Decision:
    """One-stop officers create accounts at the desk; citizen accounts no longer after their date."""
    if not officer:
        return Decision.refuse(Reason.ROLE_REQUIRED)
    if account_type is AccountType.CITIZEN and _reached(rules.officer_citizen_creation_disabled_from, at):
        return Decision.refuse(Reason.OFFICER_CITIZEN_CREATION_DISABLED)
    return Decision.allow()
