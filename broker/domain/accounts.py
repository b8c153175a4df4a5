"""What an account is, independent of storage."""

from __future__ import annotations

from enum import StrEnum


class AccountType(StrEnum):
    CITIZEN = "citizen"
    ORGANISATION = "organisation"
    FOREIGNER = "foreigner"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    FROZEN = "frozen"
    MERGED = "merged"
    DISABLED = "disabled"


class LoginMethod(StrEnum):
    VNEID = "vneid"
    LEGACY_PASSWORD = "legacy_password"
