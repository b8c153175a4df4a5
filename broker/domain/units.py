"""Vietnam's administrative units (đơn vị hành chính): codes to names, and a code to its parent levels.

Legacy exports carry the 2024 codes of three levels: province (2 digits), district (3), commune (5), as
in the General Statistics Office's list. That list is shipped as ``broker/data/units_2024.json.gz``
(built by ``seed/make_units_2024.py`` from the ``vietnam-provinces`` package's last three-level
release). Since 1/7/2025 there are 34 provinces and two levels; those units come from the current
``vietnam-provinces`` package. The new list gave each merged commune the code of one of the communes it
absorbed, so an old commune code maps to today's commune (and province) exactly where the new list
reuses that code; elsewhere the mapping is left empty rather than guessed.

Accounts with no unit, or created at a first VNeID login with no unit known, are in the explicit unit
``UNKNOWN``.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources

UNKNOWN = "unknown"
UNKNOWN_NAME = "Không xác định"


class Level(StrEnum):
    PROVINCE = "province"
    DISTRICT = "district"
    COMMUNE = "commune"


_LEVEL_BY_WIDTH = {2: Level.PROVINCE, 3: Level.DISTRICT, 5: Level.COMMUNE}
_DEPTH = {Level.PROVINCE: 0, Level.DISTRICT: 1, Level.COMMUNE: 2}


@dataclass(frozen=True)
class Unit:
    code: str
    name: str | None  # None: a code the list does not know
    level: Level | None
    province_code: str | None = None
    # Today's (since 1/7/2025) commune and province, where the new list maps the old code.
    current_province: str | None = None
    current_commune: str | None = None


@cache
def _units_2024() -> dict[str, dict[str, list[str]]]:
    data = resources.files("broker.data").joinpath("units_2024.json.gz").read_bytes()
    loaded: dict[str, dict[str, list[str]]] = json.loads(gzip.decompress(data))
    return loaded


@cache
def _units_2025() -> tuple[dict[int, str], dict[int, tuple[str, int]]]:
    """Today's provinces {code: name} and communes {code: (name, province code)}."""
    from vietnam_provinces import Province, Ward

    provinces = {int(p.code): p.name for p in Province.iter_all()}
    communes = {int(w.code): (w.name, int(w.province_code)) for w in Ward.iter_all()}
    return provinces, communes


def normalise_code(code: str | None) -> str:
    """The code as the lists write it; empty or missing is ``UNKNOWN``."""
    if code is None or not code.strip():
        return UNKNOWN
    return code.strip()


def resolve(code: str | None) -> Unit:
    code = normalise_code(code)
    if code == UNKNOWN:
        return Unit(UNKNOWN, UNKNOWN_NAME, None)
    level = _LEVEL_BY_WIDTH.get(len(code)) if code.isdigit() else None
    data = _units_2024()
    if level is Level.PROVINCE and code in data["provinces"]:
        return Unit(code, data["provinces"][code][0], level, code, *_today(code, None))
    if level is Level.DISTRICT and code in data["districts"]:
        name, province = data["districts"][code]
        return Unit(code, name, level, province, *_today(province, None))
    if level is Level.COMMUNE and code in data["communes"]:
        name, district = data["communes"][code]
        province = data["districts"][district][1]
        return Unit(code, name, level, province, *_today(province, code))
    return Unit(code, None, None)


def _today(province: str, commune: str | None) -> tuple[str | None, str | None]:
    provinces, communes = _units_2025()
    if commune is not None and int(commune) in communes:
        name, current_province = communes[int(commune)]
        return provinces[current_province], name
    successor = _province_successors().get(province)
    return (provinces[successor] if successor is not None else None), None


@cache
def _province_successors() -> dict[str, int]:
    """Each 2024 province's province today: the one most of its communes' reused codes now belong to (a
    province that kept its code maps to itself)."""
    provinces, communes = _units_2025()
    data = _units_2024()
    votes: dict[str, Counter[int]] = {}
    for code, (_, district) in data["communes"].items():
        if int(code) in communes:
            votes.setdefault(data["districts"][district][1], Counter())[communes[int(code)][1]] += 1
    found = {old: counter.most_common(1)[0][0] for old, counter in votes.items()}
    found.update({old: int(old) for old in data["provinces"] if int(old) in provinces})
    return found


def roll_up(code: str | None, level: Level) -> str:
    """The code of the unit at ``level`` that contains ``code``. A code coarser than ``level``, or one the
    list does not know, stays as it is (a report never invents a finer unit)."""
    unit = resolve(code)
    if unit.level is None or _DEPTH[unit.level] <= _DEPTH[level]:
        return unit.code
    if level is Level.PROVINCE:
        return unit.province_code or unit.code
    return _units_2024()["communes"][unit.code][1]  # a commune's district


def is_known(code: str) -> bool:
    return resolve(code).name is not None


def for_first_login(client_unit: str | None, claimed_unit: str | None) -> str:
    """The unit of an account created at a first VNeID login: the relying party's (a client setting),
    else the unit of VNeID's address claims, else ``UNKNOWN``, said explicitly."""
    for candidate in (client_unit, claimed_unit):
        if candidate and is_known(candidate.strip()):
            return candidate.strip()
    return UNKNOWN


def all_communes() -> list[tuple[str, str, str]]:
    """(commune, district, province) codes of the 2024 list: for synthetic exports and tests."""
    data = _units_2024()
    return [
        (code, district, data["districts"][district][1])
        for code, (_, district) in sorted(data["communes"].items())
    ]
