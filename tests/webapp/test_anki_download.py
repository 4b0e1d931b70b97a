"""Anki downloads from the web and the CLI, verified by importing them with the official anki package."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from anki_helpers import import_into_collection, nid_for_guid, stored_notes
from cards.anki import next_modified, note_guid
from helpers import login
from webapp.cli import main
from webapp.db import session_scope
from webapp.models import Card, Deck, Note
from webapp.services.decks import retire_note, sync_cards


def _seed_deck(app: Flask) -> tuple[int, str]:
    with session_scope(app) as db:
        deck = db.scalar(select(Deck))
        return deck.id, deck.title


def _counts(app: Flask, deck_id: int) -> tuple[int, int]:
    with session_scope(app) as db:
        notes = db.scalar(select(func.count()).select_from(Note).where(Note.deck_id == deck_id))
        cards = db.scalar(select(func.count()).select_from(Card).where(Card.deck_id == deck_id))
        return notes, cards


def test_staff_downloads_the_seed_deck_and_anki_imports_it(seeded: Flask, client: FlaskClient, make_user,
                                                           tmp_path: Path) -> None:
    make_user("2001")
    login(client, "2001")
    deck_id, title = _seed_deck(seeded)
    page = client.get("/decks/").get_data(as_text=True)
    assert f"/decks/{deck_id}/anki.apkg" in page and "tag:tifa::retired" in page
    resp = client.get(f"/decks/{deck_id}/anki.apkg")
    assert resp.status_code == 200
    assert resp.mimetype == "application/apkg"
    disposition = resp.headers["Content-Disposition"]
    assert "filename*=UTF-8''" in disposition and quote(title) in disposition
    apkg = tmp_path / "seed.apkg"
    apkg.write_bytes(resp.data)
    col = import_into_collection(apkg, tmp_path / "col" / "collection.anki2")
    try:
        notes, cards = _counts(seeded, deck_id)
        assert col.note_count() == notes
        assert col.card_count() == cards
        assert any(title in name.name for name in col.decks.all_names_and_ids())
    finally:
        col.close()


def test_reexport_after_edit_updates_in_place(seeded: Flask, client: FlaskClient, make_user, tmp_path: Path) -> None:
    make_user("2002")
    login(client, "2002")
    deck_id, _ = _seed_deck(seeded)
    first = tmp_path / "1.apkg"
    first.write_bytes(client.get(f"/decks/{deck_id}/anki.apkg").data)
    col_path = tmp_path / "col" / "collection.anki2"
    col = import_into_collection(first, col_path)
    col.close()
    with session_scope(seeded) as db:
        edited, gone = db.scalars(select(Note).where(Note.deck_id == deck_id).order_by(Note.position).limit(2))
        edited.text = edited.text + "（修订）"
        edited.updated_at = next_modified(edited.updated_at)
        sync_cards(db, edited)
        retire_note(db, gone)
        edited_key, gone_key, new_text = edited.key, gone.key, edited.text
    second = tmp_path / "2.apkg"
    second.write_bytes(client.get(f"/decks/{deck_id}/anki.apkg").data)
    from anki_helpers import import_apkg, open_collection

    col = open_collection(col_path)
    try:
        before = col.note_count()
        import_apkg(col, second)
        assert col.note_count() == before
        notes = stored_notes(col)
        assert "（修订）" in notes[note_guid_for(edited_key)].fields["Text"]
        assert "tifa::retired" in notes[note_guid_for(gone_key)].tags
        assert nid_for_guid(col, note_guid_for(edited_key))
        assert new_text.endswith("（修订）")
    finally:
        col.close()


def note_guid_for(key: str) -> str:
    from cards.anki import ExportNote
    from webapp.models import utcnow

    return note_guid(ExportNote(key=key, kind="cloze", text="", extra="", source="", modified=utcnow()))


def test_staff_cannot_download_a_deck_not_assigned_to_them(seeded: Flask, client: FlaskClient, make_user) -> None:
    with session_scope(seeded) as db:
        db.add(Deck(key="other-w1", title="别的卡组", status="published"))
    with session_scope(seeded) as db:
        other = db.scalar(select(Deck.id).where(Deck.key == "other-w1"))
    make_user("2003")
    login(client, "2003")
    assert client.get(f"/decks/{other}/anki.apkg").status_code == 404
    assert client.get("/decks/999999/anki.apkg").status_code == 404


def test_draft_deck_gives_a_message_not_a_file(seeded: Flask, client: FlaskClient, make_user) -> None:
    with session_scope(seeded) as db:
        db.add(Deck(key="draft-w2", title="草稿卡组", status="draft"))
    with session_scope(seeded) as db:
        draft = db.scalar(select(Deck.id).where(Deck.key == "draft-w2"))
    make_user("2004", role="super_admin")
    login(client, "2004")
    resp = client.get(f"/decks/{draft}/anki.apkg")
    assert resp.status_code == 302
    assert "尚未发布" in client.get(resp.headers["Location"]).get_data(as_text=True)


def test_anonymous_is_sent_to_login(client: FlaskClient) -> None:
    resp = client.get("/decks/1/anki.apkg")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


@pytest.fixture
def cli_env(seeded: Flask, db_url: str, tmp_path: Path) -> dict[str, str]:
    return {"TIFA_DATABASE_URL": db_url, "TIFA_INSTANCE_PATH": str(tmp_path / "instance")}


def test_cli_export_all_and_unknown_deck(cli_env: dict[str, str], tmp_path: Path, seeded: Flask) -> None:
    out = tmp_path / "all.apkg"
    result = CliRunner().invoke(main, ["export-apkg", "-o", str(out)], env=cli_env)
    assert result.exit_code == 0, result.output
    col = import_into_collection(out, tmp_path / "c" / "collection.anki2")
    try:
        deck_id, _ = _seed_deck(seeded)
        assert col.note_count() == _counts(seeded, deck_id)[0]
    finally:
        col.close()
    missing = tmp_path / "missing.apkg"
    result = CliRunner().invoke(main, ["export-apkg", "--deck", "no-such-deck", "-o", str(missing)], env=cli_env)
    assert result.exit_code == 1 and "找不到卡组" in result.output
    assert not missing.exists()


def test_today_links_each_deck_to_its_download(seeded: Flask, client: FlaskClient, make_user) -> None:
    make_user("2005")
    login(client, "2005")
    deck_id, _ = _seed_deck(seeded)
    html = client.get("/today").get_data(as_text=True)
    assert f"/decks/{deck_id}/anki.apkg" in html
