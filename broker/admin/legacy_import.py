"""Importing legacy accounts from the old systems (``broker legacy import FILE``), at provincial scale.

The file is streamed (``legacy_csv.records``), so memory stays flat whatever its size. Valid rows go to
the database chunk by chunk through a staging table and set-based statements
(``broker.store.legacy_staging``), one transaction per chunk; bad rows go to the reject file with their
original text, line number and reason, and are counted as ``rejected``. (source_system, legacy_id) names a
legacy account: a row repeated later in the same file is rejected (the first occurrence wins), and a
re-import of the same file changes nothing (a content digest per row). A killed import keeps the chunks
it committed; running it again finishes the job. A first import of a large file into an empty
``legacy_accounts`` is written at its end in one transaction instead, the indexes built after the rows
(``StagedImport.publish``): killed, it leaves nothing, and running it again does it all.

Identity data of the broker account follows the file only while the account is not linked to VNeID and
not merged: once linked, VNeID is the authority. Password hashes are stored as given (verified in their
own scheme at login, then rehashed to Argon2id).
"""

from __future__ import annotations

import asyncio
import multiprocessing
from array import array
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing, suppress
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from broker.admin.legacy_csv import RowError, UnreadableFile, open_source
from broker.admin.legacy_parse import KnownDigests, Prepared, parse_apart, prepared_chunks
from broker.registry import Registry
from broker.settings import VIETNAM
from broker.store import audit
from broker.store.legacy_staging import ChunkResult, staged_import

Progress = Callable[[int], None]
BATCH = 500  # rows per lookup before issue 9; kept for callers that size test files by it
PARSE_APART_FROM_BYTES = 8 << 20  # files smaller than this are parsed in-process: starting a child costs more
KEPT_ERRORS = 100  # the report keeps the first errors; the reject file has them all


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)  # the first KEPT_ERRORS
    written: bool = False  # False: nothing was written (dry run, or a file that could not be read)
    dry_run: bool = False
    unreadable: bool = False

    @property
    def skipped(self) -> int:  # the name before issue 9
        return self.rejected

    def summary(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "skipped": self.rejected,
            "errors": self.rejected + int(self.unreadable),
            "written": self.written,
            "dry_run": self.dry_run,
        }


class RejectFile:
    """The reject file: per bad row its line number, the reason and the original line, as CSV."""

    def __init__(self, path: Path | None) -> None:
        self._stream = path.open("w", encoding="utf-8", newline="") if path is not None else None
        if self._stream is not None:
            import csv

            self._writer: Any = csv.writer(self._stream)
            self._writer.writerow(["line", "reason", "original"])

    def write(self, line: int, reason: str, original: str) -> None:
        if self._stream is not None:
            self._writer.writerow([line, reason, original])

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()


async def import_legacy_csv(
    registry: Registry,
    source: TextIO | Path,
    *,
    dry_run: bool = False,
    rejects: Path | None = None,
    actor: str = "cli",
    progress: Progress | None = None,
    skip_invalid: bool = True,  # accepted for callers written before issue 9: bad rows are always set aside
    batch_rows: int | None = None,
) -> ImportReport:
    """Imports ``source`` (CSV, or JSON Lines when a path ends in ``.jsonl``). ``progress`` is called after
    every chunk with the number of rows it handled (rejected ones included)."""
    del skip_invalid
    now = registry.clock()
    today = now.astimezone(VIETNAM).date()
    report = ImportReport(dry_run=dry_run)
    reject_file = RejectFile(rejects)
    size = batch_rows or registry.settings.legacy_import_batch_rows
    tell = progress or (lambda _: None)
    bulk = _large(source, registry.settings.legacy_import_bulk_from_bytes)
    try:
        async with staged_import(registry.db, now, dry_run=dry_run, bulk=bulk) as staged:
            known = KnownDigests()
            await staged.stored_digests(known.add)
            claims = _Claims(len(known))
            chunks = _prepared_chunks(source, today, size, known, staged.takes_csv)
            async with aclosing(chunks):  # a failure stops the parser at once, not when collected
                async for prepared in chunks:
                    for bad in prepared.rejected:
                        _reject(report, reject_file, bad.line, bad.reason, bad.text, bad.errors)
                    repeats = claims.known_rows(prepared)
                    result = ChunkResult(0, 0, [])
                    if prepared.rows:
                        claim = partial(claims.changed_rows, known=known, repeats=repeats)
                        result = await staged.apply(prepared.rows, claim)
                    _count(report, prepared, result, repeats, reject_file)
                    tell(prepared.size)
                    del prepared  # two chunks in memory at most: this one and the next
            report.created += await staged.publish()
            if report.created + report.updated:
                await staged.refresh_statistics()
    except UnreadableFile as unreadable:
        report.unreadable = True
        report.errors.insert(0, unreadable.error)
    finally:
        reject_file.close()
    report.written = not dry_run and (report.created + report.updated + report.unchanged) > 0
    if not dry_run and not report.unreadable:
        async with registry.db.transaction() as session:
            await audit.append(
                session,
                at=now,
                actor=actor,
                action="legacy.import",
                outcome="done",
                reason="rows_rejected" if report.rejected else None,
                details={
                    "rows": report.created + report.updated + report.unchanged + report.rejected,
                    **report.summary(),
                },
            )
    return report


async def _prepared_chunks(
    source: TextIO | Path, today: date, size: int, known: KnownDigests, as_csv: bool
) -> AsyncGenerator[Prepared, None]:
    """The file chunk by chunk. A large file is parsed in a child process, so that parsing (the
    interpreter's work) and the database's work run on two cores at once; a thread would share the
    interpreter's lock with the database driver and slow both."""
    if not _large(source, PARSE_APART_FROM_BYTES):
        with open_source(source) as stream:
            jsonl = isinstance(source, Path) and source.suffix.lower() == ".jsonl"
            for prepared in prepared_chunks(stream, today, size, jsonl=jsonl, known=known, as_csv=as_csv):
                yield prepared
        return
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(
        target=parse_apart, args=(str(source), today, size, sender, known, as_csv), daemon=True
    )
    worker.start()
    sender.close()
    # The next chunk is taken off the pipe while the importer writes this one: the parser, no longer
    # blocked on its send until the importer asks, parses the one after meanwhile (two chunks ahead,
    # not one: parsing and writing take turns being the slower, chunk by chunk).
    upcoming: asyncio.Future[Any] | None = asyncio.ensure_future(asyncio.to_thread(receiver.recv))
    try:
        while upcoming is not None:
            try:
                item = await upcoming
            except EOFError:
                upcoming = None
                raise UnreadableFile(RowError(0, None, "the parsing process stopped unexpectedly")) from None
            upcoming = None
            if item is None:
                return
            if isinstance(item, RowError):
                raise UnreadableFile(item)
            upcoming = asyncio.ensure_future(asyncio.to_thread(receiver.recv))
            yield item
    finally:
        if upcoming is not None:  # stopped early: the reading thread ends when the parser's end closes
            worker.kill()
            with suppress(EOFError, OSError):
                await upcoming
        receiver.close()
        worker.join(timeout=5)
        if worker.is_alive():
            worker.kill()


def _large(source: TextIO | Path, from_bytes: int) -> bool:
    return bool(from_bytes) and isinstance(source, Path) and source.stat().st_size >= from_bytes


class _Claims:
    """Which line first gave the key of each stored row, by the position of the row's digest among those
    stored when the import started (4 bytes a stored row; 0: not given yet). Rows the parser found among
    the stored ones never reach the database, so their keys are checked for repeats here: a known row
    whose stored row an earlier line gave (the same row again, or a changed row with its key) is a repeat,
    and so is a changed row whose stored row an earlier known row gave."""

    def __init__(self, stored: int) -> None:
        self._first = array("I", bytes(4 * stored))

    def known_rows(self, prepared: Prepared) -> dict[int, int]:
        """Claims the chunk's known rows; returns the repeats among them, {line: first line}."""
        repeats: dict[int, int] = {}
        first = self._first
        for line, position in zip(prepared.known_lines, prepared.known_positions, strict=True):
            if first[position]:
                repeats[line] = first[position]
            else:
                first[position] = line
        return repeats

    def changed_rows(
        self,
        replaced: list[tuple[int, str]],
        known: KnownDigests,
        repeats: dict[int, int],
    ) -> list[tuple[int, int]]:
        """Claims changed rows by the stored digest each replaces; returns those to set aside as repeats.
        A known row of the same chunk with a later line loses its claim to the changed row (first
        occurrence wins) and joins ``repeats``."""
        set_aside: list[tuple[int, int]] = []
        first = self._first
        for line, digest in replaced:
            position = known.position(digest)
            if position < 0:
                continue  # a row this import wrote (its key is in the database's own list) or no digest
            if not first[position]:
                first[position] = line
            elif first[position] < line:
                set_aside.append((line, first[position]))
            else:  # a known row later in this chunk claimed it first
                displaced = first[position]
                first[position] = line
                for later, earlier in list(repeats.items()):
                    if earlier == displaced:
                        repeats[later] = line
                repeats[displaced] = line
        return set_aside


def _count(
    report: ImportReport,
    prepared: Prepared,
    result: ChunkResult,
    known_repeats: dict[int, int],
    reject_file: RejectFile,
) -> None:
    for line, first in sorted([*result.duplicates, *known_repeats.items()]):
        _repeated(report, reject_file, prepared, line, first)
    report.created += result.created
    report.updated += result.updated
    report.unchanged += (
        len(prepared.rows) - len(result.duplicates) - result.created - result.updated - result.pending
    )
    report.unchanged += len(prepared.known_lines) - len(known_repeats)


def _repeated(
    report: ImportReport, reject_file: RejectFile, prepared: Prepared, line: int, first: int
) -> None:
    message = f"(source_system, legacy_id) already given on line {first}"
    error = RowError(line, "legacy_id", message)
    _reject(report, reject_file, line, f"legacy_id: {message}", prepared.texts.get(line, ""), (error,))


def _reject(
    report: ImportReport,
    reject_file: RejectFile,
    line: int,
    reason: str,
    text: str,
    errors: tuple[RowError, ...],
) -> None:
    report.rejected += 1
    reject_file.write(line, reason, text)
    room = KEPT_ERRORS - len(report.errors)
    if room > 0:
        report.errors.extend(errors[:room])
