"""The body of an officer's account-creation request, checked field by field.

Error messages name the rule a field breaks, never the value given: a refused body may hold a personal
identification number, and error answers end up in logs.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from broker.domain.accounts import AccountType
from broker.domain.identity_numbers import agrees_with, is_cccd, mask

_PERSON = ("full_name", "birth_date", "gender", "identification_number")
_ORGANISATION = ("org_name", "tax_code")
_COMMON = ("account_type", "unit_code")
_TAX_CODE = re.compile(r"(\d{10})(?:-?(\d{3}))?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_UNIT_CODE = re.compile(r"[A-Za-z0-9._-]{1,20}")
_DIGITS = re.compile(r"[0-9]{1,20}")
_GENDERS = ("male", "female")
_MAX_REPORTED = 20  # unknown field names echoed back, at most


@dataclass(frozen=True)
class NewAccount:
    account_type: AccountType
    full_name: str | None = None
    birth_date: date | None = None
    gender: str | None = None
    identification_number: str | None = None
    org_name: str | None = None
    tax_code: str | None = None
    unit_code: str | None = None


class InvalidBody(ValueError):
    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("the request body is invalid")
        self.fields = fields


def account_type(body: object) -> AccountType | None:
    """The requested type, when the body names a known one (the policy decides on it first)."""
    value = body.get("account_type") if isinstance(body, Mapping) else None
    return AccountType(value) if isinstance(value, str) and value in set(AccountType) else None


def traces(body: object) -> dict[str, str]:
    """What the audit trail keeps of a request, valid or not: no names; a number only masked; other
    values only when they have their expected shape (a mistyped field may hold anything)."""
    if not isinstance(body, Mapping):
        return {}
    kind, number = account_type(body), body.get("identification_number")
    kept = {
        "account_type": kind.value if kind is not None else None,
        "unit_code": _shaped(body.get("unit_code"), _UNIT_CODE),
        "tax_code": _shaped(body.get("tax_code"), _TAX_CODE),
        "identification_number": mask(number) if _shaped(number, _DIGITS) else None,
    }
    return {name: value for name, value in kept.items() if value}


def parse(body: object, today: date) -> NewAccount:
    """``today`` is Vietnam's date: no one is born after it."""
    if not isinstance(body, Mapping):
        raise InvalidBody({"body": "must be a JSON object (Content-Type: application/json)"})
    kind = account_type(body)
    if kind is None:
        raise InvalidBody({"account_type": "required: one of citizen, organisation, foreigner"})
    allowed = _COMMON + (_ORGANISATION if kind is AccountType.ORGANISATION else _PERSON)
    errors = _misplaced(body, allowed)
    values: dict[str, Any] = {}
    for name, check in _checks(kind, today).items():
        raw = body.get(name)
        if raw is None:
            if name in _required(kind):
                errors[name] = "required"
            continue
        try:
            values[name] = check(raw)
        except ValueError as error:
            errors[name] = str(error)
    number = values.get("identification_number")
    if number is not None and not agrees_with(number, values.get("birth_date"), values.get("gender")):
        errors["identification_number"] = "does not agree with birth_date and gender"
    if errors:
        raise InvalidBody(errors)
    return NewAccount(account_type=kind, **values)


def _required(kind: AccountType) -> tuple[str, ...]:
    if kind is AccountType.ORGANISATION:
        return ("org_name", "tax_code")
    return ("full_name", "birth_date", "gender")


def _misplaced(body: Mapping[Any, Any], allowed: tuple[str, ...]) -> dict[str, str]:
    names = [str(name)[:64] for name in body if name not in allowed and body[name] is not None]
    return {name: "not allowed for this account_type" for name in names[:_MAX_REPORTED]}


def _checks(kind: AccountType, today: date) -> dict[str, Callable[[Any], Any]]:
    if kind is AccountType.ORGANISATION:
        return {"org_name": _text(300), "tax_code": _tax_code, "unit_code": _unit_code}
    return {
        "full_name": _text(200),
        "birth_date": lambda raw: _birth_date(raw, today),
        "gender": _gender,
        "identification_number": _identification_number,
        "unit_code": _unit_code,
    }


def _string(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError("must be a string")
    return raw.strip()


def _text(limit: int) -> Callable[[Any], str]:
    def check(raw: Any) -> str:
        # NFC: Vietnamese letters typed on different keyboards compare and store alike.
        value = unicodedata.normalize("NFC", " ".join(_string(raw).split()))
        if not value:
            raise ValueError("must not be empty")
        if len(value) > limit:
            raise ValueError(f"must be at most {limit} characters")
        if any(unicodedata.category(char).startswith("C") for char in value):
            raise ValueError("must not contain control characters")
        return value

    return check


def _birth_date(raw: Any, today: date) -> date:
    value = _string(raw)
    try:
        if not _DATE.fullmatch(value):
            raise ValueError
        born = date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a date written YYYY-MM-DD") from None
    if not date(1900, 1, 1) <= born <= today:
        raise ValueError("must be a date between 1900-01-01 and today")
    return born


def _gender(raw: Any) -> str:
    value = _string(raw)
    if value not in _GENDERS:
        raise ValueError("must be male or female")
    return value


def _identification_number(raw: Any) -> str:
    value = _string(raw)
    if not is_cccd(value):
        raise ValueError("must be a valid 12-digit personal identification number (CCCD)")
    return value


def _tax_code(raw: Any) -> str:
    match = _TAX_CODE.fullmatch(_string(raw))
    if match is None:
        raise ValueError("must be 10 or 13 digits (NNNNNNNNNN or NNNNNNNNNN-NNN)")
    head, branch = match.groups()
    # The written form of a branch's code keeps its dash: one spelling, so duplicates are found.
    return f"{head}-{branch}" if branch else head


def _unit_code(raw: Any) -> str:
    value = _string(raw)
    if not _UNIT_CODE.fullmatch(value):
        raise ValueError("must be 1 to 20 letters, digits, '.', '_' or '-'")
    return value


def _shaped(value: object, shape: re.Pattern[str]) -> str | None:
    return value if isinstance(value, str) and shape.fullmatch(value) else None
