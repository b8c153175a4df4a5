"""Reading and validating legacy account exports (DESIGN.md, "Contracts"), one row at a time.

A file is read as a stream, so memory stays flat whatever its size: ``records`` yields each data row as a
``LegacyRow`` or, when it breaks the contract, as a ``Rejected`` carrying its original text, its line number
(the header is line 1; a quoted cell spanning lines counts from the line where its row starts) and the
reasons. CSV as in the contract (extra columns allowed), or JSON Lines with the same field names.

Identification and tax numbers are not refused for their content: a wrong number is what the clean-up
counts (``broker.domain.classification``), so it is kept as the old system had it, up to the column's width.
Reasons never carry an identification number in full, a password hash or personal data.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, TextIO

from broker.domain import passwords
from broker.domain.accounts import AccountType
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
    "cmnd": 12,
    "cccd": 12,
    "password_hash": passwords.MAX_ENCODED_CHARS,
}
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_ACCOUNT_TYPES = frozenset(AccountType)


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
    text: str = ""  # the row as the file wrote it, for the reject file should the database refuse it
    content_hash: str = ""  # digest of every field: a re-import writes only rows whose digest changed

    @property
    def key(self) -> tuple[str, str]:
        return (self.source_system, self.legacy_id)


@dataclass(frozen=True)
class Rejected:
    line: int
    text: str  # the original line(s), as in the file
    errors: tuple[RowError, ...]

    @property
    def reason(self) -> str:
        return "; ".join(
            f"{error.column}: {error.message}" if error.column else error.message for error in self.errors
        )


class UnreadableFile(Exception):
    """The file as a whole cannot be read on (header, encoding, CSV syntax)."""

    def __init__(self, error: RowError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class ParsedFile:
    """A whole small file in memory: for tests and callers that want every row at once."""

    rows: list[LegacyRow]
    errors: list[RowError]
    invalid_rows: int = 0
    unreadable: bool = False
    rejected: list[Rejected] = field(default_factory=list)


def read_file(source: TextIO | Path, today: date) -> ParsedFile:
    parsed = ParsedFile([], [])
    try:
        with open_source(source) as stream:
            for item in records(stream, today, jsonl=_is_jsonl(source)):
                if isinstance(item, Rejected):
                    parsed.rejected.append(item)
                    parsed.errors.extend(item.errors)
                    parsed.invalid_rows += 1
                else:
                    parsed.rows.append(item)
    except UnreadableFile as unreadable:
        parsed.errors.append(unreadable.error)
        parsed.unreadable = True
    return parsed


@contextmanager
def open_source(source: TextIO | Path) -> Iterator[TextIO]:
    """A path opened as UTF-8 (a spreadsheet's byte order mark dropped), or a stream used as given."""
    if isinstance(source, Path):
        with source.open(encoding="utf-8-sig", newline="") as stream:
            yield stream
    else:
        yield source


def _is_jsonl(source: TextIO | Path) -> bool:
    return isinstance(source, Path) and source.suffix.lower() == ".jsonl"


def records(stream: Iterable[str], today: date, *, jsonl: bool = False) -> Iterator[LegacyRow | Rejected]:
    """Every data row of ``stream``, in order. Raises ``UnreadableFile`` where reading cannot go on."""
    return _json_lines(stream, today) if jsonl else _csv_rows(stream, today)


class _LineTap:
    """Hands the CSV reader one physical line at a time and remembers them, so that a rejected row can be
    written out exactly as the file had it (a quoted cell may span several lines)."""

    def __init__(self, stream: Iterable[str]) -> None:
        self._lines = iter(stream)
        self.taken: list[str] = []

    def __iter__(self) -> _LineTap:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.taken.append(line)
        return line

    def text(self) -> str:
        taken = self.taken
        text = (taken[0] if len(taken) == 1 else "".join(taken)).rstrip("\r\n")  # mostly one line
        taken.clear()
        return text


def _csv_rows(stream: Iterable[str], today: date) -> Iterator[LegacyRow | Rejected]:
    for item in csv_cells(stream):
        if isinstance(item, Rejected):
            yield item
        else:
            line, text, cells = item
            yield _checked(line, text, dict(zip(HEADER, cells, strict=True)), today)


def csv_cells(stream: Iterable[str]) -> Iterator[tuple[int, str, list[str]] | Rejected]:
    """Each data row's line number, original text and cells in ``HEADER`` order (extra columns left out),
    unchecked; or a ``Rejected`` row of the wrong width. Raises ``UnreadableFile`` where reading cannot
    go on."""
    tap = _LineTap(stream)
    reader = csv.reader(tap)
    try:
        header = next(reader, None)
        if header is None:
            raise UnreadableFile(RowError(1, None, "the file is empty: a header line is required"))
        errors: list[RowError] = []
        columns = _check_header(header, errors)
        if columns is None:
            raise UnreadableFile(
                errors[0] if len(errors) == 1 else RowError(1, None, "; ".join(e.message for e in errors))
            )
        tap.text()
        width = len(header)
        positions = list(columns.values())
        in_order = positions == list(range(len(HEADER)))
        next_line = reader.line_num + 1
        for cells in reader:
            line, next_line = next_line, reader.line_num + 1
            text = tap.text()
            if not (cells and cells[0].strip()) and not "".join(cells).strip():
                continue  # blank line (a first cell with text says at once that it is not)
            if len(cells) != width:
                # Usually a stray comma or an unclosed quote: guessing which cell moved would import wrong data.
                yield Rejected(
                    line, text, (RowError(line, None, f"{len(cells)} cells where the header has {width}"),)
                )
                continue
            yield line, text, (cells if in_order and width == len(HEADER) else [cells[i] for i in positions])
    except UnicodeDecodeError as error:
        raise UnreadableFile(RowError(reader.line_num + 1, None, "the file is not valid UTF-8")) from error
    except csv.Error as error:
        raise UnreadableFile(RowError(reader.line_num, None, f"unreadable CSV: {error}")) from error


def _json_lines(stream: Iterable[str], today: date) -> Iterator[LegacyRow | Rejected]:
    try:
        for line, raw in enumerate(stream, start=1):
            text = raw.rstrip("\r\n")
            if not text.strip():
                continue
            try:
                loaded: Any = json.loads(text)
            except ValueError:
                yield Rejected(line, text, (RowError(line, None, "not a JSON object"),))
                continue
            if not isinstance(loaded, dict):
                yield Rejected(line, text, (RowError(line, None, "not a JSON object"),))
                continue
            cells = {name: _json_cell(loaded.get(name)) for name in HEADER}
            yield _checked(line, text, cells, today, scan="".join(cells.values()))
    except UnicodeDecodeError as error:
        raise UnreadableFile(RowError(0, None, "the file is not valid UTF-8")) from error


def _json_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int)):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _checked(
    line: int, text: str, cells: dict[str, str], today: date, scan: str | None = None
) -> LegacyRow | Rejected:
    """``scan``: where control characters would show (the raw CSV line; decoded JSON values)."""
    errors: list[RowError] = []
    row = _parse_row(line, text, cells, today, errors, text if scan is None else scan)
    if errors or row is None:
        return Rejected(line, text, tuple(errors))
    return row


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
    line: int, text: str, cells: dict[str, str], today: date, errors: list[RowError], scan: str
) -> LegacyRow | None:
    values: dict[str, str | None] = {name: cell.strip() or None for name, cell in cells.items()}
    # One search over the row as written; cell by cell only when it finds something.
    suspicious = _CONTROL.search(scan)
    for name, value in values.items():
        if value is None:
            continue
        if suspicious and _CONTROL.search(value):
            errors.append(RowError(line, name, "contains control characters"))
        elif len(value) > MAX_LENGTH.get(name, 1_000_000):
            errors.append(RowError(line, name, f"longer than {MAX_LENGTH[name]} characters"))
    for name in REQUIRED:
        if values[name] is None:
            errors.append(RowError(line, name, "required"))
    account_type = values["account_type"]
    if account_type is not None and account_type not in _ACCOUNT_TYPES:
        errors.append(RowError(line, "account_type", f"must be one of {', '.join(AccountType)}"))
    birth_date = _birth_date(line, values["birth_date"], today, errors)
    if values["gender"] not in (None, "male", "female"):
        errors.append(RowError(line, "gender", "must be male, female or empty"))
    _check_password(line, values["password_hash"], values["hash_scheme"], errors)
    created_at = _instant(line, values["created_at"], errors)
    key = _username_key(values["username"] or "")
    if values["username"] is not None and not key:
        errors.append(RowError(line, "username", "has no visible characters"))
    elif len(key) > MAX_LENGTH["username"]:
        errors.append(RowError(line, "username", f"longer than {MAX_LENGTH['username']} characters"))
    if errors:
        return None
    digest = hashlib.blake2b(
        "\x1f".join([value or "" for value in values.values()]).encode(), digest_size=16
    ).hexdigest()
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
        text=text,
        content_hash=digest,
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


def _username_key(username: str) -> str:
    # Printable ASCII has nothing to fold but case: the common case skips the per-character Unicode work.
    if username.isascii() and username.isprintable():
        return username.casefold().strip()
    return username_key(username)
