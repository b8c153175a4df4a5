"""Structure of the 12-digit personal identification number (số định danh cá nhân, CCCD).

Circular 07/2016/TT-BCA, as summarised in DESIGN.md: digits 1–3 are the province of birth
registration (001–096), digit 4 encodes gender and century (even = male, odd = female; 0/1 for
1900–1999, 2/3 for 2000–2099, 4/5 for 2100–2199, ...), digits 5–6 are the last two digits of the
birth year, digits 7–12 are random.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

Gender = Literal["male", "female"]

_TWELVE_DIGITS = re.compile(r"[0-9]{12}")
_FIRST_CENTURY = 1900
_LAST_YEAR = 2399  # digit 4 runs out at 9 (female, 2300–2399)


def gender_century_digit(gender: Gender, year: int) -> int:
    if not _FIRST_CENTURY <= year <= _LAST_YEAR:
        raise ValueError(f"birth year {year} cannot be encoded (1900–2399)")
    return 2 * ((year - _FIRST_CENTURY) // 100) + (1 if gender == "female" else 0)


def structure_problems(number: str, gender: Gender, birthdate: date) -> list[str]:
    """Every way `number` disagrees with the CCCD structure and the holder's data; empty if none."""
    if not _TWELVE_DIGITS.fullmatch(number):
        return ["must be exactly 12 digits"]
    problems: list[str] = []
    province = int(number[0:3])
    if not 1 <= province <= 96:
        problems.append(f"province code {number[0:3]} is outside 001–096")
    try:
        expected = gender_century_digit(gender, birthdate.year)
    except ValueError as exc:
        return [*problems, str(exc)]
    if int(number[3]) != expected:
        problems.append(f"digit 4 is {number[3]} but a {gender} born in {birthdate.year} needs {expected}")
    if number[4:6] != f"{birthdate.year % 100:02d}":
        problems.append(f"digits 5–6 are {number[4:6]} but the birth year is {birthdate.year}")
    return problems
