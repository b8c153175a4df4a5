"""The clean-up report each province sends (rule 5 of the letters; issue 9), and its trend and roadmap.

For the officers' console and the CLI alike:

- ``cleanup_report(registry, by=Level.COMMUNE, as_of=None) -> Report``: per unit (rolled up to ``by``; None
  keeps units as stored) and account type: accounts, linked, citizens not cleaned by class, frozen (by the
  policy at ``as_of``, not only after the freeze cron), under review, merged; totals; the instant;
- ``take_snapshot(registry) -> int``: today's counts stored (cron; idempotent per day);
- ``trend(registry, by, since=None) -> dict[str, list[Point]]``: citizens' linked share per unit and day,
  with ``TOTAL`` for the whole province; ``projected_date(points)`` (``broker.domain.roadmap``) the day it
  reaches 100 % at the current pace; ``render_chart(series, path)`` draws it (SVG or PNG by extension).

Organisations and foreigners are counted in their own classes, never as citizens "not cleaned".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from broker.domain import units
from broker.domain.accounts import AccountStatus, AccountType
from broker.domain.classification import NOT_CLEANED, Cleanup
from broker.domain.policy import Rules, is_frozen
from broker.domain.roadmap import Point, projected_date
from broker.domain.units import Level
from broker.registry import Registry
from broker.settings import VIETNAM
from broker.store import reports as store
from broker.store.reports import Bucket, SnapshotRow

TOTAL = "total"
UNCLASSIFIED = "unclassified"  # accounts written before classes existed, until `broker legacy reconcile`
CLASSES = [c.value for c in NOT_CLEANED]


@dataclass
class Counts:
    accounts: int = 0  # surviving accounts (merged ones are counted in ``merged``)
    linked: int = 0  # cleaned: linked to a VNeID identity
    not_linked: int = 0
    without_number: int = 0  # citizens with no identification number at all (class no_id), not linked
    frozen: int = 0  # citizens not cleaned whose data the policy withholds at the reporting instant
    needs_review: int = 0  # under review by an officer
    merged: int = 0
    not_cleaned: dict[str, int] = field(default_factory=dict)  # citizens not linked, by class

    def add(self, bucket: Bucket, frozen: bool) -> None:
        if bucket.merged:
            self.merged += bucket.count
            return
        self.accounts += bucket.count
        self.needs_review += bucket.count if bucket.needs_review else 0
        if bucket.linked:
            self.linked += bucket.count
            return
        self.not_linked += bucket.count
        if bucket.account_type != AccountType.CITIZEN:
            return
        name = _not_cleaned_class(bucket.cleanup_class)
        self.not_cleaned[name] = self.not_cleaned.get(name, 0) + bucket.count
        self.without_number += bucket.count if name == Cleanup.NO_ID else 0
        self.frozen += bucket.count if frozen else 0

    def merge(self, other: Counts) -> None:
        for name in (
            "accounts",
            "linked",
            "not_linked",
            "without_number",
            "frozen",
            "needs_review",
            "merged",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name, count in other.not_cleaned.items():
            self.not_cleaned[name] = self.not_cleaned.get(name, 0) + count

    def to_json(self) -> dict[str, Any]:
        return {
            "accounts": self.accounts,
            "linked": self.linked,
            "not_linked": self.not_linked,
            "without_number": self.without_number,
            "frozen": self.frozen,
            "needs_review": self.needs_review,
            "merged": self.merged,
            "not_cleaned": {name: self.not_cleaned.get(name, 0) for name in _class_names(self.not_cleaned)},
        }


def _not_cleaned_class(stored: str | None) -> str:
    if stored in CLASSES:
        return stored or UNCLASSIFIED
    if stored == Cleanup.LINKED:
        return Cleanup.CLEAN_UNLINKED.value  # linked since the reporting instant: VNeID vouched for it
    return UNCLASSIFIED


def _class_names(seen: Iterable[str]) -> list[str]:
    return CLASSES + ([UNCLASSIFIED] if UNCLASSIFIED in seen else [])


@dataclass(frozen=True)
class ReportRow:
    unit_code: str
    unit_name: str | None
    today_unit: str | None  # the unit in force since 1/7/2025, where the list maps the code
    account_type: str
    counts: Counts

    def to_json(self) -> dict[str, Any]:
        return {
            "unit_code": self.unit_code,
            "unit_name": self.unit_name,
            "today_unit": self.today_unit,
            "account_type": self.account_type,
            **self.counts.to_json(),
        }


@dataclass(frozen=True)
class Report:
    generated_at: datetime
    as_of: datetime
    by: Level | None
    rows: list[ReportRow]
    totals: Counts
    by_type: dict[str, Counts]

    def to_json(self) -> dict[str, Any]:
        citizens = self.by_type.get(AccountType.CITIZEN, Counts())
        return {
            "generated_at": _iso(self.generated_at),
            "as_of": _iso(self.as_of),
            "by": self.by.value if self.by else "unit",
            "citizens_not_cleaned": citizens.not_linked,
            "citizens_without_number": citizens.without_number,
            "citizens_frozen": citizens.frozen,
            "organisation_accounts": self.by_type.get(AccountType.ORGANISATION, Counts()).accounts,
            "foreigner_accounts": self.by_type.get(AccountType.FOREIGNER, Counts()).accounts,
            "totals": self.totals.to_json(),
            "by_account_type": {kind: counts.to_json() for kind, counts in sorted(self.by_type.items())},
            "units": [row.to_json() for row in self.rows],
        }


async def cleanup_report(
    registry: Registry, by: Level | None = Level.COMMUNE, as_of: datetime | None = None
) -> Report:
    now = registry.clock()
    instant = as_of or now
    async with registry.db.read() as session:
        found = await store.buckets(session, instant)
    return build_report(found, by, instant, now, registry.settings.policy_rules())


def build_report(
    found: list[Bucket], by: Level | None, as_of: datetime, now: datetime, rules: Rules
) -> Report:
    grouped: dict[tuple[str, str], Counts] = {}
    for bucket in found:
        code = units.roll_up(bucket.unit_code, by) if by else units.normalise_code(bucket.unit_code)
        frozen = _frozen(bucket, as_of, rules)
        grouped.setdefault((code, bucket.account_type), Counts()).add(bucket, frozen)
    rows: list[ReportRow] = []
    totals, by_type = Counts(), dict[str, Counts]()
    for (code, kind), counts in sorted(grouped.items()):
        unit = units.resolve(code)
        rows.append(ReportRow(code, unit.name, unit.current_commune or unit.current_province, kind, counts))
        totals.merge(counts)
        by_type.setdefault(kind, Counts()).merge(counts)
    return Report(now, as_of, by, rows, totals, by_type)


def _frozen(bucket: Bucket, at: datetime, rules: Rules) -> bool:
    if bucket.merged or bucket.linked or bucket.account_type != AccountType.CITIZEN:
        return False
    status = AccountStatus.FROZEN if bucket.frozen_by_sweep else AccountStatus.ACTIVE
    return is_frozen(AccountType.CITIZEN, status, False, at, rules)


def end_of_day(day: date) -> datetime:
    """``--as-of DATE``: the report as at the end of that day, Vietnam time."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=VIETNAM) - timedelta(microseconds=1)


async def cleanup(
    registry: Registry, by: Level | None = Level.COMMUNE, as_of: datetime | None = None
) -> dict[str, Any]:
    """The report as one JSON object (the CLI's ``--format json`` and ``GET /admin/reports/cleanup``)."""
    return (await cleanup_report(registry, by, as_of)).to_json()


# ---- trend and roadmap ---------------------------------------------------------------------------------


async def take_snapshot(registry: Registry) -> int:
    """Stores today's counts per unit as stored and account type; a second run the same day replaces the
    first (cron-safe). Returns the rows stored."""
    now = registry.clock()
    report = await cleanup_report(registry, None, now)
    day = now.astimezone(VIETNAM).date()
    rows = [
        SnapshotRow(
            day=day,
            unit_code=row.unit_code,
            account_type=row.account_type,
            accounts=row.counts.accounts,
            linked=row.counts.linked,
            not_cleaned=sum(row.counts.not_cleaned.values()),
            frozen=row.counts.frozen,
            under_review=row.counts.needs_review,
            merged=row.counts.merged,
        )
        for row in report.rows
    ]
    async with registry.db.transaction() as session:
        await store.replace_snapshot(session, day, rows, now)
    return len(rows)


async def trend(
    registry: Registry, by: Level | None = Level.PROVINCE, since: date | None = None
) -> dict[str, list[Point]]:
    """Citizens' accounts and linked accounts per unit (rolled up to ``by``) and day, oldest first; the
    whole province under ``TOTAL``."""
    async with registry.db.read() as session:
        found = await store.snapshots(session, since)
    return series_of(found, by)


def series_of(found: Iterable[SnapshotRow], by: Level | None) -> dict[str, list[Point]]:
    sums: dict[str, dict[date, list[int]]] = {}
    for row in found:
        if row.account_type != AccountType.CITIZEN:
            continue
        code = units.roll_up(row.unit_code, by) if by else row.unit_code
        for key in (code, TOTAL):
            day = sums.setdefault(key, {}).setdefault(row.day, [0, 0])
            day[0] += row.linked
            day[1] += row.accounts
    return {
        key: [Point(day, linked, accounts) for day, (linked, accounts) in sorted(days.items())]
        for key, days in sums.items()
    }


def roadmap(series: dict[str, list[Point]]) -> dict[str, Any]:
    """Per unit: the latest linked share and the projected date to 100 % (None: no progress to project)."""
    out: dict[str, Any] = {}
    for key, points in series.items():
        projected = projected_date(points)
        out[key] = {
            "linked_share": round(points[-1].share, 4) if points else None,
            "projected_date": projected.isoformat() if projected else None,
        }
    return out


def render_chart(series: dict[str, list[Point]], path: Path, *, limit: int = 10) -> None:
    """Linked share of citizens' accounts per day: the province and its ``limit`` largest units. SVG or PNG,
    by the file's extension."""
    suffix = path.suffix.lower()
    if suffix not in (".svg", ".png"):
        raise ValueError("the chart file must end in .svg or .png")
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(10, 5))
    largest = sorted(
        (key for key in series if key != TOTAL),
        key=lambda key: -series[key][-1].accounts if series[key] else 0,
    )[:limit]
    for key in [TOTAL, *largest]:
        points = series.get(key, [])
        name = "Toàn tỉnh" if key == TOTAL else (units.resolve(key).name or key)
        axes.plot(
            [p.day for p in points],  # type: ignore[arg-type]
            [100 * p.share for p in points],
            label=name,
            linewidth=3 if key == TOTAL else 1,
        )
    axes.set_ylim(0, 100)
    axes.set_ylabel("Tỷ lệ tài khoản công dân đã liên kết VNeID (%)")
    axes.set_title("Tiến độ làm sạch tài khoản")
    axes.legend(loc="lower right", fontsize="small")
    figure.autofmt_xdate()
    figure.savefig(path, format=suffix[1:])
    pyplot.close(figure)


def _iso(at: datetime) -> str:
    return at.astimezone(VIETNAM).isoformat(timespec="seconds")
