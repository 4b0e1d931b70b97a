"""The admin's week in Chromium: upload a .docx, fix a card, add one from the source, publish, assign;
then a staff member of that department finds the deck on /today."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import docx
import pytest
from flask import Flask
from sqlalchemy import select

from admin_helpers import material_text
from helpers import PASSWORD
from webapp.db import session_scope
from webapp.models import AuditLog, Deck, DeckAssignment, Note

pytestmark = pytest.mark.browser

FIXED = "坚持{{c1::共抓大保护}}、{{c2::不搞大开发}}"


def _docx() -> bytes:
    document = docx.Document()
    for line in material_text(3).splitlines():
        document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url(f"{base}/today")


def test_upload_edit_publish_assign_then_staff_sees_it(app: Flask, live_server: str, new_page: Callable[..., Any],
                                                        make_user: Callable[..., int], artifacts) -> None:  # noqa: ANN001
    make_user("boss", role="super_admin", department="党委办公室")
    make_user("t1", name="马院老师", department="马克思主义学院")
    make_user("t2", name="外院老师", department="外国语学院")
    base = live_server
    page = new_page()
    _sign_in(page, base, "boss")

    # Upload a Word file, see the preview, confirm.
    page.goto(f"{base}/admin/materials")
    page.fill("#title", "第11周：长江经济带")
    page.fill("#term", "2023-2024学年第一学期")
    page.fill("#week", "11")
    page.set_input_files("#file", files=[{"name": "第11周.docx", "buffer": _docx(),
                                           "mimeType": "application/vnd.openxmlformats-officedocument"
                                                       ".wordprocessingml.document"}])
    page.click("#upload-submit")
    assert page.inner_text("#preview-identity") == "2023-2024-1-w11"
    page.click("#confirm-upload")
    page.wait_for_url(re.compile(r".*/admin/decks/\d+$"))
    deck_id = int(page.url.rsplit("/", 1)[1])

    # Fix the first card: the live preview shows the two cards before saving.
    first = page.locator("article.note").first
    note_id = int(first.get_attribute("data-note-id"))
    textarea = first.locator("textarea.note-text")
    textarea.fill(FIXED)
    page.wait_for_selector(f"#preview-{note_id} .preview-card >> nth=1")
    assert "[…]" in page.inner_text(f"#preview-{note_id} .preview-card >> nth=0")
    textarea.fill("坚持{{c1::共抓大保护")  # broken markup is explained live
    page.wait_for_selector(f"#preview-{note_id}.error")
    assert "不配对" in page.inner_text(f"#preview-{note_id}")
    textarea.fill(FIXED)
    first.locator("button.save-note").click()
    page.wait_for_selector(".flash-success")
    assert "已保存笔记" in page.inner_text(".flash-success")

    # Add a note by selecting words in the source, then hide part of it with the cloze button.
    page.evaluate("""() => {
        const p = document.querySelector('.source-p[data-p="0"]');
        const text = p.firstChild, at = text.data.indexOf('以科技创新为引领');
        const range = document.createRange();
        range.setStart(text, at); range.setEnd(text, at + 8);
        const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
        p.dispatchEvent(new MouseEvent('mouseup', {bubbles: true}));
    }""")
    page.wait_for_selector("#add-note-form:not(.hidden)")
    assert page.input_value("#add-span") == "以科技创新为引领"
    page.evaluate("() => { const t = document.getElementById('add-text'); t.focus(); t.setSelectionRange(1, 5); }")
    page.click("#add-note-form .cloze-wrap")
    assert page.input_value("#add-text") == "以{{c1::科技创新}}为引领"
    page.click("#add-note-submit")
    page.wait_for_selector(".flash-success")
    assert "已添加笔记" in page.inner_text(".flash-success")

    # Publish, then assign to one department with a learn-by date.
    page.click("#publish-deck")
    page.wait_for_url(f"{base}/admin/decks/{deck_id}/assign")
    page.check("input[name=department][data-name=马克思主义学院]")
    page.fill("#learn_by", "2026-12-31")
    page.click("#assign-submit")
    page.wait_for_selector("#assignment-list")
    assert "马克思主义学院" in page.inner_text("#assignment-list")
    page.screenshot(path=str(artifacts / "admin-assign.png"), full_page=True)
    # The one 400 we provoked on purpose (the preview explaining broken markup) is the only error.
    assert page.console_errors == [f"HTTP 400 {base}/admin/decks/preview"]

    with session_scope(app) as db:
        note = db.get(Note, note_id)
        assert note.text == FIXED and {c.ord for c in note.cards if not c.retired} == {1, 2}
        assert db.scalar(select(Note).where(Note.deck_id == deck_id, Note.text == "以{{c1::科技创新}}为引领"))
        assert db.get(Deck, deck_id).status == "published"
        assert db.scalar(select(DeckAssignment.learn_by)).isoformat() == "2026-12-31"
        actions = set(db.scalars(select(AuditLog.action)))
        assert {"material.upload", "note.edit", "note.add", "deck.publish", "deck.assign"} <= actions

    # A staff member of that department sees the deck on /today; one of another department does not.
    staff = new_page(phone=True)
    _sign_in(staff, base, "t1")
    assert "第11周：长江经济带" in staff.inner_text(f"section.deck-today[data-deck-id='{deck_id}']")
    assert staff.locator("#start-review").is_visible()
    other = new_page(phone=True)
    _sign_in(other, base, "t2")
    assert other.locator(f"section.deck-today[data-deck-id='{deck_id}']").count() == 0
    assert staff.console_errors == [] and other.console_errors == []
