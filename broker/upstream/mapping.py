"""An upstream's claims to the neutral ``VerifiedIdentity``, by that upstream's configured claim mapping.

Refusals are ``IdentityRefused`` with a reason code the refusal page and the audit row show: a required
claim missing (``claim_missing:<field>``), a value that cannot be what it claims to be, an account type
that is not a citizen's. Time is passed in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from broker.domain.identity import VerifiedIdentity
from broker.domain.identity_numbers import is_cccd, is_cmnd
from broker.errors import IdentityRefused
from broker.upstream.adapters.base import UpstreamIdentity
from broker.upstream.config import ClaimMapping, UpstreamConfig

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def to_verified(
    raw: UpstreamIdentity, config: UpstreamConfig, now: datetime, acr_of: Callable[[int], str] | None = None
) -> VerifiedIdentity:
    """``acr_of``: the ``acr`` for the identity's level (the broker's values); without it, the upstream's
    own level claim as it came."""
    rules = config.mapping
    values = {name: _text(_claim(raw.claims, claim)) for name, claim in _claim_names(rules).items()}
    missing = [name for name in rules.required if values.get(name) is None]
    if missing:
        raise IdentityRefused(f"claim_missing:{missing[0]}", f"upstream {config.id} gave no {missing[0]}")
    number = values.get("identification_number")
    if number is not None and not is_cccd(number):
        raise IdentityRefused("claims_invalid", "identification_number is not a valid number")
    old_number = values.get("old_identification_number")
    account_type = values.get("account_type")
    if (
        account_type is not None
        and rules.citizen_account_types
        and account_type not in rules.citizen_account_types
    ):
        # Organisations keep their own accounts (the letters' item 4): only citizens come through here.
        raise IdentityRefused("account_type_not_citizen", f"account type {account_type!r}")
    level = _level(raw.claims.get(rules.level) if rules.level else None, rules)
    if acr_of is not None:
        acr = acr_of(level)
    else:
        acr = str(raw.claims.get(rules.level, "")) if rules.level else ""
    return VerifiedIdentity(
        issuer=config.identity_issuer,
        subject=raw.subject,
        identification_number=number,
        old_identification_number=old_number if old_number and is_cmnd(old_number) else None,
        name=values.get("name"),
        birthdate=_date(values.get("birthdate"), rules.birthdate_format),
        gender=rules.gender_values.get(values.get("gender") or ""),
        level=level,
        acr=acr,
        amr=raw.amr,
        auth_time=raw.auth_time or now,
        extra={
            "upstream": config.id,
            **({"logout_uri": uri} if (uri := values.get("logout_uri")) else {}),
            **({"unit_code": unit} if (unit := values.get("unit_code")) else {}),
        },
    )


def _claim_names(rules: ClaimMapping) -> dict[str, str]:
    names = {
        "identification_number": rules.identification_number,
        "old_identification_number": rules.old_identification_number,
        "name": rules.name,
        "birthdate": rules.birthdate,
        "gender": rules.gender,
        "account_type": rules.account_type,
        "level": rules.level,
        "logout_uri": rules.logout_uri,
        "unit_code": rules.unit_code,
    }
    return {name: claim for name, claim in names.items() if claim}


def _claim(claims: dict[str, Any], name: str) -> Any:
    """A claim by name; a dotted name that is not a claim itself reads members of object claims."""
    if name in claims or "." not in name:
        return claims.get(name)
    value: Any = claims
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _level(value: Any, rules: ClaimMapping) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(int(value))
    if isinstance(value, str) and value.strip() in rules.levels:
        return rules.levels[value.strip()]
    return rules.default_level


def _text(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value.strip() or None if isinstance(value, str) else None


def _date(value: str | None, format_: str) -> date | None:
    if not value:
        return None
    try:
        if format_ == "%Y-%m-%d" and _ISO_DATE.fullmatch(value):
            # What strptime gives for this shape, without its cost (0.6 % of a login, issue 7)
            return date(int(value[:4]), int(value[5:7]), int(value[8:]))
        return datetime.strptime(value, format_).replace(tzinfo=UTC).date()
    except ValueError:
        return None
