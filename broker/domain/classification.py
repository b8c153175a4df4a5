"""Where an account stands in the clean-up (làm sạch tài khoản), by the structure of its numbers.

The classes (issue 9; the CCCD structure is in ../shared/DESIGN.md's glossary):

- ``merged``: retired into another account (Case 3);
- ``linked``: linked to a VNeID identity: cleaned;
- ``organisation`` / ``organisation_no_tax_code``: an organisation or enterprise with a valid tax code
  (10 digits, or 13: a branch's ``-NNN``) or without one; ``foreigner``: neither is a citizen, so neither is
  ever counted as a citizen "not cleaned";
- ``duplicate_suspect``: Case 3, found by ``broker legacy reconcile`` (two accounts on one CCCD, or a CMND
  account and a CCCD account with one normalised name and birth date); it stays until linked or merged;
- ``invalid_id``: a number of the wrong length, a province code outside 001-096, or a century digit that
  puts the birth in the future (4-9 today, or 2/3 with a year still to come);
- ``inconsistent_id``: a valid number whose birth year or gender disagrees with the record;
- ``clean_unlinked``: a valid 12-digit number consistent with the record, not yet linked;
- ``cmnd_only``: a 9-digit CMND only (linkable when VNeID returns it as the old number);
- ``no_id``: no number at all.

``frozen`` is not stored: it depends on the instant. ``label`` adds it from the policy (an unlinked legacy
citizen past ``unlinked_legacy_frozen_from``, or frozen by the sweep), so a report is right before the
freeze cron has run and for any ``--as-of`` date.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from broker.domain.accounts import AccountStatus, AccountType
from broker.domain.policy import Rules, is_frozen

_DIGITS = re.compile(r"\d+")
_TAX_CODE = re.compile(r"\d{10}(-?\d{3})?")


class Cleanup(StrEnum):
    LINKED = "linked"
    CLEAN_UNLINKED = "clean_unlinked"
    CMND_ONLY = "cmnd_only"
    NO_ID = "no_id"
    INVALID_ID = "invalid_id"
    INCONSISTENT_ID = "inconsistent_id"
    DUPLICATE_SUSPECT = "duplicate_suspect"
    FROZEN = "frozen"
    MERGED = "merged"
    ORGANISATION = "organisation"
    ORGANISATION_NO_TAX_CODE = "organisation_no_tax_code"
    FOREIGNER = "foreigner"


# Citizens not yet cleaned, in the order a report lists them.
NOT_CLEANED = (
    Cleanup.CLEAN_UNLINKED,
    Cleanup.CMND_ONLY,
    Cleanup.NO_ID,
    Cleanup.INVALID_ID,
    Cleanup.INCONSISTENT_ID,
    Cleanup.DUPLICATE_SUSPECT,
)


@dataclass(frozen=True)
class Facts:
    """What the classification reads: the record's numbers as the old system had them, unchecked."""

    account_type: str
    cccd: str | None = None
    cmnd: str | None = None
    birth_date: date | None = None
    gender: str | None = None
    tax_code: str | None = None
    linked: bool = False
    merged: bool = False
    duplicate_suspect: bool = False


def classify(facts: Facts, today: date) -> Cleanup:
    """The stored class. ``today`` (Vietnam) bounds the birth years a number may encode."""
    if facts.merged:
        return Cleanup.MERGED
    if facts.linked:
        return Cleanup.LINKED
    if facts.duplicate_suspect and facts.account_type not in _NOT_CITIZENS:
        return Cleanup.DUPLICATE_SUSPECT
    return record_class(
        facts.account_type, facts.cccd, facts.cmnd, facts.birth_date, facts.gender, facts.tax_code, today
    )


_NOT_CITIZENS = (AccountType.ORGANISATION, AccountType.FOREIGNER)


def record_class(
    account_type: str,
    cccd: str | None,
    cmnd: str | None,
    birth_date: date | None,
    gender: str | None,
    tax_code: str | None,
    today: date,
) -> Cleanup:
    """The class of an imported record that is neither linked, merged nor a suspected duplicate: what
    ``classify`` answers then, from plain values (the import calls it a million times)."""
    if account_type == AccountType.ORGANISATION:
        valid = tax_code is not None and _TAX_CODE.fullmatch(tax_code)
        return Cleanup.ORGANISATION if valid else Cleanup.ORGANISATION_NO_TAX_CODE
    if account_type == AccountType.FOREIGNER:
        return Cleanup.FOREIGNER
    return _number_class(cccd, cmnd, birth_date, gender, today)


def number_class(facts: Facts, today: date) -> Cleanup:
    return _number_class(facts.cccd, facts.cmnd, facts.birth_date, facts.gender, today)


def _number_class(
    cccd: str | None, cmnd: str | None, birth_date: date | None, gender: str | None, today: date
) -> Cleanup:
    if cccd is None and cmnd is not None and len(cmnd) == 12:
        cccd, cmnd = cmnd, None  # 12-digit cards issued 2016-2021 already carry the CCCD structure
    if cccd is not None:
        year, encoded_gender = cccd_birth(cccd, today)
        if year is None:
            return Cleanup.INVALID_ID
        if (birth_date is not None and birth_date.year != year) or (
            gender is not None and gender != encoded_gender
        ):
            return Cleanup.INCONSISTENT_ID
        return Cleanup.CLEAN_UNLINKED
    if cmnd is not None:
        return Cleanup.CMND_ONLY if len(cmnd) == 9 and _DIGITS.fullmatch(cmnd) else Cleanup.INVALID_ID
    return Cleanup.NO_ID


def cccd_birth(number: str, today: date) -> tuple[int | None, str | None]:
    """The birth year and gender a 12-digit number encodes; (None, None) when it cannot be valid: wrong
    length or characters, province code outside 001-096, or a century digit putting birth in the future."""
    if len(number) != 12 or not _DIGITS.fullmatch(number):
        return None, None
    if not 1 <= int(number[:3]) <= 96:
        return None, None
    century_digit = int(number[3])
    year = 1900 + 100 * (century_digit // 2) + int(number[4:6])
    if year > today.year:
        return None, None
    return year, ("male" if century_digit % 2 == 0 else "female")


def label(stored: Cleanup, account_type: str, frozen_by_sweep: bool, at: datetime, rules: Rules) -> Cleanup:
    """The class at ``at``: ``frozen`` for a citizen not cleaned whom the policy freezes at that instant."""
    if stored not in NOT_CLEANED:
        return stored
    status = AccountStatus.FROZEN if frozen_by_sweep else AccountStatus.ACTIVE
    frozen = is_frozen(AccountType(account_type), status, False, at, rules)
    return Cleanup.FROZEN if frozen else stored


def name_key(name: str | None) -> str | None:
    """A person's name for matching duplicates: without diacritics (đ as d), case or extra spaces, so
    "Nguyễn  Văn An" and "NGUYEN VAN AN" meet."""
    if not name:
        return None
    plain = unicodedata.normalize("NFC", name).translate(_WITHOUT_MARKS)
    if not plain.isascii():  # letters outside Vietnamese: the general (slower) way
        decomposed = unicodedata.normalize("NFKD", plain)
        plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    folded = " ".join(plain.casefold().split())
    return folded[:200] or None


def _marks_table() -> dict[int, str | None]:
    """Latin letters with diacritics (Vietnamese among them) to their base letter, combining marks to
    nothing: one ``str.translate`` instead of a decomposition per character."""
    table: dict[int, str | None] = {code: None for code in range(0x300, 0x370)}
    for code in [*range(0xC0, 0x250), *range(0x1E00, 0x1F00)]:
        base = "".join(c for c in unicodedata.normalize("NFKD", chr(code)) if not unicodedata.combining(c))
        if base != chr(code) and base.isascii():
            table[code] = base
    table[ord("đ")], table[ord("Đ")] = "d", "D"
    return table


_WITHOUT_MARKS = _marks_table()
