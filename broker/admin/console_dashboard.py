"""The clean-up dashboard (auditor, ops_admin): the numbers of ``broker report cleanup`` per unit, the
trend of citizen accounts still to clean with its projected end date, and the report as CSV or XLSX.

Everything the dashboard shows comes through ``cleanup_figures``, the one adapter over the report
(broker.admin.reports): when the report grows its own trend and projection, only that function changes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from broker.admin import report_formats, reports
from broker.admin.console_auth import Officer
from broker.admin.roles import Role
from broker.domain.accounts import AccountType
from broker.domain.roadmap import Point, projected_date
from broker.registry import Registry
from broker.settings import VIETNAM
from broker.store import audit
from broker.store import console as console_store
from broker.store import reports as report_store

MAY_SEE = frozenset({Role.AUDITOR, Role.OPS_ADMIN})
TREND_DAYS = 30
DOWNLOADS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class TrendPoint:
    day: date
    not_cleaned: int  # citizen accounts not linked to VNeID at the end of that day
    measured: bool = True  # that day's snapshot (or today's count); False: estimated from links and imports


@dataclass(frozen=True)
class CleanupFigures:
    generated_at: datetime
    units: list[dict[str, Any]]
    totals: dict[str, int]
    citizens_not_cleaned: int
    citizens_without_number: int
    trend: list[TrendPoint]
    projected_date: date | None  # when the count reaches zero at the recent pace; None without pace


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    measured: bool = True


@dataclass(frozen=True)
class Chart:
    """An inline SVG chart, drawn server side (the console's pages run no script)."""

    width: int
    height: int
    bars: list[Bar]
    maximum: int
    first_day: str
    last_day: str


def may_see(officer: Officer) -> bool:
    return bool(officer.roles & MAY_SEE)


async def cleanup_figures(registry: Registry) -> CleanupFigures:
    """THE adapter over broker.admin.reports.

    Each day of the trend is that day's snapshot (``broker report snapshot``, the figures the province
    reported) where one was taken; a day without one is estimated by walking back from today's count
    through the links and imports since (merges are not replayed), and drawn as an estimate. The projected
    date is the report's roadmap over the snapshots once there are two; before that, the pace of links over
    the last 30 days."""
    report = await reports.cleanup_report(registry)
    today = registry.clock().astimezone(VIETNAM).date()
    first = today - timedelta(days=TREND_DAYS - 1)
    since = datetime(first.year, first.month, first.day, tzinfo=VIETNAM)
    async with registry.db.read() as session:
        per_day = await console_store.citizens_linked_per_day(session, since)
        created = await console_store.citizens_created_per_day(session, since)
        snapshots = await report_store.snapshots(session, first)
    measured: dict[date, int] = {}
    for row in snapshots:
        if row.account_type == AccountType.CITIZEN:
            measured[row.day] = measured.get(row.day, 0) + row.not_cleaned
    citizens = report.by_type.get(AccountType.CITIZEN, reports.Counts())
    now_left = citizens.not_linked
    remaining = now_left
    trend: list[TrendPoint] = []
    for offset in range(TREND_DAYS):
        day = today - timedelta(days=offset)
        if offset == 0:
            trend.append(TrendPoint(day, now_left, measured=True))  # today: the live count
        elif day in measured:
            trend.append(TrendPoint(day, measured[day], measured=True))
        else:
            trend.append(TrendPoint(day, remaining, measured=False))
        key = day.isoformat()
        remaining = max(0, remaining + per_day.get(key, 0) - created.get(key, 0))
    trend.reverse()
    return CleanupFigures(
        report.generated_at,
        [row.to_json() for row in report.rows],
        report.totals.to_json(),
        now_left,
        citizens.without_number,
        trend,
        _projected(
            today, now_left, sum(per_day.values()), reports.series_of(snapshots, None).get(reports.TOTAL)
        ),
    )


def _projected(today: date, now_left: int, linked_lately: int, snapshots: list[Point] | None) -> date | None:
    if now_left == 0:
        return today
    if snapshots is not None and len(snapshots) >= 2:
        return projected_date(snapshots)
    if linked_lately > 0:
        return today + timedelta(days=-(-now_left * TREND_DAYS // linked_lately))
    return None


async def dashboard(registry: Registry) -> tuple[CleanupFigures, Chart]:
    figures = await cleanup_figures(registry)
    return figures, chart(figures.trend)


def chart(trend: list[TrendPoint], width: int = 720, height: int = 240) -> Chart:
    top = max((point.not_cleaned for point in trend), default=0) or 1
    slot = width / max(len(trend), 1)
    bars = [
        Bar(
            x=round(index * slot + slot * 0.15, 2),
            y=round(height - height * point.not_cleaned / top, 2),
            width=round(slot * 0.7, 2),
            height=round(height * point.not_cleaned / top, 2),
            label=f"{point.day.day}/{point.day.month}: {point.not_cleaned}",
            measured=point.measured,
        )
        for index, point in enumerate(trend)
    ]
    first = f"{trend[0].day.day}/{trend[0].day.month}" if trend else ""
    last = f"{trend[-1].day.day}/{trend[-1].day.month}" if trend else ""
    return Chart(width, height, bars, top if trend else 0, first, last)


async def download(registry: Registry, officer: Officer, extension: str) -> tuple[bytes, str]:
    """The report of ``broker report cleanup`` in the same layout (Vietnamese headers)."""
    report = await reports.cleanup_report(registry)
    if extension == "csv":
        content = report_formats.as_csv(report).encode("utf-8-sig")  # the BOM lets Excel read Vietnamese
    else:
        out = io.BytesIO()
        report_formats.write_xlsx(report, out)
        content = out.getvalue()
    async with registry.db.transaction() as session:
        await audit.append(
            session,
            at=registry.clock(),
            actor=officer.actor,
            action="console.report_download",
            outcome="done",
            sub=officer.sub,
            details={"format": extension},
        )
    return content, DOWNLOADS[extension]
