"""Materials: upload, preview, confirm; the same bytes twice; corrected versions keep keys and history."""

from __future__ import annotations

import io
from datetime import date

import docx
import pytest
from flask import Flask
from sqlalchemy import func, select

from admin_helpers import TERM, as_admin, hidden, material_text, post, post_multipart, upload
from helpers import login
from webapp.db import session_scope
from webapp.models import AuditLog, Card, Deck, Material, Note, ReviewLog, ReviewState, User


def _count(app: Flask, model) -> int:  # noqa: ANN001
    with session_scope(app) as db:
        return db.scalar(select(func.count()).select_from(model))


def _confirm(client, preview_html: str):  # noqa: ANN001, ANN202
    return post(client, "/admin/materials/confirm", {"token": hidden(preview_html, "token")})


def test_upload_preview_writes_nothing_until_confirmed(app: Flask, client, make_user) -> None:  # noqa: ANN001
    as_admin(client, make_user)
    resp = upload(client, material_text())
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200, html
    assert "2023-2024-1-w11" in html  # identity from term + week
    assert _count(app, Material) == 0 and _count(app, Note) == 0

    resp = _confirm(client, html)
    assert resp.status_code == 302
    with session_scope(app) as db:
        deck = db.scalar(select(Deck))
        assert deck.key == "2023-2024-1-w11" and deck.status == "draft" and deck.term == TERM
        assert resp.headers["Location"].endswith(f"/admin/decks/{deck.id}")
        notes = db.scalar(select(func.count()).select_from(Note).where(Note.deck_id == deck.id))
        assert notes > 5
        entry = db.scalar(select(AuditLog).where(AuditLog.action == "material.upload"))
        assert entry.details["added"] == notes and entry.actor_id is not None
    listing = client.get("/admin/materials").get_data(as_text=True)
    assert "<code>2023-2024-1-w11</code>" in listing and f"/admin/decks/{deck.id}" in listing
    # The pending upload is gone once confirmed: confirming again is refused.
    again = _confirm(client, html)
    assert again.status_code == 400 and "预览已过期或已确认过" in again.get_data(as_text=True)


def test_docx_upload_and_cancel(app: Flask, client, make_user) -> None:  # noqa: ANN001
    as_admin(client, make_user)
    document = docx.Document()
    for line in material_text(2).splitlines():
        document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    resp = upload(client, "", filename="第11周.docx", data=buffer.getvalue())
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200, html
    assert "第11周.docx" in html
    resp = post(client, "/admin/materials/cancel", {"token": hidden(html, "token")})
    assert resp.status_code == 302
    assert _count(app, Material) == 0
    assert _confirm(client, html).status_code == 400  # cancelled previews cannot be confirmed


@pytest.mark.parametrize(("filename", "data", "message"), [
    ("a.exe", b"MZ", "不支持"),
    ("a.txt", b"", "文件是空的"),
    ("a.txt", b"hello world, no Chinese here", ""),
    ("a.docx", b"not a zip", ""),
])
def test_bad_uploads_are_refused_with_a_message(app: Flask, client, make_user, filename, data, message) -> None:  # noqa: ANN001
    as_admin(client, make_user)
    resp = upload(client, "", filename=filename, data=data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert 'class="flash flash-error"' in html and message in html
    assert _count(app, Material) == 0


def test_missing_term_and_week_asks_for_identity(client, make_user) -> None:  # noqa: ANN001
    as_admin(client, make_user)
    resp = post(client, "/admin/materials/upload", {"text": material_text(1), "term": "", "week": ""},
                content_type="multipart/form-data")
    assert resp.status_code == 400
    assert "材料标识" in resp.get_data(as_text=True)


def test_oversized_body_gets_the_friendly_413_page(app: Flask, client, make_user) -> None:  # noqa: ANN001
    as_admin(client, make_user)
    big = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    resp = post_multipart(client, "/admin/materials/upload",
                          {"term": TERM, "week": "3", "file": (io.BytesIO(big), "big.pdf")})
    assert resp.status_code == 413
    assert "上传的文件太大" in resp.get_data(as_text=True)
    assert _count(app, Material) == 0


def test_txt_over_5_mb_is_refused_before_extraction(app: Flask, client, make_user) -> None:  # noqa: ANN001
    as_admin(client, make_user)
    resp = upload(client, "", filename="big.txt", data="学".encode() * (2 * 1024 * 1024))
    assert resp.status_code == 400
    assert "超过 5 MB" in resp.get_data(as_text=True)


def test_same_file_twice_names_the_material_that_has_it(app: Flask, client, make_user) -> None:  # noqa: ANN001
    as_admin(client, make_user)
    text = material_text(2)
    _confirm(client, upload(client, text, title="第一份").get_data(as_text=True))
    html = upload(client, text, week=12).get_data(as_text=True)
    assert 'id="duplicate-warning"' in html
    assert "第一份" in html and "2023-2024-1-w11" in html


def test_corrected_version_keeps_keys_cards_and_history(app: Flask, client, make_user) -> None:  # noqa: ANN001
    as_admin(client, make_user)
    learner = make_user("s1")
    original = material_text(4)
    _confirm(client, upload(client, original).get_data(as_text=True))
    with session_scope(app, write=True) as db:
        deck = db.scalar(select(Deck))
        deck.status = "published"
        notes = list(db.scalars(select(Note).where(Note.deck_id == deck.id).order_by(Note.position)))
        # Someone has studied a card of the first note.
        card = notes[0].cards[0]
        db.add(ReviewState(user_id=learner, card_id=card.id, deck_id=deck.id, repetitions=1, easiness_cents=250,
                           interval=1, due_day=date(2026, 11, 30), introduced_day=date(2026, 11, 29),
                           last_review_day=date(2026, 11, 29),
                           last_reviewed_at=deck.created_at))
        db.add(ReviewLog(user_id=learner, card_id=card.id, deck_id=deck.id, kind="learn", quality=4,
                         study_day=date(2026, 11, 29)))
        first_key, first_card = notes[0].key, card.id
        last = max(n.source["paragraph"] for n in notes)
        paragraph_keys = {n.key for n in notes if n.source["paragraph"] == last}
        before_keys = {n.key for n in notes}
    assert paragraph_keys, "the last paragraph should yield notes"

    lines = original.splitlines()  # drop the last paragraph, add a new one
    corrected = "\n".join(lines[:-1] + ["坚持以人民为中心的发展思想，推动“十年禁渔”取得实效，守护好一江碧水。"]) + "\n"
    html = upload(client, corrected).get_data(as_text=True)
    assert 'id="replace-notice"' in html
    retired_shown = int(html.split('id="count-retired">停用 ')[1].split("<")[0])
    added_shown = int(html.split('id="count-added">新增 ')[1].split("<")[0])
    assert retired_shown == len(paragraph_keys) and added_shown >= 1
    with session_scope(app) as db:  # the preview wrote nothing
        assert db.scalar(select(func.count()).select_from(Note).where(Note.retired.is_(True))) == 0

    assert _confirm(client, html).status_code == 302
    with session_scope(app) as db:
        notes = {n.key: n for n in db.scalars(select(Note))}
        assert {k for k, n in notes.items() if n.retired and not n.source.get("pending")} == paragraph_keys
        assert notes[first_key].retired is False and db.get(Card, first_card).note.key == first_key
        assert db.scalar(select(func.count()).select_from(ReviewLog)) == 1
        assert db.scalar(select(func.count()).select_from(ReviewState)) == 1
        new = [n for k, n in notes.items() if k not in before_keys]
        assert len(new) == added_shown
        # The deck is published: new notes wait for review (retired, pending) before anyone studies them.
        assert all(n.retired and n.source.get("pending") for n in new)
        assert all(c.retired for n in new for c in n.cards)
        assert db.scalar(select(Material)).text.endswith("守护好一江碧水。")
        assert db.scalar(select(AuditLog).where(AuditLog.action == "material.replace")).details["retired"] == \
            len(paragraph_keys)


@pytest.mark.parametrize("role", ["anonymous", "staff", "dept_admin"])
def test_material_routes_are_for_super_admins(app: Flask, client, make_user, role: str) -> None:  # noqa: ANN001
    if role != "anonymous":
        make_user("u1", role=role)
        login(client, "u1")
    for method, url in [("get", "/admin/materials"), ("post", "/admin/materials/upload"),
                        ("post", "/admin/materials/confirm"), ("post", "/admin/materials/cancel")]:
        if method == "get":
            resp = client.get(url)
        else:
            resp = post(client, url, {"text": "x"}) if role != "anonymous" else client.post(url)
        if role == "anonymous":
            assert resp.status_code in (302, 400), url  # 400: no CSRF token for anonymous POSTs
            if resp.status_code == 302:
                assert "/login" in resp.headers["Location"]
        else:
            assert resp.status_code == 403, url
    assert _count(app, Material) == 0
    with session_scope(app) as db:
        assert db.scalar(select(func.count()).select_from(User)) == (0 if role == "anonymous" else 1)
