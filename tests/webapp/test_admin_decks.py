"""Deck editor, publishing and assignment: keys survive edits, retiring keeps logs, scope is enforced."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask
from sqlalchemy import func, select

from admin_helpers import TERM, as_admin, material_text, post
from cards.anki import note_mtime
from helpers import csrf_token, login
from webapp.db import session_scope
from webapp.models import AuditLog, Card, Deck, DeckAssignment, Department, Note, ReviewLog, ReviewState
from webapp.services.decks import import_material


def _deck(app: Flask, paragraphs: int = 3, identity: str = "2023-2024-1-w11") -> int:
    with session_scope(app, write=True) as db:
        deck, _ = import_material(db, material_text(paragraphs).encode(), "w11.txt", identity=identity, term=TERM,
                                  week=11)
        return deck.id


def _notes(app: Flask, deck_id: int) -> list[Note]:
    with session_scope(app) as db:
        notes = list(db.scalars(select(Note).where(Note.deck_id == deck_id).order_by(Note.position)))
        for n in notes:
            _ = n.cards
        return notes


def test_editor_shows_notes_with_highlighted_source_and_the_text(app: Flask, client, make_user) -> None:  # noqa: ANN001
    deck_id = _deck(app)
    as_admin(client, make_user)
    html = client.get(f"/admin/decks/{deck_id}").get_data(as_text=True)
    notes = _notes(app, deck_id)
    assert html.count('class="note card') == len(notes)
    assert "<mark>" in html and 'class="source-p" data-p="0"' in html
    assert "admin-editor.js" in html and "<script>" not in html and "style=" not in html


def test_edit_keeps_key_and_history_bumps_mtime_and_follows_cloze_numbers(app: Flask, client, make_user) -> None:  # noqa: ANN001
    deck_id = _deck(app)
    as_admin(client, make_user)
    learner = make_user("s1")
    note = _notes(app, deck_id)[0]
    card_id = note.cards[0].id
    with session_scope(app, write=True) as db:
        db.add(ReviewLog(user_id=learner, card_id=card_id, deck_id=deck_id, kind="learn", quality=5,
                         study_day=date(2026, 11, 29)))
    new_text = "坚持{{c1::共抓大保护}}、{{c2::不搞大开发}}"
    resp = post(client, f"/admin/decks/{deck_id}/notes/{note.id}", {"text": new_text})
    assert resp.status_code == 302
    with session_scope(app) as db:
        edited = db.get(Note, note.id)
        assert edited.key == note.key and edited.text == new_text
        assert note_mtime(edited.updated_at) > note_mtime(note.updated_at)
        cards = {c.ord: c for c in edited.cards}
        assert set(cards) == {1, 2} and cards[1].id == card_id and not cards[1].retired and not cards[2].retired
        assert db.scalar(select(func.count()).select_from(ReviewLog)) == 1
        entry = db.scalar(select(AuditLog).where(AuditLog.action == "note.edit"))
        assert entry.details["text"] == {"before": note.text, "after": new_text}
    # Dropping c2 retires its card (logs and states stay); bad markup is refused with the reason.
    post(client, f"/admin/decks/{deck_id}/notes/{note.id}", {"text": "坚持{{c1::共抓大保护}}"})
    with session_scope(app) as db:
        assert {c.ord: c.retired for c in db.get(Note, note.id).cards} == {1: False, 2: True}
    resp = post(client, f"/admin/decks/{deck_id}/notes/{note.id}", {"text": "坚持{{c1::共抓大保护"},
                follow_redirects=True)
    assert "挖空标记不配对" in resp.get_data(as_text=True)
    with session_scope(app) as db:
        assert db.get(Note, note.id).text == "坚持{{c1::共抓大保护}}"


def test_preview_endpoint_renders_cards_or_explains(client, make_user) -> None:  # noqa: ANN001
    as_admin(client, make_user)

    headers = {"X-CSRFToken": csrf_token(client, "/admin/")}
    resp = client.post("/admin/decks/preview", json={"text": "坚持{{c1::共抓大保护}}、{{c2::不搞大开发}}"},
                       headers=headers)
    assert resp.status_code == 200
    cards = resp.get_json()["cards"]
    assert [c["n"] for c in cards] == [1, 2]
    assert '<span class="cloze">[…]</span>' in cards[0]["prompt"] and "不搞大开发" in cards[0]["prompt"]
    bad = client.post("/admin/decks/preview", json={"text": "没有挖空"}, headers=headers)
    assert bad.status_code == 400 and bad.get_json()["code"] == "bad_cloze" and "没有挖空" in bad.get_json()["message"]
    assert client.post("/admin/decks/preview", json={"text": "x"}).status_code == 400  # CSRF required


def test_delete_retires_cards_keeps_logs_and_restore_brings_them_back(app: Flask, client, make_user) -> None:  # noqa: ANN001
    deck_id = _deck(app)
    as_admin(client, make_user)
    learner = make_user("s1")
    note = _notes(app, deck_id)[1]
    with session_scope(app, write=True) as db:
        db.add(ReviewState(user_id=learner, card_id=note.cards[0].id, deck_id=deck_id, repetitions=1,
                           easiness_cents=250, interval=1, due_day=date(2026, 11, 30),
                           introduced_day=date(2026, 11, 29), last_review_day=date(2026, 11, 29),
                           last_reviewed_at=note.created_at))
    assert post(client, f"/admin/decks/{deck_id}/notes/{note.id}/delete").status_code == 302
    with session_scope(app) as db:
        gone = db.get(Note, note.id)
        assert gone.retired and all(c.retired for c in gone.cards) and gone.source["deleted"]
        assert db.scalar(select(func.count()).select_from(ReviewState)) == 1
    # A re-import of the same material does not bring back a note the admin deleted.
    _deck(app)
    with session_scope(app) as db:
        assert db.get(Note, note.id).retired
    assert post(client, f"/admin/decks/{deck_id}/notes/{note.id}/restore").status_code == 302
    with session_scope(app) as db:
        back = db.get(Note, note.id)
        assert not back.retired and not any(c.retired for c in back.cards) and "deleted" not in back.source
        actions = list(db.scalars(select(AuditLog.action).order_by(AuditLog.id)))
        assert actions == ["note.retire", "note.restore"]


def test_add_note_from_selected_source_text(app: Flask, client, make_user) -> None:  # noqa: ANN001
    deck_id = _deck(app)
    as_admin(client, make_user)
    with session_scope(app) as db:
        deck = db.get(Deck, deck_id)
        paragraph = deck.material.text.split("\n\n")[0]
        identity = deck.material.identity
    span = "以科技创新为引领"
    offset = paragraph.index(span)
    resp = post(client, f"/admin/decks/{deck_id}/notes",
                {"paragraph": "0", "offset": str(offset), "span": span, "text": "以{{c1::科技创新}}为引领"})
    assert resp.status_code == 302
    from cards.notes import note_key

    with session_scope(app) as db:
        note = db.scalar(select(Note).where(Note.key == note_key(identity, span, 1)))
        assert note is not None and note.source["manual"] and note.text == "以{{c1::科技创新}}为引领"
        assert span in note.extra and [c.ord for c in note.cards] == [1]
    # The same selection again is refused; so is text that is not in the paragraph.
    again = post(client, f"/admin/decks/{deck_id}/notes", {"paragraph": "0", "offset": str(offset), "span": span,
                                                          "text": "以{{c1::科技创新}}为引领"}, follow_redirects=True)
    assert "已经有一条笔记" in again.get_data(as_text=True)
    wrong = post(client, f"/admin/decks/{deck_id}/notes", {"paragraph": "0", "span": "完全不存在的文字",
                                                          "text": "{{c1::完全不存在}}的文字"}, follow_redirects=True)
    assert "不在该段原文中" in wrong.get_data(as_text=True)
    # A corrected material keeps the manual note while its span still occurs.
    with session_scope(app, write=True) as db:
        import_material(db, material_text(3).encode(), "w11-v2.txt", identity=identity, term=TERM, week=11)
    with session_scope(app) as db:
        assert not db.scalar(select(Note).where(Note.key == note_key(identity, span, 1))).retired


def test_publish_assign_and_the_staff_member_gets_cards(app: Flask, client, make_user) -> None:  # noqa: ANN001
    deck_id = _deck(app)
    as_admin(client, make_user)
    make_user("t1", department="马克思主义学院")
    make_user("t2", department="外国语学院")
    with session_scope(app) as db:
        marx = db.scalar(select(Department.id).where(Department.name == "马克思主义学院"))
    resp = post(client, f"/admin/decks/{deck_id}/publish")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/admin/decks/{deck_id}/assign")
    resp = post(client, f"/admin/decks/{deck_id}/assign", {"department": str(marx), "learn_by": "2026-12-31"})
    assert resp.status_code == 302
    with session_scope(app) as db:
        a = db.scalar(select(DeckAssignment))
        assert a.department_id == marx and a.learn_by == date(2026, 12, 31)
        assert db.get(Deck, deck_id).status == "published"
        assert {e for e in db.scalars(select(AuditLog.action))} >= {"deck.publish", "deck.assign"}
    # Assigning again adds nothing; an unknown 工号 is named.
    post(client, f"/admin/decks/{deck_id}/assign", {"department": str(marx)})
    bad = post(client, f"/admin/decks/{deck_id}/assign", {"usernames": "nobody"})
    assert bad.status_code == 400 and "nobody" in bad.get_data(as_text=True)
    with session_scope(app) as db:
        assert db.scalar(select(func.count()).select_from(DeckAssignment)) == 1

    client.post("/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    login(client, "t1")
    nxt = client.get("/api/v1/review/next")
    assert nxt.status_code == 200 and nxt.get_json()["deck"]["id"] == deck_id
    client.post("/logout", data={"csrf_token": csrf_token(client, "/today")})
    login(client, "t2")
    assert client.get("/api/v1/review/next").status_code == 204


def test_publishing_an_empty_deck_is_refused(app: Flask, client, make_user) -> None:  # noqa: ANN001
    deck_id = _deck(app)
    as_admin(client, make_user)
    with session_scope(app, write=True) as db:
        for card in db.scalars(select(Card).where(Card.deck_id == deck_id)):
            card.retired = True
    resp = post(client, f"/admin/decks/{deck_id}/publish", follow_redirects=True)
    assert "不能发布" in resp.get_data(as_text=True)
    with session_scope(app) as db:
        assert db.get(Deck, deck_id).status == "draft"


def test_pending_notes_from_a_correction_are_accepted_one_by_one(app: Flask, client, make_user) -> None:  # noqa: ANN001
    deck_id = _deck(app, paragraphs=2)
    with session_scope(app, write=True) as db:
        db.get(Deck, deck_id).status = "published"
        import_material(db, material_text(3).encode(), "v2.txt", identity="2023-2024-1-w11", term=TERM, week=11,
                        new_as_pending=True)
    as_admin(client, make_user)
    pending = [n for n in _notes(app, deck_id) if n.source.get("pending")]
    assert pending and all(n.retired for n in pending)
    html = client.get(f"/admin/decks/{deck_id}").get_data(as_text=True)
    assert "待审核" in html and html.count(">采用</button>") == len(pending)
    post(client, f"/admin/decks/{deck_id}/notes/{pending[0].id}/restore")
    with session_scope(app) as db:
        accepted = db.get(Note, pending[0].id)
        assert not accepted.retired and "pending" not in accepted.source
        assert not any(c.retired for c in accepted.cards)


# --- access -----------------------------------------------------------------------------------------

EDITOR_ROUTES = ["/admin/decks/{d}", "/admin/decks/{d}/notes/{n}", "/admin/decks/{d}/notes/{n}/delete",
                 "/admin/decks/{d}/notes/{n}/restore", "/admin/decks/{d}/notes", "/admin/decks/{d}/publish",
                 "/admin/decks/{d}/settings"]


@pytest.mark.parametrize("role", ["anonymous", "staff", "dept_admin"])
def test_editor_routes_need_a_super_admin(app: Flask, client, make_user, role: str) -> None:  # noqa: ANN001
    deck_id = _deck(app)
    note = _notes(app, deck_id)[0]
    if role != "anonymous":
        make_user("u1", role=role)
        login(client, "u1")
    for pattern in EDITOR_ROUTES:
        url = pattern.format(d=deck_id, n=note.id)
        if pattern == "/admin/decks/{d}":
            resp = client.get(url)
        elif role == "anonymous":
            resp = client.post(url)
        else:
            resp = post(client, url, {"text": "{{c1::改}}"})
        if role == "anonymous":
            assert resp.status_code in (302, 400), url
        else:
            assert resp.status_code == 403, url
    with session_scope(app) as db:
        assert db.get(Note, note.id).text == note.text and db.get(Deck, deck_id).status == "draft"
        assert db.scalar(select(func.count()).select_from(AuditLog)) == 0


def test_dept_admin_assigns_only_within_their_departments(app: Flask, client, make_user) -> None:  # noqa: ANN001
    deck_id = _deck(app)
    with session_scope(app, write=True) as db:
        db.get(Deck, deck_id).status = "published"
    make_user("other", department="外国语学院")
    make_user("mine", department="马克思主义学院")
    as_admin(client, make_user, username="sec", role="dept_admin", department="马克思主义学院")
    with session_scope(app, write=True) as db:
        ids = {d.name: d.id for d in db.scalars(select(Department))}
        db.add(DeckAssignment(deck_id=deck_id, department_id=ids["外国语学院"]))
    page = client.get(f"/admin/decks/{deck_id}/assign").get_data(as_text=True)
    assert "马克思主义学院" in page and "外国语学院" not in page  # neither as a choice nor as an assignment
    for form in ({"department": str(ids["外国语学院"])}, {"usernames": "other"}, {"everyone": "1"}):
        assert post(client, f"/admin/decks/{deck_id}/assign", form).status_code == 400, form
    assert post(client, f"/admin/decks/{deck_id}/assign", {"department": str(ids["马克思主义学院"]),
                                                          "usernames": "mine"}).status_code == 302
    with session_scope(app) as db:
        theirs = db.scalar(select(DeckAssignment.id).where(DeckAssignment.department_id == ids["外国语学院"]))
        assert db.scalar(select(func.count()).select_from(DeckAssignment)) == 3
    # Another department's assignment cannot be removed by changing the id in the URL.
    assert post(client, f"/admin/decks/{deck_id}/assignments/{theirs}/delete").status_code == 404
    with session_scope(app) as db:
        assert db.get(DeckAssignment, theirs) is not None
    # Drafts are invisible to department admins.
    draft = _deck(app, identity="draft-w12")
    assert client.get(f"/admin/decks/{draft}/assign").status_code == 404
    assert f'data-deck-id="{draft}"' not in client.get("/admin/decks").get_data(as_text=True)
