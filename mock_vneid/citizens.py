"""The citizens VNeID knows: loaded from the seed file and checked once, at start-up."""

from __future__ import annotations

import hmac
import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mock_vneid.cccd import Gender, structure_problems

_CMND = re.compile(r"[0-9]{9}|[0-9]{12}")  # most CMND had 9 digits; some provinces issued 12
_PHONE = re.compile(r"\+?[0-9]{9,15}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class CitizenSeedError(ValueError):
    """The seed file cannot be used; the message names the file, the record and the fault."""


class Address(BaseModel):
    """The citizen's registered address, as an OIDC ``address`` claim (Core §5.1.1) with the commune's
    code in the 2024 list of administrative units beside the standard members."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    formatted: str = Field(min_length=1)
    commune_code: str | None = Field(default=None, pattern=r"[0-9]{5}")


class Citizen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    identification_number: str
    password: str = Field(min_length=1)
    name: str = Field(min_length=1)
    birthdate: date
    gender: Gender
    level: Literal[1, 2]
    old_identification_number: str | None = None
    phone_number: str | None = None
    email: str | None = None
    address: Address | None = None

    @field_validator("address", mode="before")
    @classmethod
    def _address_as_text(cls, value: object) -> object:
        # A seed may give the address as plain text, as seeds did before the claim existed.
        return {"formatted": value} if isinstance(value, str) else value

    @field_validator("birthdate", mode="before")
    @classmethod
    def _iso_date_only(cls, value: object) -> object:
        if not (isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value)):
            raise ValueError("must be a YYYY-MM-DD string")
        return value

    @field_validator("old_identification_number")
    @classmethod
    def _cmnd_shape(cls, value: str | None) -> str | None:
        if value is not None and not _CMND.fullmatch(value):
            raise ValueError("an old CMND number has 9 (or 12) digits")
        return value

    @field_validator("phone_number")
    @classmethod
    def _phone_shape(cls, value: str | None) -> str | None:
        if value is not None and not _PHONE.fullmatch(value):
            raise ValueError("must be digits, optionally after a leading +")
        return value

    @field_validator("email")
    @classmethod
    def _email_shape(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.fullmatch(value):
            raise ValueError("is not an e-mail address")
        return value

    @model_validator(mode="after")
    def _cccd_structure(self) -> Citizen:
        problems = structure_problems(self.identification_number, self.gender, self.birthdate)
        if problems:
            raise ValueError("identification_number " + "; ".join(problems))
        if self.old_identification_number == self.identification_number:
            raise ValueError("old_identification_number repeats identification_number")
        return self


@dataclass(frozen=True)
class CitizenDirectory:
    by_number: dict[str, Citizen]

    def __len__(self) -> int:
        return len(self.by_number)

    def get(self, number: str) -> Citizen | None:
        return self.by_number.get(number)

    def authenticate(self, number: str, password: str) -> Citizen | None:
        citizen = self.by_number.get(number)
        # Compare against something even for an unknown number, so timing does not tell them apart.
        expected = citizen.password if citizen else "\x00unknown-citizen\x00"
        matches = hmac.compare_digest(expected.encode(), password.encode())
        return citizen if citizen is not None and matches else None


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def parse_citizens(raw: object, source: str) -> CitizenDirectory:
    if not isinstance(raw, list) or not raw:
        raise CitizenSeedError(f"citizens file {source}: must be a non-empty JSON list of objects")
    by_number: dict[str, Citizen] = {}
    old_numbers: dict[str, str] = {}
    for index, record in enumerate(raw, start=1):
        label = record.get("identification_number", "?") if isinstance(record, dict) else "?"
        where = f"citizens file {source}: record {index} ({label})"
        try:
            citizen = Citizen.model_validate(record)
        except ValidationError as exc:
            raise CitizenSeedError(f"{where}: {_describe(exc)}") from None
        if citizen.identification_number in by_number:
            raise CitizenSeedError(f"{where}: identification_number appears twice")
        old = citizen.old_identification_number
        if old is not None:
            if old in old_numbers:
                raise CitizenSeedError(f"{where}: old_identification_number is also {old_numbers[old]}'s")
            old_numbers[old] = citizen.identification_number
        by_number[citizen.identification_number] = citizen
    return CitizenDirectory(by_number)


def load_citizens(path: Path) -> CitizenDirectory:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CitizenSeedError(f"citizens file {path}: cannot be read ({exc.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CitizenSeedError(f"citizens file {path}: is not valid JSON ({exc})") from None
    return parse_citizens(raw, str(path))
