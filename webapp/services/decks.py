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
from cards.notes import normalise_span

from ..models import DECK_PUBLISHED, Card, Deck, DeckAssignment, Material, Note, User, utcnow

#: Card positions leave room for this many cloze numbers per note.
CLOZES_PER_NOTE = 1000


@dataclass
class SyncResult:
    kept: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)


#: Flags an admin sets in ``Note.source`` that re-extraction must not wipe: ``deleted`` (retired by
#: hand: stays retired), ``pending`` (new in a corrected material, waiting for review), ``manual``
#: with ``span`` and ``occurrence`` (a note added by selecting source text; kept while its span occurs).
ADMIN_FLAGS = ("deleted", "pending", "manual", "span", "occurrence")


def span_occurs(note: Note, text: str) -> bool:
    """Whether a manual note's span still occurs in ``text`` (as often as its occurrence number)."""
    span = normalise_span(str(note.source.get("span", "")))
    return bool(span) and normalise_span(text).count(span) >= int(note.source.get("occurrence", 1))


def plan_sync(existing: list[Note], drafts: list[cards.NoteDraft], text: str | None = None) -> SyncResult:
    """What ``sync_notes`` would do, without writing: kept, added and retired keys."""
    by_key = {n.key: n for n in existing}
    result = SyncResult()
    seen = set()
    for draft in drafts:
        seen.add(draft.key)
        (result.kept if draft.key in by_key else result.added).append(draft.key)
    for note in existing:
        if note.key in seen or note.retired:
            continue
        if text is not None and note.source.get("manual") and span_occurs(note, text):
            result.kept.append(note.key)
        else:
            result.retired.append(note.key)
    return result


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
                    uploaded_by: User | None = None, new_as_pending: bool = False) -> tuple[Deck, SyncResult]:
    """Create or replace a material and draft (or re-sync) its deck. Raises cards.MaterialError.

    ``new_as_pending``: notes new in a corrected material arrive retired and flagged ``pending``
    until an admin accepts them (used when the deck is already published).
    """
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
    result = sync_notes(db, deck, drafts, text=material.text, new_as_pending=new_as_pending)
    return deck, result


def sync_notes(db: Session, deck: Deck, drafts: list[cards.NoteDraft], *, text: str | None = None,
               new_as_pending: bool = False) -> SyncResult:
    """Make the deck's notes match the drafts, matching by key.

    With ``text`` (the material's new text), manual notes whose span still occurs are kept.
    Notes an admin deleted stay retired; pending ones stay pending.
    """
    existing = {n.key: n for n in db.scalars(select(Note).where(Note.deck_id == deck.id))}
    plan = plan_sync(list(existing.values()), drafts, text)
    now = utcnow()
    for position, draft in enumerate(drafts):
        note = existing.get(draft.key)
        if note is None:
            pending = {"pending": True} if new_as_pending else {}
            note = Note(deck_id=deck.id, key=draft.key, kind=draft.kind, text=draft.text, extra=draft.extra,
                        source={**draft.source, **pending}, position=position, retired=new_as_pending,
                        created_at=now, updated_at=now)
            db.add(note)
            db.flush()
        else:
            # Keep the admin's wording and flags; only the context and order follow the new text.
            flags = {k: note.source[k] for k in ADMIN_FLAGS if k in note.source}
            if note.retired and not (flags.get("deleted") or flags.get("pending")):
                note.retired = False
                note.updated_at = next_modified(note.updated_at, now)
            note.extra, note.source, note.position = draft.extra, {**draft.source, **flags}, position
        sync_cards(db, note)
    for key in plan.retired:
        retire_note(db, existing[key])
    return plan


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
