"""Vietnamese personal identification numbers (CCCD, 12 digits) and old identity cards (CMND, 9 or 12).

Structure of the 12-digit number (Circular 59/2021/TT-BCA): digits 1-3 the province code of birth
registration (001-096), digit 4 gender and century, digits 5-6 the last two digits of the birth year.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_TWELVE = re.compile(r"\d{12}")
_NINE = re.compile(r"\d{9}")


@dataclass(frozen=True)
class CccdFacts:
    province_code: int
    gender: str  # "male" | "female"
    birth_year_century: int  # 1900, 2000, ...
    birth_year_suffix: int  # 0-99


def is_cccd(value: str) -> bool:
    return parse_cccd(value) is not None


def is_cmnd(value: str) -> bool:
    return bool(_NINE.fullmatch(value)) or bool(_TWELVE.fullmatch(value))


def parse_cccd(value: str) -> CccdFacts | None:
    if not _TWELVE.fullmatch(value):
        return None
    province = int(value[:3])
    if not 1 <= province <= 96:
        return None
    century_digit = int(value[3])
    return CccdFacts(
        province_code=province,
        gender="male" if century_digit % 2 == 0 else "female",
        birth_year_century=1900 + 100 * (century_digit // 2),
        birth_year_suffix=int(value[4:6]),
    )


def agrees_with(value: str, birthdate: date | None, gender: str | None) -> bool:
    """Whether a CCCD number is consistent with a birth date and gender (unknowns agree)."""
    facts = parse_cccd(value)
    if facts is None:
        return False
    if gender is not None and gender != facts.gender:
        return False
    if birthdate is not None:
        return birthdate.year == facts.birth_year_century + facts.birth_year_suffix
    return True


def mask(value: str | None) -> str:
    """Masks an identification number for logs and audit: ``001******789``."""
    if not value:
        return ""
    if len(value) <= 6:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 6) + value[-3:]
