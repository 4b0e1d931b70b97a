"""Decks in the database become Anki packages (cards/anki.py does the genanki work)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from cards.anki import ExportDeck, ExportError, ExportNote

from ..models import DECK_PUBLISHED, Deck, Note


def _source_text(deck: Deck, note: Note) -> str:
    where = [deck.title]
    if deck.term or deck.week:
        where.append(f"{deck.term} 第{deck.week}周" if deck.week else deck.term)
    paragraph = (note.source or {}).get("paragraph")  # counted from 1
    if isinstance(paragraph, int):
        where.append(f"第{paragraph}段")
    return "，".join(where)


def to_export_deck(deck: Deck) -> ExportDeck:
    return ExportDeck(
        key=deck.key,
        title=deck.title,
        term=deck.term,
        week=deck.week,
        notes=[
            ExportNote(key=n.key, kind=n.kind, text=n.text, extra=n.extra, source=_source_text(deck, n),
                       modified=n.updated_at, retired=n.retired)
            for n in deck.notes
        ],
    )


def load_export_decks(db: Session, deck_ids: Sequence[int] | None = None,
                      keys: Sequence[str] | None = None) -> list[ExportDeck]:
    """Published decks by id or key (all published decks when neither is given).

    Raises ExportError for an unknown deck or a draft, naming it.
    """
    query = select(Deck).options(selectinload(Deck.notes)).order_by(Deck.term, Deck.week, Deck.id)
    if deck_ids:
        query = query.where(Deck.id.in_(deck_ids))
    elif keys:
        query = query.where(Deck.key.in_(keys))
    else:
        query = query.where(Deck.status == DECK_PUBLISHED)
    decks = list(db.scalars(query))
    wanted = list(deck_ids or keys or [])
    found = {d.id for d in decks} | {d.key for d in decks}
    missing = [str(w) for w in wanted if w not in found]
    if missing:
        raise ExportError("unknown_deck", f"找不到卡组 {'、'.join(missing)}，请检查卡组编号。",
                          f"unknown deck {', '.join(missing)}")
    drafts = [d.title for d in decks if d.status != DECK_PUBLISHED]
    if drafts:
        raise ExportError("draft_deck", f"卡组《{'》《'.join(drafts)}》尚未发布，发布后才能导出。",
                          "draft decks cannot be exported")
    if not decks:
        raise ExportError("no_decks", "还没有已发布的卡组可以导出。", "no published decks")
    return [to_export_deck(d) for d in decks]
