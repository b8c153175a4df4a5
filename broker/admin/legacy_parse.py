"""Parsing a legacy export into chunks ready for the staging table (issue 9).

Kept apart from ``legacy_import`` so that the child process that parses a large file imports only this,
the reader and the domain rules: not the database layer.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from broker.admin.legacy_csv import LegacyRow, Rejected, UnreadableFile, open_source, records
from broker.domain.classification import Facts, classify, name_key
from broker.domain.identity_numbers import is_cccd


def utc_naive(at: datetime | None) -> datetime | None:
    """Staging columns are plain TIMESTAMPs holding UTC, like every instant the store keeps."""
    return at.astimezone(UTC).replace(tzinfo=None) if at is not None else None


@dataclass
class Prepared:
    """One chunk ready for the database: staging rows, the text of each (for a late reject), the rejects."""

    size: int
    rows: list[tuple[Any, ...]]
    texts: dict[int, str]
    rejected: list[Rejected]


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


def parse_apart(path: str, today: date, size: int, sender: Connection) -> None:
    """The child process: parses and prepares chunks, and sends them; the pipe's buffer is the
    back-pressure that keeps at most a chunk or two in flight."""
    source = Path(path)
    try:
        with open_source(source) as stream:
            jsonl = source.suffix.lower() == ".jsonl"
            for chunk in chunks(records(stream, today, jsonl=jsonl), size):
                sender.send(prepare(chunk, today))
                del chunk  # before the next chunk is read: one chunk in memory, not two
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
        utc_naive(row.created_at),
        row.content_hash,
        sub,  # random, never derived from a personal number; used only if the row is new
        row.cccd if row.cccd is not None and is_cccd(row.cccd) else None,
        row.cmnd if row.cmnd is not None and len(row.cmnd) in (9, 12) and row.cmnd.isdigit() else None,
        classify(facts, today).value,
        name_key(row.full_name),
    )
