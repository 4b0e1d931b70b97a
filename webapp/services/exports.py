"""Tables to CSV and XLSX files that open cleanly in Excel and cannot run formulas.

CSV is UTF-8 with a byte-order mark, since Excel reads BOM-less CSV in the local ANSI code page and garbles
Chinese. Text cells that start with = + - @ (or a tab / carriage return) get a leading apostrophe: Excel and
LibreOffice would otherwise evaluate them as formulas (CSV injection). Numbers are written as numbers.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_MIME = "text/csv; charset=utf-8"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_WIDTH = 60


@dataclass
class Table:
    """One table as shown on a page: a sheet title, a header row and data rows.

    ``percent`` names the columns holding shares (0..1): XLSX formats them as 0.0%, CSV writes "83.3%".
    """

    title: str
    header: list[str]
    rows: list[list[object]]
    percent: set[str] = field(default_factory=set)


def neutralise(value: object) -> object:
    """A text cell that would start a formula gets a leading apostrophe; anything else is unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv_value(value: object, percent: bool) -> object:
    if value is None:
        return ""
    if percent and isinstance(value, int | float):
        return f"{value * 100:.1f}%"
    if isinstance(value, date | datetime):
        return value.isoformat()
    return neutralise(value)


def csv_bytes(table: Table) -> bytes:
    """The table as CSV, UTF-8 with BOM, CRLF line ends (as Excel writes them)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in table.header])
    flags = [h in table.percent for h in table.header]
    for row in table.rows:
        writer.writerow([_csv_value(v, p) for v, p in zip(row, flags, strict=True)])
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def _display_width(value: object) -> int:
    text = value.isoformat() if isinstance(value, date | datetime) else str(value if value is not None else "")
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _sheet_title(title: str, taken: set[str]) -> str:
    # Excel: at most 31 characters, none of []:*?/\ and unique in the workbook.
    clean = "".join("_" if ch in "[]:*?/\\" else ch for ch in title)[:31] or "Sheet"
    name, n = clean, 2
    while name in taken:
        suffix = f"({n})"
        name, n = clean[: 31 - len(suffix)] + suffix, n + 1
    taken.add(name)
    return name


def xlsx_bytes(tables: Sequence[Table]) -> bytes:
    """One sheet per table: bold frozen header, column widths fitted to the content, shares as 0.0%.

    Written in openpyxl's write-only (streaming) mode: several times faster on the tens of thousands of rows
    of a whole institution's staff × deck table, and memory stays flat."""
    wb = Workbook(write_only=True)
    taken: set[str] = set()
    bold = Font(bold=True)
    for table in tables:
        ws = wb.create_sheet(_sheet_title(table.title, taken))
        ws.freeze_panes = "A2"
        for col, head in enumerate(table.header, start=1):  # widths must be set before the first row
            widths = [_display_width(head)] + [_display_width(r[col - 1]) for r in table.rows[:500]]
            ws.column_dimensions[get_column_letter(col)].width = min(MAX_WIDTH, max(8, max(widths) + 2))
        header = []
        for head in table.header:
            cell = WriteOnlyCell(ws, value=neutralise(head))
            cell.font = bold
            header.append(cell)
        ws.append(header)
        percent = [h in table.percent for h in table.header]
        for row in table.rows:
            ws.append([_xlsx_cell(ws, value, pct) for value, pct in zip(row, percent, strict=True)])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _xlsx_cell(ws, value: object, percent: bool) -> object:  # noqa: ANN001
    if percent and isinstance(value, int | float):
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = "0.0%"
        return cell
    if isinstance(value, date | datetime):
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = "yyyy-mm-dd"
        return cell
    return neutralise(value)
