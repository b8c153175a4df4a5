"""The clean-up report each province sends (rule 5 of the letters): per administrative unit and account
type, how many accounts are linked to VNeID (cleaned), how many are not, how many carry no personal
identification number at all, and how many are frozen, flagged for review or merged away."""

from __future__ import annotations

import csv
from dataclasses import asdict, fields
from datetime import datetime
from io import StringIO
from typing import Any

from broker.registry import Registry
from broker.settings import VIETNAM
from broker.store.reports import UnitCounts, cleanup_counts

COLUMNS = [field.name for field in fields(UnitCounts)]


async def cleanup(registry: Registry) -> dict[str, Any]:
    async with registry.db.read() as session:
        rows = await cleanup_counts(session)
    totals = {name: sum(getattr(row, name) for row in rows) for name in COLUMNS[2:]}
    citizens = [row for row in rows if row.account_type == "citizen"]
    return {
        "generated_at": _iso(registry.clock()),
        "citizens_not_cleaned": sum(row.not_linked for row in citizens),
        "citizens_without_number": sum(row.without_number for row in citizens),
        "totals": totals,
        "units": [asdict(row) for row in rows],
    }


def as_csv(report: dict[str, Any]) -> str:
    """One line per unit and account type, for the province's spreadsheet."""
    out = StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(report["units"])
    return out.getvalue()


def _iso(at: datetime) -> str:
    return at.astimezone(VIETNAM).isoformat(timespec="seconds")
