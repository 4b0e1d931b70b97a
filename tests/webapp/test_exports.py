"""CSV/XLSX writers: Excel-friendly encoding, formula neutralisation, one sheet per table, frozen header, widths."""

from __future__ import annotations

import csv
import io
from datetime import date

from openpyxl import load_workbook

from webapp.services.exports import Table, csv_bytes, neutralise, xlsx_bytes

DANGEROUS = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tTAB", "\rCR", "=HYPERLINK(\"http://x\",\"y\")"]


def test_neutralise_prefixes_only_formula_starts() -> None:
    for text in DANGEROUS:
        assert neutralise(text) == "'" + text
    for safe in ["张三", "a=b", "2024-01", "", " =x"]:
        assert neutralise(safe) == safe
    assert neutralise(-3) == -3 and neutralise(0.5) == 0.5 and neutralise(None) is None


def _table() -> Table:
    return Table("部门", ["部门", "人数", "参与率", "日期"],
                 [["=cmd|' /C calc'!A0", 3, 0.6667, date(2026, 3, 1)], ["党委办公室", 10, None, None]],
                 percent={"参与率"})


def test_csv_has_bom_crlf_neutralised_cells_and_percentages() -> None:
    data = csv_bytes(_table())
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows == [["部门", "人数", "参与率", "日期"], ["'=cmd|' /C calc'!A0", "3", "66.7%", "2026-03-01"],
                    ["党委办公室", "10", "", ""]]


def test_xlsx_one_sheet_per_table_frozen_bold_header_widths_and_formats() -> None:
    other = Table("部门", ["a"], [["@x"]])  # a duplicate title gets a suffix
    long = Table("一个非常非常非常非常非常非常非常非常非常长的工作表名称[1]", ["x"], [[1]])
    wb = load_workbook(io.BytesIO(xlsx_bytes([_table(), other, long])))
    assert wb.sheetnames[:2] == ["部门", "部门(2)"] and len(wb.sheetnames[2]) <= 31 and "[" not in wb.sheetnames[2]
    ws = wb["部门"]
    assert ws.freeze_panes == "A2" and all(c.font.bold for c in ws[1])
    assert ws["A2"].value == "'=cmd|' /C calc'!A0" and ws["A2"].data_type == "s"
    assert ws["B2"].value == 3 and ws["C2"].value == 0.6667 and ws["C2"].number_format == "0.0%"
    assert ws["D2"].value.date() == date(2026, 3, 1) and ws["D2"].number_format == "yyyy-mm-dd"
    assert ws.column_dimensions["A"].width >= len("=cmd|' /C calc'!A0")
    assert ws.column_dimensions["B"].width >= 8
    assert wb["部门(2)"]["A2"].value == "'@x"
