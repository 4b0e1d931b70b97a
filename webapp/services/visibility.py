"""Which decks a person studies: published decks assigned to everyone, their department or them."""

from __future__ import annotations

from sqlalchemy import Select, or_, select

from ..models import DECK_PUBLISHED, Deck, DeckAssignment, User


def assigned_deck_ids(user: User) -> Select:
    """A subquery of the published deck ids assigned to ``user`` (usable in ``in_()``)."""
    targets = [DeckAssignment.everyone.is_(True), DeckAssignment.user_id == user.id]
    if user.department_id is not None:
        targets.append(DeckAssignment.department_id == user.department_id)
    return (
        select(DeckAssignment.deck_id)
        .join(Deck, Deck.id == DeckAssignment.deck_id)
        .where(Deck.status == DECK_PUBLISHED, or_(*targets))
        .distinct()
    )


def visible_decks(user: User) -> Select:
    """Decks ``user`` may study or download, in week order."""
    return select(Deck).where(Deck.id.in_(assigned_deck_ids(user))).order_by(Deck.term, Deck.week, Deck.id)
