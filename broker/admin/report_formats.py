"""The clean-up report as a province files it: a terminal table, CSV or an Excel workbook, with Vietnamese
column headers (JSON keeps English identifiers: ``Report.to_json``)."""

from __future__ import annotations

import csv
from io import StringIO
from pathlib import Path
from typing import Any, BinaryIO

from broker.admin.reports import Report

COLUMNS: list[tuple[str, str]] = [
    ("unit_code", "Mã đơn vị"),
    ("unit_name", "Tên đơn vị"),
    ("today_unit", "Đơn vị hiện nay (từ 01/7/2025)"),
    ("account_type", "Loại tài khoản"),
    ("accounts", "Số tài khoản"),
    ("linked", "Đã liên kết VNeID"),
    ("not_linked", "Chưa liên kết"),
    ("clean_unlinked", "Chưa làm sạch: số định danh hợp lệ"),
    ("cmnd_only", "Chưa làm sạch: chỉ có CMND"),
    ("no_id", "Chưa làm sạch: không có số định danh"),
    ("invalid_id", "Chưa làm sạch: số không hợp lệ"),
    ("inconsistent_id", "Chưa làm sạch: số không khớp thông tin"),
    ("duplicate_suspect", "Chưa làm sạch: nghi trùng"),
    ("unclassified", "Chưa phân loại"),
    ("frozen", "Đã đóng băng"),
    ("needs_review", "Đang chờ xem xét"),
    ("merged", "Đã gộp"),
]
ACCOUNT_TYPES = {
    "citizen": "Công dân",
    "organisation": "Tổ chức, doanh nghiệp",
    "foreigner": "Người nước ngoài",
}
TITLE = "Báo cáo làm sạch tài khoản"
INSTANT = "Thời điểm báo cáo"
TOTAL = "Tổng cộng"


def lines(report: Report) -> list[list[Any]]:
    """Header, one line per unit and account type, then the totals."""
    out: list[list[Any]] = [[header for _, header in COLUMNS]]
    for row in report.rows:
        out.append(
            _line({**row.to_json(), "account_type": ACCOUNT_TYPES.get(row.account_type, row.account_type)})
        )
    out.append(_line({"unit_code": TOTAL, **report.totals.to_json()}))
    return out


def _line(values: dict[str, Any]) -> list[Any]:
    flat = {**values, **values.get("not_cleaned", {})}
    return [flat.get(key, "") if flat.get(key) is not None else "" for key, _ in COLUMNS]


def as_csv(report: Report) -> str:
    out = StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows(lines(report))
    return out.getvalue()


def as_table(report: Report) -> Any:
    """A rich ``Table`` for the terminal."""
    from rich.table import Table

    header, *body = lines(report)
    table = Table(title=f"{TITLE} — {INSTANT}: {report.to_json()['as_of']}")
    for index, name in enumerate(header):
        table.add_column(name, justify="right" if index >= 4 else "left", overflow="fold")
    for line in body:
        table.add_row(*(str(value) for value in line))
    return table


def write_xlsx(report: Report, target: Path | BinaryIO) -> None:
    """To a file, or to a binary stream (the console's download)."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(target) if isinstance(target, Path) else target, {"in_memory": True})
    try:
        sheet = workbook.add_worksheet("Báo cáo")
        bold = workbook.add_format({"bold": True, "text_wrap": True})
        sheet.write(0, 0, TITLE, bold)
        sheet.write(1, 0, INSTANT, bold)
        sheet.write(1, 1, report.to_json()["as_of"])
        for row_index, line in enumerate(lines(report), start=3):
            for column, value in enumerate(line):
                sheet.write(row_index, column, value, bold if row_index == 3 else None)
        sheet.set_column(0, 3, 22)
        sheet.set_column(4, len(COLUMNS), 14)
    finally:
        workbook.close()
