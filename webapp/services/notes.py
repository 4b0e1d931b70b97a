"""An admin's edits to a deck's notes: reword, delete (retire), restore, add from the source text.

Every edit keeps the note's key (so everyone's review history and the Anki GUID survive) and
moves ``updated_at`` forward (the Anki note mtime, so a re-import updates exactly this note).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cards.anki import next_modified
from cards.cloze import plain_text, render_answer, render_prompt, validate_cloze
from cards.normalise import TERMINAL
from cards.notes import normalise_span, note_key

from ..models import Deck, Note, User, utcnow
from .audit import audit
from .decks import retire_note, sync_cards

MAX_NOTE_CHARS = 2000


class NoteError(ValueError):
    """An edit cannot be made; the message (Chinese) says what was wrong and what to do."""


def check_text(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise NoteError("笔记内容不能为空：请填写包含 {{c1::…}} 挖空的句子。")
    if len(text) > MAX_NOTE_CHARS:
        raise NoteError(f"笔记太长（{len(text)} 字）：请控制在 {MAX_NOTE_CHARS} 字以内。")
    try:
        validate_cloze(text)
    except ValueError as exc:
        raise NoteError(str(exc)) from None
    return text


def card_previews(text: str) -> list[dict[str, Any]]:
    """The cards a note text makes: number, front and back HTML. Raises NoteError on bad markup."""
    text = check_text(text)
    return [{"n": n, "prompt": render_prompt(text, n), "answer": render_answer(text, n)}
            for n in validate_cloze(text)]


def highlight(note: Note) -> tuple[str, str, str]:
    """The source sentence split around the note's text, for highlighting it."""
    extra = note.extra or ""
    try:
        shown = plain_text(note.text)
    except ValueError:
        return extra, "", ""
    at = extra.find(shown)
    if at < 0:
        return "", extra, ""
    return extra[:at], shown, extra[at + len(shown):]


def _bump(note: Note) -> None:
    note.updated_at = next_modified(note.updated_at, utcnow())


def edit_note(db: Session, note: Note, text: str, actor: User) -> bool:
    """Reword a note; its cards follow the cloze numbers. Returns False when nothing changed."""
    text = check_text(text)
    if text == note.text:
        return False
    before = note.text
    note.text = text
    _bump(note)
    sync_cards(db, note)
    audit(db, actor, "note.edit", "note", note.id, deck_id=note.deck_id, key=note.key,
          text={"before": before, "after": text})
    return True


def delete_note(db: Session, note: Note, actor: User) -> None:
    """Retire a note and its cards (logs stay); re-extraction will not bring it back."""
    if note.retired and note.source.get("deleted"):
        return
    note.source = {**{k: v for k, v in note.source.items() if k != "pending"}, "deleted": True}
    if note.retired:
        _bump(note)
    else:
        retire_note(db, note)
    audit(db, actor, "note.retire", "note", note.id, deck_id=note.deck_id, key=note.key, text=note.text)


def restore_note(db: Session, note: Note, actor: User) -> None:
    """Bring back a deleted note, or accept a pending one from a corrected material."""
    if not note.retired:
        return
    was_pending = bool(note.source.get("pending"))
    note.source = {k: v for k, v in note.source.items() if k not in ("deleted", "pending")}
    note.retired = False
    _bump(note)
    sync_cards(db, note)
    audit(db, actor, "note.restore", "note", note.id, deck_id=note.deck_id, key=note.key, accepted=was_pending)


def _sentence_around(paragraph: str, start: int, end: int) -> str:
    """The sentence(s) holding paragraph[start:end]."""
    left = max((paragraph.rfind(ch, 0, start) for ch in TERMINAL), default=-1) + 1
    ends = [i for i in (paragraph.find(ch, end) for ch in TERMINAL) if i >= 0]
    right = min(ends) + 1 if ends else len(paragraph)
    return paragraph[left:right].strip()


def add_manual_note(db: Session, deck: Deck, *, paragraph: int, offset: int | None, span: str, text: str,
                    actor: User) -> Note:
    """A note for text the admin selected in the source.

    Its key follows DESIGN.md like an extracted note's: material identity + normalised span
    (+ occurrence number), so it survives corrections elsewhere in the material.
    """
    if deck.material is None:
        raise NoteError("这个卡组没有学习材料，无法从原文添加笔记。")
    text = check_text(text)
    span = (span or "").strip()
    if len(normalise_span(span)) < 2:
        raise NoteError("请在原文中选中至少两个字，再添加笔记。")
    paragraphs = deck.material.text.split("\n\n")
    if not 0 <= paragraph < len(paragraphs):
        raise NoteError("所选段落不存在：请刷新页面后重新选择。")
    para = paragraphs[paragraph]
    start = offset if offset is not None and para[offset:offset + len(span)] == span else para.find(span)
    if start < 0:
        raise NoteError("所选文字不在该段原文中：请刷新页面后重新选择（不要跨段选择）。")
    if normalise_span(plain_text(text)) and normalise_span(span) not in normalise_span(plain_text(text)) \
            and normalise_span(plain_text(text)) not in normalise_span(span):
        raise NoteError("笔记内容应来自所选原文：请在所选文字上加挖空，不要改成别的句子。")
    before = "\n\n".join(paragraphs[:paragraph] + [para[:start + len(span)]])
    occurrence = normalise_span(before).count(normalise_span(span))
    key = note_key(deck.material.identity, span, max(1, occurrence))
    clash = db.scalar(select(Note).where(Note.key == key))
    if clash is not None:
        raise NoteError("这段文字已经有一条笔记了：请直接编辑那条（如已删除，可先恢复）。")
    position = (db.scalar(select(func.max(Note.position)).where(Note.deck_id == deck.id)) or 0) + 1
    now = utcnow()
    extra = _sentence_around(para, start, start + len(span))
    note = Note(deck_id=deck.id, key=key, kind="cloze", text=text, extra=extra,
                source={"paragraph": paragraph + 1, "manual": True, "span": span, "occurrence": max(1, occurrence)},
                position=position, created_at=now, updated_at=now)
    db.add(note)
    db.flush()
    sync_cards(db, note)
    audit(db, actor, "note.add", "note", note.id, deck_id=deck.id, key=key, text=text)
    return note


