"""The policy table of ../shared/DESIGN.md, at its exact boundaries in Vietnam time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from broker.domain.accounts import AccountStatus, AccountType, LoginMethod
from broker.domain.policy import (
    Reason,
    Rules,
    may_create_account,
    may_log_in,
    may_release_data,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
VNEID_ONLY = datetime(2024, 6, 15, tzinfo=VN)
FROZEN = datetime(2024, 7, 1, tzinfo=VN)
LETTERS = Rules(
    citizen_vneid_only_from=VNEID_ONLY,
    unlinked_legacy_frozen_from=FROZEN,
    organisation_vneid_only_from=None,
    foreigner_vneid_only_from=None,
    officer_citizen_creation_disabled_from=VNEID_ONLY,
)
SECOND = timedelta(seconds=1)

CITIZEN, ORG, FOREIGNER = AccountType.CITIZEN, AccountType.ORGANISATION, AccountType.FOREIGNER
PASSWORD, VNEID = LoginMethod.LEGACY_PASSWORD, LoginMethod.VNEID
# (stored status, linked to VNeID): what the policy is told of an account beside its type.
Standing = tuple[AccountStatus, bool]
LINKED: Standing = (AccountStatus.ACTIVE, True)
UNLINKED: Standing = (AccountStatus.ACTIVE, False)
STORED_FROZEN: Standing = (AccountStatus.FROZEN, False)
MERGED: Standing = (AccountStatus.MERGED, False)
DISABLED: Standing = (AccountStatus.DISABLED, False)


@pytest.mark.parametrize(
    ("account_type", "method", "state", "at", "allowed", "reason"),
    [
        # citizens by password: allowed (with a nudge) until the last second of 14/6, refused from 00:00 on 15/6
        (CITIZEN, PASSWORD, UNLINKED, VNEID_ONLY - SECOND, True, Reason.ALLOWED),
        (CITIZEN, PASSWORD, UNLINKED, VNEID_ONLY, False, Reason.CITIZEN_VNEID_ONLY),
        (CITIZEN, PASSWORD, LINKED, VNEID_ONLY, False, Reason.CITIZEN_VNEID_ONLY),
        # 00:00 on 15/6 in Vietnam is 17:00 on 14/6 in UTC: the UTC date must not fool the policy
        (CITIZEN, PASSWORD, UNLINKED, datetime(2024, 6, 14, 16, 59, 59, tzinfo=UTC), True, Reason.ALLOWED),
        (
            CITIZEN,
            PASSWORD,
            UNLINKED,
            datetime(2024, 6, 14, 17, 0, 0, tzinfo=UTC),
            False,
            Reason.CITIZEN_VNEID_ONLY,
        ),
        # citizens by VNeID: always
        (CITIZEN, VNEID, UNLINKED, FROZEN + SECOND, True, Reason.ALLOWED),
        (CITIZEN, VNEID, STORED_FROZEN, FROZEN, True, Reason.ALLOWED),
        # organisations and foreigners keep their passwords (no date set yet)
        (ORG, PASSWORD, UNLINKED, FROZEN + timedelta(days=900), True, Reason.ALLOWED),
        (FOREIGNER, PASSWORD, UNLINKED, FROZEN + timedelta(days=900), True, Reason.ALLOWED),
        (ORG, VNEID, UNLINKED, FROZEN, False, Reason.VNEID_NOT_FOR_ORGANISATIONS),
        # merged and disabled accounts never log in
        (CITIZEN, VNEID, MERGED, VNEID_ONLY - SECOND, False, Reason.ACCOUNT_MERGED),
        (ORG, PASSWORD, DISABLED, VNEID_ONLY - SECOND, False, Reason.ACCOUNT_DISABLED),
    ],
)
def test_may_log_in(
    account_type: AccountType,
    method: LoginMethod,
    state: Standing,
    at: datetime,
    allowed: bool,
    reason: Reason,
) -> None:
    decision = may_log_in(account_type, method, *state, at, LETTERS)
    assert (decision.allowed, decision.reason) == (allowed, reason)


def test_before_the_cutoff_an_unlinked_citizen_is_nudged_to_link_vneid() -> None:
    assert may_log_in(CITIZEN, PASSWORD, *UNLINKED, VNEID_ONLY - SECOND, LETTERS).suggest_linking
    assert not may_log_in(CITIZEN, PASSWORD, *LINKED, VNEID_ONLY - SECOND, LETTERS).suggest_linking


def test_a_province_that_deploys_later_sets_the_dates_later() -> None:
    later = Rules(
        citizen_vneid_only_from=datetime(2099, 1, 1, tzinfo=VN),
        unlinked_legacy_frozen_from=datetime(2099, 2, 1, tzinfo=VN),
        organisation_vneid_only_from=None,
        foreigner_vneid_only_from=None,
        officer_citizen_creation_disabled_from=None,
    )
    assert may_log_in(CITIZEN, PASSWORD, *UNLINKED, datetime(2026, 11, 22, tzinfo=VN), later).allowed


@pytest.mark.parametrize(
    ("account_type", "state", "at", "allowed"),
    [
        (CITIZEN, UNLINKED, FROZEN - SECOND, True),
        (CITIZEN, UNLINKED, FROZEN, False),
        (CITIZEN, UNLINKED, datetime(2024, 6, 30, 17, 0, 0, tzinfo=UTC), False),  # 00:00 1/7 in Vietnam
        (CITIZEN, UNLINKED, datetime(2024, 6, 30, 16, 59, 59, tzinfo=UTC), True),
        (CITIZEN, LINKED, FROZEN + timedelta(days=365), True),
        (CITIZEN, STORED_FROZEN, FROZEN - timedelta(days=1), False),
        (ORG, UNLINKED, FROZEN + timedelta(days=365), True),
        (FOREIGNER, UNLINKED, FROZEN + timedelta(days=365), True),
        (CITIZEN, MERGED, FROZEN - SECOND, False),
    ],
)
def test_may_release_data(account_type: AccountType, state: Standing, at: datetime, allowed: bool) -> None:
    assert may_release_data(account_type, *state, at, LETTERS).allowed is allowed


def test_organisations_own_date_applies_when_set() -> None:
    rules = Rules(**{**vars(LETTERS), "organisation_vneid_only_from": datetime(2025, 1, 1, tzinfo=VN)})
    assert may_log_in(ORG, PASSWORD, *UNLINKED, datetime(2024, 12, 31, 23, 59, 59, tzinfo=VN), rules).allowed
    refused = may_log_in(ORG, PASSWORD, *UNLINKED, datetime(2025, 1, 1, tzinfo=VN), rules)
    assert refused.reason is Reason.ORGANISATION_VNEID_ONLY


@pytest.mark.parametrize(
    ("officer", "account_type", "at", "reason"),
    [
        (True, CITIZEN, VNEID_ONLY - SECOND, Reason.ALLOWED),
        (True, CITIZEN, VNEID_ONLY, Reason.OFFICER_CITIZEN_CREATION_DISABLED),
        (True, ORG, VNEID_ONLY + timedelta(days=500), Reason.ALLOWED),
        (False, ORG, VNEID_ONLY - SECOND, Reason.ROLE_REQUIRED),
    ],
)
def test_may_create_account(officer: bool, account_type: AccountType, at: datetime, reason: Reason) -> None:
    assert may_create_account(officer, account_type, at, LETTERS).reason is reason


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError):
        may_log_in(CITIZEN, PASSWORD, *UNLINKED, datetime(2024, 6, 15), LETTERS)
    with pytest.raises(ValueError):
        Rules(**{**vars(LETTERS), "citizen_vneid_only_from": datetime(2024, 6, 15)})
