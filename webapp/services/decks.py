"""Materials become decks: load and extract with cards/, then store notes and cards.

Notes are matched by their stable key, so re-importing a corrected material keeps every
note whose formulation still occurs (with its cards and everyone's history), retires the
vanished ones and drafts the new ones.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

import cards
from cards.anki import next_modified
from cards.cloze import cloze_numbers

from ..models import DECK_PUBLISHED, Card, Deck, DeckAssignment, Material, Note, User, utcnow

#: Card positions leave room for this many cloze numbers per note.
CLOZES_PER_NOTE = 1000


@dataclass
class SyncResult:
    kept: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def default_identity(term: str, week: int | None, fallback: str) -> str:
    """Identity slug from term and week, e.g. 2023-2024学年第一学期 + 11 -> 2023-2024-1-w11."""
    digits = "".join(ch if ch.isdigit() else " " for ch in term).split()
    semester = 1 if "第一" in term or "上" in term else 2 if ("第二" in term or "下" in term) else None
    if len(digits) >= 2 and week is not None:
        parts = [digits[0], digits[1]] + ([str(semester)] if semester else [])
        return "-".join(parts) + f"-w{week}"
    return fallback


def import_material(db: Session, data: bytes, filename: str, *, identity: str, title: str | None = None,
                    term: str = "", week: int | None = None, study_date: date | None = None,
                    uploaded_by: User | None = None) -> tuple[Deck, SyncResult]:
    """Create or replace a material and draft (or re-sync) its deck. Raises cards.MaterialError."""
    raw = cards.load_material(data, filename)
    material_text = cards.normalise(raw)
    drafts = cards.extract(material_text, identity)
    title = (title or material_text.title or filename).strip()
    now = utcnow()

    material = db.scalar(select(Material).where(Material.identity == identity))
    if material is None:
        material = Material(identity=identity, created_at=now)
        db.add(material)
    material.title = title
    material.term = term
    material.week = week
    material.study_date = study_date
    material.filename = filename
    material.original = data
    material.text = "\n\n".join(material_text.paragraphs)
    material.sha256 = sha256(data)
    material.uploaded_by_id = uploaded_by.id if uploaded_by else None
    material.updated_at = now
    db.flush()

    deck = material.deck
    if deck is None:
        deck = Deck(key=identity, material=material, title=title, term=term, week=week, created_at=now)
        db.add(deck)
        db.flush()
    deck.title, deck.term, deck.week, deck.updated_at = title, term, week, now
    result = sync_notes(db, deck, drafts)
    return deck, result


def sync_notes(db: Session, deck: Deck, drafts: list[cards.NoteDraft]) -> SyncResult:
    """Make the deck's notes match the drafts, matching by key."""
    existing = {n.key: n for n in db.scalars(select(Note).where(Note.deck_id == deck.id))}
    result = SyncResult()
    now = utcnow()
    seen: set[str] = set()
    for position, draft in enumerate(drafts):
        seen.add(draft.key)
        note = existing.get(draft.key)
        if note is None:
            note = Note(deck_id=deck.id, key=draft.key, kind=draft.kind, text=draft.text, extra=draft.extra,
                        source=dict(draft.source), position=position, created_at=now, updated_at=now)
            db.add(note)
            db.flush()
            result.added.append(draft.key)
        else:
            # Keep the admin's wording; only the context and order follow the new text.
            if note.retired:
                note.retired = False
                note.updated_at = next_modified(note.updated_at, now)
            note.extra, note.source, note.position = draft.extra, dict(draft.source), position
            result.kept.append(draft.key)
        sync_cards(db, note)
    for key, note in existing.items():
        if key not in seen and not note.retired:
            retire_note(db, note)
            result.retired.append(key)
    return result


def sync_cards(db: Session, note: Note) -> None:
    """One card per cloze number; numbers that vanished from the text retire their card."""
    numbers = set(cloze_numbers(note.text))
    cards_by_ord = {c.ord: c for c in db.scalars(select(Card).where(Card.note_id == note.id))}
    for ord_, card in cards_by_ord.items():
        card.retired = note.retired or ord_ not in numbers
        card.position = note.position * CLOZES_PER_NOTE + ord_
    for ord_ in numbers - cards_by_ord.keys():
        db.add(Card(note_id=note.id, deck_id=note.deck_id, ord=ord_,
                    position=note.position * CLOZES_PER_NOTE + ord_, retired=note.retired))
    db.flush()


def retire_note(db: Session, note: Note) -> None:
    """Retire a note and its cards; reviews and logs stay."""
    note.retired = True
    note.updated_at = next_modified(note.updated_at)
    sync_cards(db, note)


def publish(db: Session, deck: Deck) -> None:
    deck.status = DECK_PUBLISHED
    deck.published_at = deck.published_at or utcnow()
    deck.updated_at = utcnow()


def assign_everyone(db: Session, deck: Deck) -> None:
    exists = db.scalar(select(DeckAssignment.id).where(DeckAssignment.deck_id == deck.id,
                                                       DeckAssignment.everyone.is_(True)))
    if exists is None:
        db.add(DeckAssignment(deck_id=deck.id, everyone=True))
        db.flush()
