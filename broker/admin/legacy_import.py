"""Importing legacy accounts from the old systems (``broker legacy import FILE``).

All or nothing (SECURITY.md, gate 9): every row is validated first; with an invalid row nothing is
written unless ``skip_invalid``; then one transaction writes every row and one audit entry. Re-running
the same file changes nothing: (source_system, legacy_id) names a legacy account.

- A new row creates a broker account (a random ``sub``) and its legacy record.
- A known row updates its legacy record. Its password hash is replaced only when the file's hash differs
  from the one imported last time, so a rehash to Argon2id done at login survives re-imports.
- The broker account's identity data follows the file only while the account is not linked to VNeID and
  not merged: once linked, VNeID is the authority.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from broker.admin.legacy_csv import LegacyRow, RowError, read_file
from broker.domain.accounts import AccountStatus
from broker.registry import Registry
from broker.settings import VIETNAM
from broker.store import accounts, audit, legacy_bulk
from broker.store.database import Session
from broker.store.tables import Account, LegacyAccount

Progress = Callable[[int], None]
# Rows per round trip: lookups, locks and inserts go in batches, never one query per row.
BATCH = 500

_LEGACY_FIELDS = (
    "username",
    "username_key",
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
)


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    written: bool = False  # False: the file was refused and the database left untouched

    def summary(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "errors": len(self.errors),
            "written": self.written,
        }


async def import_legacy_csv(
    registry: Registry,
    source: TextIO | Path,
    *,
    skip_invalid: bool = False,
    actor: str = "cli",
    progress: Progress | None = None,
) -> ImportReport:
    """Imports ``source``. ``progress`` is called batch by batch with the number of rows just handled
    (skipped, then known, then created): the calls add up to the rows of the file."""
    today = registry.clock().astimezone(VIETNAM).date()
    parsed = await asyncio.to_thread(read_file, source, today)
    report = ImportReport(errors=parsed.errors)
    if parsed.unreadable or (parsed.errors and not skip_invalid):
        return report
    report.skipped = parsed.invalid_rows
    await _write(registry, parsed.rows, report, actor, skip_invalid, progress or (lambda _: None))
    report.written = True
    return report


async def _write(
    registry: Registry,
    rows: list[LegacyRow],
    report: ImportReport,
    actor: str,
    skip_invalid: bool,
    progress: Progress,
) -> None:
    now = registry.clock()
    progress(report.skipped)
    async with registry.db.transaction() as session:
        # Known rows first, new ones after: every lookup runs against the table as it was before the import.
        fresh: list[LegacyRow] = []
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            known = await legacy_bulk.by_source_ids(session, [row.key for row in batch])
            updated = await _update(session, [row for row in batch if row.key in known], known, now)
            report.updated += updated
            report.unchanged += len(known) - updated
            fresh.extend(row for row in batch if row.key not in known)
            progress(len(known))
        for start in range(0, len(fresh), BATCH):
            await _create(session, fresh[start : start + BATCH], now)
            progress(len(fresh[start : start + BATCH]))
        report.created = len(fresh)
        await audit.append(
            session,
            at=now,
            actor=actor,
            action="legacy.import",
            outcome="done",
            reason="skip_invalid" if skip_invalid and report.errors else None,
            details={"rows": len(rows) + report.skipped, **report.summary(), "written": True},
        )


async def _update(
    session: Session, rows: list[LegacyRow], known: dict[tuple[str, str], LegacyAccount], now: datetime
) -> int:
    """Applies the file to known records and, where allowed, their accounts; returns how many changed."""
    owners = await _accounts_of(session, [known[row.key] for row in rows])
    changed: set[tuple[str, str]] = set()
    for row in rows:
        if _update_record(row, known[row.key], now):
            changed.add(row.key)
    # Accounts whose identity data would change: asked about in bulk, so an unchanged file asks nothing.
    candidates = {
        row.key: owner
        for row in rows
        if _may_differ(owner := owners[known[row.key].account_id], _identity(row))
    }
    ids = [owner.id for owner in candidates.values() if owner.id is not None]
    linked = await legacy_bulk.linked_account_ids(session, ids)
    records_per_account = await legacy_bulk.legacy_record_counts(session, ids)
    for row in rows:
        account = candidates.get(row.key)
        # Linked: VNeID is the authority. Several records: a merge survivor no single row speaks for.
        if account is None or account.id in linked or records_per_account.get(account.id or 0, 0) > 1:
            continue
        _assign(account, _identity(row))
        account.updated_at = now
        changed.add(row.key)
    return len(changed)


def _may_differ(account: Account, identity: dict[str, Any]) -> bool:
    if account.merged_into_id is not None or account.status == AccountStatus.MERGED:
        return False
    return any(getattr(account, name) != value for name, value in identity.items())


def _update_record(row: LegacyRow, record: LegacyAccount, now: datetime) -> bool:
    changed = _assign(record, {name: getattr(row, name) for name in _LEGACY_FIELDS})
    changed |= _assign(record, {"source_created_at": row.created_at})
    if row.password_hash != record.imported_password_hash:
        # A new hash from the old system wins; the same hash again must not undo a rehash done at login.
        record.password_hash = row.password_hash
        record.hash_scheme = row.hash_scheme
        record.imported_password_hash = row.password_hash
        changed = True
    if changed:
        record.updated_at = now
    return changed


async def _accounts_of(session: Session, records: Iterable[LegacyAccount]) -> dict[int, Account]:
    """The broker accounts of known records, locked (in id order) against a concurrent link or merge."""
    ids = sorted({record.account_id for record in records})
    found: dict[int, Account] = {}
    for start in range(0, len(ids), BATCH):
        for account in await accounts.lock(session, ids[start : start + BATCH]):
            assert account.id is not None
            found[account.id] = account
    return found


async def _create(session: Session, rows: Sequence[LegacyRow], now: datetime) -> None:
    if not rows:
        return
    subs = [str(uuid.uuid4()) for _ in rows]  # random, never derived from a personal number
    ids = await legacy_bulk.add_accounts(
        session,
        [
            {
                "sub": sub,
                "status": AccountStatus.ACTIVE.value,
                "merged_into_id": None,
                "needs_review": False,
                "created_at": now,
                "updated_at": now,
                **_identity(row),
            }
            for sub, row in zip(subs, rows, strict=True)
        ],
    )
    await legacy_bulk.add_legacy_accounts(
        session,
        [
            {
                "account_id": ids[sub],
                "source_system": row.source_system,
                "legacy_id": row.legacy_id,
                "password_hash": row.password_hash,
                "hash_scheme": row.hash_scheme,
                "imported_password_hash": row.password_hash,
                "source_created_at": row.created_at,
                "imported_at": now,
                "updated_at": now,
                **{name: getattr(row, name) for name in _LEGACY_FIELDS},
            }
            for sub, row in zip(subs, rows, strict=True)
        ],
    )


def _identity(row: LegacyRow) -> dict[str, Any]:
    """What the broker account takes from a legacy row while it is not linked to VNeID."""
    return {
        "account_type": row.account_type,
        "name": row.full_name,
        "birthdate": row.birth_date,
        "gender": row.gender,
        "identification_number": row.cccd,
        "old_identification_number": row.cmnd,
        "org_name": row.org_name,
        "tax_code": row.tax_code,
        "unit_code": row.unit_code,
    }


def _assign(target: Any, values: dict[str, Any]) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(target, name) != value:
            setattr(target, name, value)
            changed = True
    return changed
