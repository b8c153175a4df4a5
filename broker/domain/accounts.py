"""What an account is, independent of storage."""

from __future__ import annotations

from enum import StrEnum


class AccountType(StrEnum):
    CITIZEN = "citizen"
    ORGANISATION = "organisation"
    FOREIGNER = "foreigner"


class AccountStatus(StrEnum):
    """An account's stored status: the one name for it (the policy also asks whether it is linked)."""

    ACTIVE = "active"
    FROZEN = "frozen"  # an unlinked legacy citizen account past the freeze date (stored by the sweep)
    MERGED = "merged"  # retired into another account (Case 3); its sub lives on as an alias
    DISABLED = "disabled"


class LoginMethod(StrEnum):
    VNEID = "vneid"
    LEGACY_PASSWORD = "legacy_password"
