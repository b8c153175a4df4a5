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
from broker.registry import Registry
from broker.settings import VIETNAM
from broker.store import audit
from broker.store import console as console_store

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
    """THE adapter over broker.admin.reports."""
    report = await reports.cleanup(registry)
    today = registry.clock().astimezone(VIETNAM).date()
    first = today - timedelta(days=TREND_DAYS - 1)
    since = datetime(first.year, first.month, first.day, tzinfo=VIETNAM)
    async with registry.db.read() as session:
        per_day = await console_store.citizens_linked_per_day(session, since)
        created = await console_store.citizens_created_per_day(session, since)
    remaining = int(report["citizens_not_cleaned"])
    # Walk back from today: before a day's links those accounts were still to clean, and before a day's
    # imports those accounts did not exist yet (an estimate: merges are not replayed).
    trend: list[TrendPoint] = []
    for offset in range(TREND_DAYS):
        day = today - timedelta(days=offset)
        trend.append(TrendPoint(day, remaining))
        key = day.isoformat()
        remaining = max(0, remaining + per_day.get(key, 0) - created.get(key, 0))
    trend.reverse()
    linked = sum(per_day.values())
    now_left = int(report["citizens_not_cleaned"])
    projected = None
    if now_left == 0:
        projected = today
    elif linked > 0:
        projected = today + timedelta(days=-(-now_left * TREND_DAYS // linked))
    return CleanupFigures(
        datetime.fromisoformat(report["generated_at"]),
        list(report["units"]),
        dict(report["totals"]),
        now_left,
        int(report["citizens_without_number"]),
        trend,
        projected,
    )


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
