"""Authentication context classes (OIDC Core §3.1.2.1 ``acr_values``, §2 ``acr``) mapped to VNeID's levels.

An RP's ``acr_values`` lists acceptable classes: the lowest known one is what the login must reach. A
client's ``default_acr_values`` apply when the request names none, and its minimum always applies.
"""

from __future__ import annotations

from collections.abc import Iterable

ACR_LEVEL_1 = "urn:vneid:loa:level1"
ACR_LEVEL_2 = "urn:vneid:loa:level2"
LEVELS = {ACR_LEVEL_1: 1, ACR_LEVEL_2: 2}
SUPPORTED = tuple(LEVELS)


def level_of(acr: str | None) -> int:
    """The level an ``acr`` proves; anything unknown (legacy passwords too) proves nothing: 0."""
    return LEVELS.get(acr or "", 0)


def acr_for(level: int) -> str | None:
    return next((acr for acr, value in LEVELS.items() if value == level), None)


def required_level(requested: Iterable[str], default: Iterable[str], minimum: str | None) -> int:
    known = [LEVELS[value] for value in requested if value in LEVELS]
    if not known:
        known = [LEVELS[value] for value in default if value in LEVELS]
    level = min(known) if known else 1
    return max(level, level_of(minimum))
