"""Parsing a legacy export into chunks ready for the staging table (issue 9).

Kept apart from ``legacy_import`` so that the child process that parses a large file imports only this,
the reader and the domain rules: not the database layer.
"""

from __future__ import annotations

import csv
import hashlib
import io
import operator
import os
import re
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import lru_cache
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from broker.admin.legacy_csv import (
    _ACCOUNT_TYPES,
    _CONTROL,
    _ISO_DATE,
    HEADER,
    MAX_LENGTH,
    LegacyRow,
    Rejected,
    UnreadableFile,
    _checked,
    csv_cells,
    open_source,
    records,
)
from broker.clock import naive_utc
from broker.domain import passwords
from broker.domain.classification import Facts, classify, name_key, record_class
from broker.domain.identity_numbers import is_cccd
from broker.settings import VIETNAM


class CsvRows:
    """A chunk's staging rows as CSV in ``COLUMNS`` order (an empty cell is NULL), for PostgreSQL's
    ``COPY``: written by the parsing process with the ``csv`` module, handed over as one bytes object.
    As tuples, pickling them to the importer and unpickling and encoding them there for ``COPY`` cost
    ~10 µs a row, on the critical path of a first import (profiled: bench/README.md, fifth round)."""

    __slots__ = ("count", "csv_data")

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        buffer = io.StringIO()
        # CRLF: a cell holding either character is then quoted (a bare CR would end PostgreSQL's line).
        # No staging value is an empty string (empty cells are None), so an empty cell means NULL.
        csv.writer(buffer, lineterminator="\r\n").writerows(rows)
        self.csv_data = buffer.getvalue().encode()
        self.count = len(rows)

    def __len__(self) -> int:
        return self.count


@dataclass
class Prepared:
    """One chunk ready for the database: staging rows, the text of each (for a late reject), the rejects;
    and the rows found among the stored ones (``KnownDigests``), which go to no staging table: their lines
    and the positions of their digests among the stored ones."""

    size: int
    rows: list[tuple[Any, ...]] | CsvRows
    texts: dict[int, str]
    rejected: list[Rejected]
    known_lines: array[int] = field(default_factory=lambda: array("I"))
    known_positions: array[int] = field(default_factory=lambda: array("I"))


def prepare(chunk: list[LegacyRow | Rejected], today: date) -> Prepared:
    good = [item for item in chunk if isinstance(item, LegacyRow)]
    subs = subjects(len(good))
    return Prepared(
        size=len(chunk),
        rows=[staging_values(row, today, sub) for row, sub in zip(good, subs, strict=True)],
        texts={row.line: row.text for row in good},
        rejected=[item for item in chunk if isinstance(item, Rejected)],
    )


def subjects(count: int) -> list[str]:
    """Random version-4 UUIDs, as ``new_subject`` makes them, from one read of the system's random source."""
    raw = os.urandom(16 * count).hex()
    return [
        f"{h[0:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"
        for h in (raw[32 * index : 32 * (index + 1)] for index in range(count))
    ]


def chunks(items: Iterator[LegacyRow | Rejected], size: int) -> Iterator[list[LegacyRow | Rejected]]:
    chunk: list[LegacyRow | Rejected] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def parse_apart(
    path: str, today: date, size: int, sender: Connection, known: KnownDigests, as_csv: bool = False
) -> None:
    """The child process: parses and prepares chunks, and sends them; the pipe's buffer is the
    back-pressure that keeps at most a chunk or two in flight."""
    source = Path(path)
    try:
        with open_source(source) as stream:
            jsonl = source.suffix.lower() == ".jsonl"
            for prepared in prepared_chunks(stream, today, size, jsonl=jsonl, known=known, as_csv=as_csv):
                sender.send(prepared)
                del prepared  # before the next chunk is read: one chunk in memory, not two
        sender.send(None)
    except UnreadableFile as unreadable:
        sender.send(unreadable.error)
    except (BrokenPipeError, EOFError):
        pass  # the importing process is gone
    finally:
        sender.close()


def staging_values(row: LegacyRow, today: date, sub: str) -> tuple[Any, ...]:
    facts = Facts(row.account_type, row.cccd, row.cmnd, row.birth_date, row.gender, row.tax_code)
    return (
        row.line,
        row.source_system,
        row.legacy_id,
        row.username,
        row.username_key,
        row.account_type,
        row.full_name,
        row.birth_date,
        row.gender,
        row.cmnd,
        row.cccd,
        row.org_name,
        row.tax_code,
        row.email,
        row.phone,
        row.unit_code,
        row.password_hash,
        row.hash_scheme,
        naive_utc(row.created_at) if row.created_at is not None else None,  # staging: naive UTC
        row.content_hash,
        sub,  # random, never derived from a personal number; used only if the row is new
        row.cccd if row.cccd is not None and is_cccd(row.cccd) else None,
        row.cmnd if row.cmnd is not None and len(row.cmnd) in (9, 12) and row.cmnd.isdigit() else None,
        classify(facts, today).value,
        name_key(row.full_name),
    )


def prepared_chunks(
    stream: Iterable[str],
    today: date,
    size: int,
    *,
    jsonl: bool = False,
    known: KnownDigests | None = None,
    as_csv: bool = False,
) -> Iterator[Prepared]:
    """The file as chunks of ``size`` rows (rejected ones included) ready for the staging table.

    A CSV row whose digest is among ``known`` (the stored rows' when the import started) is that stored
    row exactly, so it was valid and is unchanged: only its line and its digest's position are sent,
    unchecked (a re-import's common case); the importer checks such rows for repeated keys itself.
    Other rows take ``_FastRows``' way first; a row it does not pass whole goes through the contract's
    checks (``legacy_csv._checked``), which say why it is rejected, or accept it as the fast way would
    have: the fast way decides nothing on its own but the common case."""
    if jsonl:
        for chunk in chunks(records(stream, today, jsonl=True), size):
            prepared = prepare(chunk, today)
            if as_csv:
                prepared.rows = CsvRows(prepared.rows)  # type: ignore[arg-type]
            yield prepared
        return
    fast = _FastRows(today)
    rows: list[tuple[Any, ...]] = []
    texts: dict[int, str] = {}
    rejected: list[Rejected] = []
    known_lines, known_positions = array("I"), array("I")
    subs: list[str] = []
    count = 0
    for item in csv_cells(stream):
        count += 1
        if isinstance(item, Rejected):
            rejected.append(item)
        else:
            line, text, cells = item
            stripped = list(map(str.strip, cells))
            raw = hashlib.blake2b("\x1f".join(stripped).encode(), digest_size=16).digest()
            values: tuple[Any, ...] | None = None
            position = known.position_of(raw) if known is not None else -1
            if position >= 0:
                known_lines.append(line)
                known_positions.append(position)
                texts[line] = text  # for the reject file, should its key turn out to be repeated
            else:
                digest = raw.hex()
                if not subs:
                    subs = subjects(size)  # made when a chunk first needs one: a re-import needs none
                sub = subs[len(rows)]
                values = fast.row(line, text, stripped, digest, sub)
                if values is None:
                    checked = _checked(line, text, dict(zip(HEADER, cells, strict=True)), today)
                    if isinstance(checked, Rejected):
                        rejected.append(checked)
                    else:
                        values = staging_values(checked, today, sub)
            if values is not None:
                rows.append(values)
                texts[line] = text
        if count >= size:
            staged = CsvRows(rows) if as_csv else rows
            yield Prepared(count, staged, texts, rejected, known_lines, known_positions)
            rows, texts, rejected, count, subs = [], {}, [], 0, []
            known_lines, known_positions = array("I"), array("I")
    if count:
        yield Prepared(
            count, CsvRows(rows) if as_csv else rows, texts, rejected, known_lines, known_positions
        )


class KnownDigests:
    """The stored rows' content digests (sorted, as two arrays of 64-bit halves: 16 bytes a row, where a
    set of strings would take some 90), for the parser to recognise rows it need not check again."""

    def __init__(self) -> None:
        self._high = array("Q")
        self._low = array("Q")

    def add(self, digest: str) -> None:
        """Digests are added in ascending order."""
        self._high.append(int(digest[:16], 16))
        self._low.append(int(digest[16:32], 16))

    def __len__(self) -> int:
        return len(self._high)

    def __contains__(self, digest: object) -> bool:
        return isinstance(digest, str) and self.position(digest) >= 0

    def position(self, digest: str | None) -> int:
        """Where ``digest`` stands among the stored ones, else -1. Keys are unique and a digest covers the
        key, so a position names one stored row: its key."""
        if digest is None or len(digest) != 32:
            return -1
        try:
            return self.position_of(bytes.fromhex(digest))
        except ValueError:
            return -1

    def position_of(self, raw: bytes) -> int:
        """``position`` of a digest as its 16 bytes (half the parser's cost of the hexadecimal form)."""
        if not self._high:
            return -1
        high, low = int.from_bytes(raw[:8], "big"), int.from_bytes(raw[8:16], "big")
        index = bisect_left(self._high, high)
        while index < len(self._high) and self._high[index] == high:
            if self._low[index] == low:
                return index
            index += 1
        return -1


_LIMITS = [MAX_LENGTH.get(name, 1_000_000) for name in HEADER]
_TWELVE_DIGITS = re.compile(r"\d{12}")
_CACHED = 100_000  # distinct dates and instants remembered per import: bounded memory whatever the file


class _FastRows:
    """The contract's checks for a row that passes them all, from its cells to its staging values, without
    the per-row objects of ``LegacyRow``: what the import spends its time on (profiled: issue 9). Returns
    None for any row that is not plainly valid; the caller then runs the full checks, which say why."""

    def __init__(self, today: date) -> None:
        self._today = today
        self._dates: dict[str, date | None] = {}
        # Instants as staging text, naive UTC: as text, a row pickles to the importer (SQLite) or writes
        # as CSV (PostgreSQL) in a fraction of the time a datetime takes (20.8 -> 3.3 µs a row, timeit).
        self._instants: dict[str, str | None] = {}
        self._name_key = lru_cache(maxsize=1 << 16)(name_key)

    def row(self, line: int, text: str, values: list[str], digest: str, sub: str) -> tuple[Any, ...] | None:
        """``values``: the cells stripped, in ``HEADER`` order; ``digest``: theirs."""
        if any(map(operator.gt, map(len, values), _LIMITS)) or _CONTROL.search(text):
            return None
        (source, legacy_id, username, kind, name, born, gender, cmnd, cccd, org, tax, email, phone, unit,
         hashed, scheme, created) = values  # fmt: skip
        if not (source and legacy_id and username and kind in _ACCOUNT_TYPES):
            return None
        if gender and gender != "male" and gender != "female":
            return None
        birth_date = self._date(born) if born else None
        if born and birth_date is None:
            return None
        if (hashed or scheme) and not (
            scheme in passwords.SCHEMES and passwords.is_well_formed(scheme, hashed)
        ):
            return None
        created_at = self._instant(created) if created else None
        if created and created_at is None:
            return None
        if username.isascii() and username.isprintable():
            key = username.casefold().strip()
        else:
            return None  # folding look-alikes: the full checks' way
        if not key:
            return None
        cccd_value = cccd or None
        cmnd_value = cmnd or None
        tax_value = tax or None
        gender_value = gender or None
        return (
            line,
            source,
            legacy_id,
            username,
            key,
            kind,
            name or None,
            birth_date.isoformat() if birth_date is not None else None,  # as text: see _instants
            gender_value,
            cmnd_value,
            cccd_value,
            org or None,
            tax_value,
            email or None,
            phone or None,
            unit or None,
            hashed or None,
            scheme or None,
            created_at,
            digest,
            sub,
            cccd if cccd and _TWELVE_DIGITS.fullmatch(cccd) and 1 <= int(cccd[:3]) <= 96 else None,
            cmnd if len(cmnd) in (9, 12) and cmnd.isdigit() else None,
            record_class(
                kind, cccd_value, cmnd_value, birth_date, gender_value, tax_value, self._today
            ).value,
            self._name_key(name) if name else None,
        )

    def _date(self, value: str) -> date | None:
        """A plausible birth date written YYYY-MM-DD, else None."""
        if value in self._dates:
            return self._dates[value]
        parsed: date | None = None
        if _ISO_DATE.fullmatch(value):
            try:
                parsed = date.fromisoformat(value)
            except ValueError:
                parsed = None
            if parsed is not None and (parsed > self._today or parsed.year < 1880):
                parsed = None
        if len(self._dates) < _CACHED:
            self._dates[value] = parsed
        return parsed

    def _instant(self, value: str) -> str | None:
        """``legacy_csv._instant`` as staging text (naive UTC, as SQLAlchemy writes it on SQLite and
        PostgreSQL reads it), else None."""
        if value in self._instants:
            return self._instants[value]
        try:
            if _ISO_DATE.fullmatch(value):
                parsed = datetime.combine(date.fromisoformat(value), time())
            else:
                parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        at = naive_utc(parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=VIETNAM))
        text = at.strftime("%Y-%m-%d %H:%M:%S.%f")
        if len(self._instants) < _CACHED:
            self._instants[value] = text
        return text
