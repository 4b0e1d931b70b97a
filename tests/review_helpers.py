"""Helpers for review tests: decks built straight through the models, and the review API as a client."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from cards.cloze import cloze_numbers
from helpers import csrf_token
from webapp.db import session_scope
from webapp.models import DECK_PUBLISHED, Card, Deck, DeckAssignment, Note

#: 2026-11-29 10:00 in Shanghai: study day 2026-11-29.
NOON = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)

TEXTS = [
    "坚持{{c1::共抓大保护}}、{{c2::不搞大开发}}",
    "推进{{c1::高质量发展}}",
    "实现{{c1::中华民族伟大复兴}}的中国梦",
    "“{{c1::十年禁渔}}”成效显著",
]


def make_deck(app: Flask, texts: list[str] | None = None, *, key: str = "w11", title: str = "第11周学习材料",
              week: int | None = 11, new_per_day: int = 20, status: str = DECK_PUBLISHED,
              everyone: bool = True, user_id: int | None = None, department_id: int | None = None,
              kind: str = "cloze") -> int:
    """A deck with one note per text and one card per cloze number; assigned as asked. Returns its id."""
    with session_scope(app, write=True) as db:
        deck = Deck(key=key, title=title, term="2026-2027学年第一学期", week=week, status=status,
                    new_per_day=new_per_day)
        db.add(deck)
        db.flush()
        for position, text in enumerate(texts if texts is not None else TEXTS):
            note = Note(deck_id=deck.id, key=f"{key}-{position}", kind=kind, text=text, extra=f"原文：{text}",
                        position=position)
            db.add(note)
            db.flush()
            for n in cloze_numbers(text):
                db.add(Card(note_id=note.id, deck_id=deck.id, ord=n, position=position * 1000 + n))
        if everyone or user_id or department_id:
            db.add(DeckAssignment(deck_id=deck.id, everyone=everyone and not (user_id or department_id),
                                  user_id=user_id, department_id=department_id))
        return deck.id


class ReviewClient:
    """The review API as the page's script uses it (CSRF header read from the page's meta tag)."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.csrf = csrf_token(client, "/today")

    def next(self) -> dict[str, Any] | None:
        resp = self.client.get("/api/v1/review/next")
        assert resp.status_code in (200, 204), resp.get_data(as_text=True)
        return None if resp.status_code == 204 else resp.get_json()

    def post(self, path: str, body: dict[str, Any] | None = None, csrf: bool = True):  # noqa: ANN201
        headers = {"X-CSRFToken": self.csrf} if csrf else {}
        return self.client.post(path, json=body if body is not None else {}, headers=headers)

    def grade(self, card: dict[str, Any], quality: int, ms: int = 1500):  # noqa: ANN201
        return self.post(f"/api/v1/review/{card['card_id']}", {"quality": quality, "token": card["token"], "ms": ms})

    def undo(self):  # noqa: ANN201
        return self.post("/api/v1/review/undo")
