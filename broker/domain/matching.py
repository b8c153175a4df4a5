"""Whether a legacy record and a verified VNeID identity describe the same person (Cases 2 and 3).

Only numbers from VNeID decide a match; names and birth dates only raise doubt. Never link on an
unverified attribute such as email, phone or name (SECURITY.md, gate 3).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from broker.domain.identity import VerifiedIdentity


@dataclass(frozen=True)
class LegacyFacts:
    full_name: str | None
    birth_date: date | None
    cmnd: str | None
    cccd: str | None


def _normal_name(name: str) -> str:
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def match_score(legacy: LegacyFacts, identity: VerifiedIdentity) -> int:
    """How strongly a legacy record's numbers match: both numbers beat the CCCD alone, which beats the
    CMND alone. Case 3's doubtful pairs log the citizen in to the best-scoring account."""
    cccd = bool(legacy.cccd) and legacy.cccd == identity.identification_number
    cmnd = bool(legacy.cmnd) and legacy.cmnd == identity.old_identification_number
    return 2 * cccd + cmnd


def differences(legacy: LegacyFacts, identity: VerifiedIdentity) -> dict[str, dict[str, Any]]:
    """Name and birth date disagreements (unknown values never disagree), for the officer's review."""
    found: dict[str, dict[str, Any]] = {}
    if legacy.full_name and identity.name and _normal_name(legacy.full_name) != _normal_name(identity.name):
        found["name"] = {"legacy": legacy.full_name, "vneid": identity.name}
    if legacy.birth_date and identity.birthdate and legacy.birth_date != identity.birthdate:
        found["birthdate"] = {
            "legacy": legacy.birth_date.isoformat(),
            "vneid": identity.birthdate.isoformat(),
        }
    return found


def numbers_consistent(legacy: LegacyFacts, identity: VerifiedIdentity) -> bool:
    """For a link proven by password: known numbers must not contradict VNeID's."""
    if legacy.cccd and legacy.cccd != identity.identification_number:
        return False
    return not (
        legacy.cmnd
        and legacy.cmnd not in (identity.old_identification_number, identity.identification_number)
    )
