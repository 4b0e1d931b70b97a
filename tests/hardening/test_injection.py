"""Injection and XSS: hostile text is stored as text and shown escaped everywhere; exports cannot run formulas.

Surfaces: the review API (prompt_html / answer_html), the review and today pages, downloads, the deck editor,
the dashboard, staff and audit pages, CSV and XLSX exports, the Anki package's fields, and an uploaded material.
"""

from __future__ import annotations

import io
import sqlite3
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import select

from admin_helpers import hidden, material_text, post, upload
from hardening.hostile import (
    DEPARTMENT,
    EXTRA,
    NOTES,
    PERSON,
    assert_inert,
    assert_no_formula_cells,
    csv_rows,
    plant,
)
from helpers import login
from review_helpers import ReviewClient
from webapp.db import session_scope
from webapp.models import Material, Note
from webapp.services.audit import audit


def test_review_api_and_pages_escape_hostile_notes(app: Flask, make_user: Any, counts: Any) -> None:
    ids = plant(app, make_user)
    client = app.test_client()
    login(client, "victim")
    api = ReviewClient(client)
    shown: list[str] = []
    while (card := api.next()) is not None:
        for field in ("prompt_html", "answer_html"):
            assert_inert(card[field], f"API {field}")
            shown.append(card[field])
            counts.add("bad_inputs_rendered")
        assert api.grade(card, 5).status_code == 200
    assert len(shown) == 2 * 5  # four notes, the last with two clozes
    everything = "".join(shown)
    assert "&lt;script&gt;" in everything and "&lt;img src=x" in everything and "&lt;b&gt;x&lt;/b&gt;" in everything
    for path in ("/today", "/review", "/decks/", f"/decks/{ids['deck']}/anki.apkg"):
        response = client.get(path)
        assert response.status_code == 200, path
        if response.mimetype == "text/html":
            html = response.get_data(as_text=True)
            assert_inert(html, path)
            counts.add("bad_inputs_rendered")
    # The title is shown as typed: Jinja never evaluates text that came from the database.
    listing = client.get("/decks/").get_data(as_text=True)
    assert "{{ 7*7 }}" in listing and "&lt;script&gt;" in listing


def test_admin_pages_escape_hostile_text(app: Flask, make_user: Any, counts: Any) -> None:
    ids = plant(app, make_user)
    client = app.test_client()
    login(client, "boss")
    with session_scope(app, write=True) as db:
        from webapp.models import User

        audit(db, db.get(User, ids["boss"]), "staff.update", "user", ids["victim"],
              name={"before": "张三", "after": PERSON}, note=DEPARTMENT)
    pages = ["/admin/decks", f"/admin/decks/{ids['deck']}", f"/admin/decks/{ids['deck']}/assign", "/admin/progress",
             f"/admin/progress/user/{ids['victim']}", "/admin/staff", f"/admin/staff/{ids['victim']}",
             "/admin/departments", "/admin/audit"]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_inert(response.get_data(as_text=True), path)
        counts.add("bad_inputs_rendered")
    editor = client.get(f"/admin/decks/{ids['deck']}").get_data(as_text=True)
    assert "&lt;script&gt;" in editor and "DROP TABLE notes" in editor
    staff = client.get("/admin/staff").get_data(as_text=True)
    assert "&lt;img src=x onerror" in staff
    # The editor's live preview (JSON) escapes as well.
    preview = client.post("/admin/decks/preview", json={"text": NOTES[0]},
                          headers={"X-CSRFToken": _token(client)})
    assert preview.status_code == 200
    for card in preview.get_json()["cards"]:
        assert_inert(str(card), "preview")


def _token(client: Any) -> str:
    from helpers import csrf_token

    return csrf_token(client, "/admin/")


def test_exports_neutralise_formulas(app: Flask, make_user: Any, counts: Any) -> None:
    ids = plant(app, make_user)
    # Give the hostile people some history so they appear in every progress table.
    for username in ("victim", "formula0", "formula1"):
        client = app.test_client()
        login(client, username)
        api = ReviewClient(client)
        card = api.next()
        assert card is not None
        assert api.grade(card, 2).status_code == 200
    client = app.test_client()
    login(client, "boss")
    with session_scope(app, write=True) as db:
        from webapp.models import User

        audit(db, db.get(User, ids["boss"]), "staff.update", "user", ids["victim"],
              name={"before": "=1+1", "after": "@SUM(A1)"})
        db.get(User, ids["boss"]).name = "-管理员"
    found_department = False
    for table in ("summary", "departments", "matrix", "cards", "forecast", "trend"):
        response = client.get(f"/admin/progress/export.csv?table={table}")
        assert response.status_code == 200, table
        rows = csv_rows(response.data)
        counts.add("export_cells_checked", assert_no_formula_cells(rows, f"progress {table}.csv"))
        found_department |= any("'" + DEPARTMENT in row for row in rows)
    assert found_department, "the formula-named department appears (neutralised) in the CSV exports"
    response = client.get("/admin/progress/export.xlsx")
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.data))
    values: list[Any] = []
    for sheet in workbook.worksheets:
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        counts.add("export_cells_checked", assert_no_formula_cells(rows, f"xlsx {sheet.title}"))
        values.extend(v for r in rows for v in r)
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"formula cell {cell.coordinate} in {sheet.title}"
    assert "'" + DEPARTMENT in values
    audit_csv = client.get("/admin/audit.csv")
    assert audit_csv.status_code == 200
    rows = csv_rows(audit_csv.data)
    counts.add("export_cells_checked", assert_no_formula_cells(rows, "audit.csv"))
    assert any(cell.startswith("'-管理员") for row in rows for cell in row)
    report = client.get("/admin/jobs/weekly-report.xlsx")
    assert report.status_code == 200
    for sheet in load_workbook(io.BytesIO(report.data)).worksheets:
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        counts.add("export_cells_checked", assert_no_formula_cells(rows, f"weekly {sheet.title}"))


def test_anki_fields_are_escaped(app: Flask, make_user: Any, counts: Any) -> None:
    ids = plant(app, make_user)
    client = app.test_client()
    login(client, "victim")
    response = client.get(f"/decks/{ids['deck']}/anki.apkg")
    assert response.status_code == 200
    with tempfile.TemporaryDirectory() as folder:
        with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
            archive.extract("collection.anki2", folder)
        conn = sqlite3.connect(Path(folder) / "collection.anki2")
        try:
            fields = [row[0].split("\x1f") for row in conn.execute("select flds from notes")]
        finally:
            conn.close()
    assert len(fields) == len(NOTES)
    for text, extra, *_rest in fields:
        assert_inert(text, "anki Text")
        assert_inert(extra, "anki Extra")
        assert "{{c1::" in text  # the cloze markers themselves survive
        assert "&lt;script&gt;" in extra
        counts.add("bad_inputs_rendered", 2)


def test_uploaded_hostile_material_is_stored_as_text(app: Flask, make_user: Any, counts: Any) -> None:
    make_user("boss", role="super_admin", department="党委办公室")
    client = app.test_client()
    login(client, "boss")
    hostile = ("<script>alert('t')</script>{{ 7*7 }}学习材料\n" + material_text(3)
               + "\n\"><img src=x onerror=alert(1)>坚持{{c1::<b>x</b>}}'; DROP TABLE materials; --\u202e\u200b\n")
    preview = upload(client, hostile, week=12)
    assert preview.status_code == 200, preview.get_data(as_text=True)[:500]
    assert_inert(preview.get_data(as_text=True), "material preview")
    confirmed = post(client, "/admin/materials/confirm", {"token": hidden(preview.get_data(as_text=True), "token")})
    assert confirmed.status_code == 302
    with session_scope(app) as db:
        material = db.scalar(select(Material))
        assert material is not None
        # Kept as typed (braces are normalised to full width, so material text can never forge a cloze).
        assert material.title == "<script>alert('t')</script>｛｛ 7*7 ｝｝学习材料"
        assert "<img src=x onerror=alert(1)>" in material.text
        assert "'; DROP TABLE materials; --" in material.text and "\u202e" in material.text
        deck_id = material.deck.id
        notes = list(db.scalars(select(Note.text).where(Note.deck_id == deck_id)))
    assert notes
    for path in ("/admin/materials", f"/admin/decks/{deck_id}"):
        assert_inert(client.get(path).get_data(as_text=True), path)
    counts.add("bad_inputs_rendered", 3)
    assert EXTRA  # (shared payload module)
