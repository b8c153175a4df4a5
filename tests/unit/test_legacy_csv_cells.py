"""The legacy export's rows as the import reads them (``legacy_csv.csv_cells``): blank lines skipped, rows
of the wrong width rejected with their text as the file had it, a quoted cell spanning lines kept whole."""

from __future__ import annotations

import io

from broker.admin.legacy_csv import HEADER, Rejected, csv_cells


def _cells(body: str) -> list[tuple[int, str, list[str]] | Rejected]:
    return list(csv_cells(io.StringIO(",".join(HEADER) + "\n" + body, newline="")))


def test_blank_lines_are_skipped_and_others_kept_with_their_line_and_text() -> None:
    width = len(HEADER)
    row = ",".join(["qlhs", "7", "an", "citizen"] + [""] * (width - 4))
    empty_first = ",".join(["", "8", "binh", "citizen"] + [""] * (width - 4))  # not blank: it has text
    found = _cells(
        f"{row}\n\n   \n{',' * (width - 1)}\n{empty_first}\r\n"
        + ",".join(["qlhs", "9", '"cao\nthi"', "citizen"] + [""] * (width - 4))
        + "\nshort,row\n"
    )
    kept = [item for item in found if not isinstance(item, Rejected)]
    rejected = [item for item in found if isinstance(item, Rejected)]

    assert [(line, cells[:3]) for line, _, cells in kept] == [
        (2, ["qlhs", "7", "an"]),
        (6, ["", "8", "binh"]),
        (7, ["qlhs", "9", "cao\nthi"]),  # one row over two physical lines, numbered by its first
    ]
    assert [text for _, text, _ in kept] == [row, empty_first, kept[2][1]]
    assert kept[2][1].count("\n") == 1  # its text is both lines, as the file had them
    assert [(item.line, item.text) for item in rejected] == [(9, "short,row")]
