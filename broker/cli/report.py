"""`broker report cleanup` and `broker report snapshot`: the clean-up report a province sends (issue 9)."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from broker.cli.support import command_registry

report_app = typer.Typer(help="Reports for the province.", no_args_is_help=True)


class By(StrEnum):
    PROVINCE = "province"
    DISTRICT = "district"
    COMMUNE = "commune"


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    XLSX = "xlsx"


@report_app.command("cleanup")
def report_cleanup(
    by: Annotated[By, typer.Option(help="the level units are counted at")] = By.COMMUNE,
    output_format: Annotated[Format, typer.Option("--format", help="table, csv, json or xlsx")] = Format.JSON,
    csv_output: Annotated[bool, typer.Option("--csv", hidden=True, help="the same as --format csv")] = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", metavar="YYYY-MM-DD", help="as at the end of that day (Vietnam)")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", dir_okay=False, help="write here (required for xlsx)")
    ] = None,
    chart: Annotated[
        Path | None, typer.Option("--chart", dir_okay=False, help="linked share over time, .svg or .png")
    ] = None,
) -> None:
    """Accounts cleaned (linked to VNeID) and not yet cleaned, by class, per unit and account type; with
    --chart, the trend of the daily snapshots and the projected date to 100 % (the roadmap)."""
    from broker.admin import report_formats, reports
    from broker.domain.units import Level

    fmt = Format.CSV if csv_output else output_format
    if fmt is Format.XLSX and output is None:
        raise typer.BadParameter("--format xlsx needs --output FILE.xlsx", param_hint="--output")
    if chart is not None and chart.suffix.lower() not in (".svg", ".png"):
        raise typer.BadParameter("the chart file must end in .svg or .png", param_hint="--chart")
    try:
        instant = reports.end_of_day(date.fromisoformat(as_of)) if as_of else None
    except ValueError as error:
        raise typer.BadParameter("a date written YYYY-MM-DD", param_hint="--as-of") from error

    async def run() -> tuple[Any, dict[str, Any]]:
        async with command_registry() as registry:
            report = await reports.cleanup_report(registry, Level(by.value), instant)
            series = await reports.trend(registry, Level(by.value)) if chart or fmt is Format.JSON else {}
            return report, series

    report, series = asyncio.run(run())
    if chart is not None:
        reports.render_chart(series, chart)
    if fmt is Format.XLSX:
        assert output is not None
        report_formats.write_xlsx(report, output)
        return
    if fmt is Format.TABLE:
        import sys

        from rich.console import Console

        # On a terminal rich fits the screen; into a file or a pipe, no column is folded.
        wide = None if output is None and sys.stdout.isatty() else 1000
        Console(file=output.open("w", encoding="utf-8") if output else None, width=wide).print(
            report_formats.as_table(report)
        )
        return
    if fmt is Format.CSV:
        text = report_formats.as_csv(report)
    else:
        text = json.dumps(
            {**report.to_json(), "roadmap": reports.roadmap(series)}, ensure_ascii=False, indent=2
        )
    if output is not None:
        output.write_text(text, encoding="utf-8")
    else:
        typer.echo(text, nl=fmt is Format.JSON)


@report_app.command("snapshot")
def report_snapshot() -> None:
    """Stores today's clean-up counts for the trend (cron, daily; a second run the same day replaces it)."""
    from broker.admin import reports

    async def run() -> int:
        async with command_registry() as registry:
            return await reports.take_snapshot(registry)

    typer.echo(json.dumps({"rows": asyncio.run(run())}))
