"""Reading and validating the legacy accounts CSV (DESIGN.md, "Contracts"), before anything is written.

Every row is checked and every fault reported with its line number (the header is line 1; a quoted cell
spanning lines counts from the line where its row starts). Error messages never carry an identification
number in full, a password hash or personal data: numbers are masked, other values left out.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import TextIO

from broker.domain import passwords
from broker.domain.accounts import AccountType
from broker.domain.identity_numbers import is_cccd, is_cmnd, mask
from broker.domain.usernames import username_key
from broker.settings import VIETNAM

HEADER = (
    "source_system",
    "legacy_id",
    "username",
    "account_type",
    "full_name",
    "birth_date",
    "gender",
    "cmnd",
    "cccd",
    "org_name",
    "tax_code",
    "email",
    "phone",
    "unit_code",
    "password_hash",
    "hash_scheme",
    "created_at",
)
REQUIRED = ("source_system", "legacy_id", "username", "account_type")
# The widths of the legacy_accounts columns: a clean error here rather than a database error later.
MAX_LENGTH = {
    "source_system": 100,
    "legacy_id": 100,
    "username": 200,
    "full_name": 200,
    "org_name": 300,
    "tax_code": 20,
    "email": 200,
    "phone": 30,
    "unit_code": 20,
    "password_hash": passwords.MAX_ENCODED_CHARS,
}
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TAX_CODE = re.compile(r"\d{10}(-\d{3})?")  # enterprise code, and a branch's -NNN suffix
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class RowError:
    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", {self.column}" if self.column else "")
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class LegacyRow:
    line: int
    source_system: str
    legacy_id: str
    username: str
    username_key: str
    account_type: str
    full_name: str | None
    birth_date: date | None
    gender: str | None
    cmnd: str | None
    cccd: str | None
    org_name: str | None
    tax_code: str | None
    email: str | None
    phone: str | None
    unit_code: str | None
    password_hash: str | None
    hash_scheme: str | None
    created_at: datetime | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.source_system, self.legacy_id)


@dataclass
class ParsedFile:
    rows: list[LegacyRow]
    errors: list[RowError]
    invalid_rows: int = 0  # data rows with at least one error
    # The file as a whole cannot be trusted (header, encoding, CSV syntax): nothing may be imported,
    # not even with --skip-invalid, since rows after the fault were never read.
    unreadable: bool = False


def read_file(source: TextIO | Path, today: date) -> ParsedFile:
    """Parses and validates the whole file; ``today`` (Vietnam) bounds birth dates."""
    if isinstance(source, Path):
        # utf-8-sig: spreadsheets save a byte order mark in front of the header.
        with source.open(encoding="utf-8-sig", newline="") as stream:
            return _read(stream, today)
    return _read(source, today)


def _read(stream: Iterable[str], today: date) -> ParsedFile:
    reader = csv.reader(stream)
    parsed = ParsedFile([], [])
    keys: list[tuple[tuple[str, str] | None, int]] = []
    try:
        header = next(reader, None)
        if header is None:
            parsed.errors.append(RowError(1, None, "the file is empty: a header line is required"))
            parsed.unreadable = True
            return parsed
        columns = _check_header(header, parsed.errors)
        if columns is None:
            parsed.unreadable = True
            return parsed
        width = len(header)
        next_line = reader.line_num + 1
        for cells in reader:
            line, next_line = next_line, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue  # blank line
            keys.append(_key(cells, columns, line))
            row_errors: list[RowError] = []
            row = _parse_row(line, cells, width, columns, today, row_errors)
            if row_errors:
                parsed.errors.extend(row_errors)
                parsed.invalid_rows += 1
            elif row is not None:
                parsed.rows.append(row)
    except UnicodeDecodeError:
        parsed.errors.append(RowError(reader.line_num + 1, None, "the file is not valid UTF-8"))
        parsed.unreadable = True
    except csv.Error as error:
        parsed.errors.append(RowError(reader.line_num, None, f"unreadable CSV: {error}"))
        parsed.unreadable = True
    if not parsed.unreadable:
        _refuse_repeated_ids(parsed, [(key, line) for key, line in keys if key is not None])
    return parsed


def _key(cells: list[str], columns: dict[str, int], line: int) -> tuple[tuple[str, str] | None, int]:
    if len(cells) <= max(columns["source_system"], columns["legacy_id"]):
        return None, line
    system, legacy_id = cells[columns["source_system"]].strip(), cells[columns["legacy_id"]].strip()
    return ((system, legacy_id) if system and legacy_id else None), line


def _check_header(header: list[str], errors: list[RowError]) -> dict[str, int] | None:
    names = [name.strip().lstrip("\ufeff").strip().lower() for name in header]
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    missing = [name for name in HEADER if name not in names]
    if repeated:
        errors.append(RowError(1, None, f"repeated columns: {', '.join(repeated)}"))
    if missing:
        errors.append(RowError(1, None, f"missing columns: {', '.join(missing)}"))
    if repeated or missing:
        return None
    return {name: names.index(name) for name in HEADER}


def _parse_row(
    line: int, cells: list[str], width: int, columns: dict[str, int], today: date, errors: list[RowError]
) -> LegacyRow | None:
    if len(cells) != width:
        # Usually a stray comma or an unclosed quote: guessing which cell moved would import wrong data.
        errors.append(RowError(line, None, f"{len(cells)} cells where the header has {width}"))
        return None
    values: dict[str, str | None] = {}
    for name, index in columns.items():
        value = cells[index].strip()
        values[name] = value or None
        if _CONTROL.search(value):
            errors.append(RowError(line, name, "contains control characters"))
        elif name in MAX_LENGTH and len(value) > MAX_LENGTH[name]:
            errors.append(RowError(line, name, f"longer than {MAX_LENGTH[name]} characters"))
    for name in REQUIRED:
        if values[name] is None:
            errors.append(RowError(line, name, "required"))
    account_type = values["account_type"]
    if account_type is not None and account_type not in tuple(AccountType):
        errors.append(RowError(line, "account_type", f"must be one of {', '.join(AccountType)}"))
    birth_date = _birth_date(line, values["birth_date"], today, errors)
    if values["gender"] not in (None, "male", "female"):
        errors.append(RowError(line, "gender", "must be male, female or empty"))
    _check_numbers(line, values, errors)
    _check_password(line, values["password_hash"], values["hash_scheme"], errors)
    created_at = _instant(line, values["created_at"], errors)
    key = username_key(values["username"] or "")
    if values["username"] is not None and not key:
        errors.append(RowError(line, "username", "has no visible characters"))
    elif len(key) > MAX_LENGTH["username"]:
        errors.append(RowError(line, "username", f"longer than {MAX_LENGTH['username']} characters"))
    if errors:
        return None
    return LegacyRow(
        line=line,
        source_system=values["source_system"] or "",
        legacy_id=values["legacy_id"] or "",
        username=values["username"] or "",
        username_key=key,
        account_type=account_type or "",
        full_name=values["full_name"],
        birth_date=birth_date,
        gender=values["gender"],
        cmnd=values["cmnd"],
        cccd=values["cccd"],
        org_name=values["org_name"],
        tax_code=values["tax_code"],
        email=values["email"],
        phone=values["phone"],
        unit_code=values["unit_code"],
        password_hash=values["password_hash"],
        hash_scheme=values["hash_scheme"],
        created_at=created_at,
    )


def _birth_date(line: int, value: str | None, today: date, errors: list[RowError]) -> date | None:
    if value is None:
        return None
    try:
        if not _ISO_DATE.fullmatch(value):
            raise ValueError(value)
        parsed = date.fromisoformat(value)
    except ValueError:
        errors.append(RowError(line, "birth_date", "must be a date written YYYY-MM-DD"))
        return None
    if parsed > today or parsed.year < 1880:
        errors.append(RowError(line, "birth_date", "is not a plausible birth date"))
        return None
    return parsed


def _check_numbers(line: int, values: dict[str, str | None], errors: list[RowError]) -> None:
    cmnd, cccd, tax_code = values["cmnd"], values["cccd"], values["tax_code"]
    if cmnd is not None and not is_cmnd(cmnd):
        errors.append(RowError(line, "cmnd", f"{mask(cmnd)} is not a CMND number (9 or 12 digits)"))
    if cccd is not None and not is_cccd(cccd):
        errors.append(RowError(line, "cccd", f"{mask(cccd)} is not a valid personal identification number"))
    if tax_code is not None and not _TAX_CODE.fullmatch(tax_code):
        errors.append(RowError(line, "tax_code", "must be 10 digits, or 10 digits, '-' and 3 digits"))


def _check_password(line: int, encoded: str | None, scheme: str | None, errors: list[RowError]) -> None:
    if encoded is None and scheme is None:
        return  # an account without a password: it can only ever log in through VNeID
    if scheme is None:
        errors.append(RowError(line, "hash_scheme", "required when password_hash is given"))
    elif scheme not in passwords.SCHEMES:
        errors.append(RowError(line, "hash_scheme", f"must be one of {', '.join(passwords.SCHEMES)}"))
    elif encoded is None:
        errors.append(RowError(line, "password_hash", "required when hash_scheme is given"))
    elif not passwords.is_well_formed(scheme, encoded):
        errors.append(RowError(line, "password_hash", f"is not a valid {scheme} hash"))


def _instant(line: int, value: str | None, errors: list[RowError]) -> datetime | None:
    """ISO 8601 date or date-time; without an offset it is Vietnam time."""
    if value is None:
        return None
    try:
        if _ISO_DATE.fullmatch(value):
            parsed = datetime.combine(date.fromisoformat(value), time())
        else:
            parsed = datetime.fromisoformat(value)
    except ValueError:
        errors.append(RowError(line, "created_at", "must be an ISO 8601 date or date-time"))
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=VIETNAM)


def _refuse_repeated_ids(parsed: ParsedFile, keys: list[tuple[tuple[str, str], int]]) -> None:
    """(source_system, legacy_id) names one account: a file that gives it twice is ambiguous, so every
    occurrence is refused (with --skip-invalid none of them is imported). ``keys`` holds every data
    row's key and line, valid or not."""
    lines_of: dict[tuple[str, str], list[int]] = {}
    for key, line in keys:
        lines_of.setdefault(key, []).append(line)
    repeated = {key: lines for key, lines in lines_of.items() if len(lines) > 1}
    if not repeated:
        return
    for lines in repeated.values():
        for line in lines:
            others = ", ".join(str(other) for other in lines if other != line)
            parsed.errors.append(
                RowError(line, "legacy_id", f"(source_system, legacy_id) also appears on line {others}")
            )
    still_valid = [row for row in parsed.rows if row.key not in repeated]
    parsed.invalid_rows += len(parsed.rows) - len(still_valid)
    parsed.rows = still_valid
    parsed.errors.sort(key=lambda error: error.line)
