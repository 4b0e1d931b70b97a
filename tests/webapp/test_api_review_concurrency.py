"""Two requests at once: the same token grades once; two tabs with different tokens give one 409."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from helpers import login
from review_helpers import ReviewClient, make_deck
from webapp.db import session_scope
from webapp.models import ReviewLog, ReviewState

ROUNDS = 4


def _at_once(*calls: Callable[[], Any]) -> list[Any]:
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def _two_tabs(app: Flask, make_user: Callable[..., int]) -> tuple[ReviewClient, ReviewClient]:
    make_user("c1")
    tabs = []
    for _ in range(2):
        client = app.test_client()
        assert login(client, "c1").status_code == 302
        tabs.append(ReviewClient(client))
    return tabs[0], tabs[1]


def _count(app: Flask, model: type) -> int:
    with session_scope(app) as db:
        return db.scalar(select(func.count()).select_from(model))


def test_same_token_from_two_threads_is_one_grade(app: Flask, make_user: Callable[..., int]) -> None:
    make_deck(app)
    a, b = _two_tabs(app, make_user)
    for n in range(1, ROUNDS + 1):
        card = a.next()
        first, second = _at_once(lambda: a.grade(card, 5), lambda: b.grade(card, 5))  # noqa: B023
        assert first.status_code == second.status_code == 200, (first.get_json(), second.get_json())
        assert first.get_json() == second.get_json()
        assert _count(app, ReviewLog) == n
    with session_scope(app) as db:
        assert set(db.scalars(select(ReviewState.version))) == {1}


def test_two_tabs_with_their_own_tokens_give_one_409(app: Flask, make_user: Callable[..., int]) -> None:
    make_deck(app)
    a, b = _two_tabs(app, make_user)
    graded: set[int] = set()
    for n in range(1, ROUNDS + 1):
        card_a, card_b = a.next(), b.next()
        graded.add(card_a["card_id"])
        assert card_a["card_id"] == card_b["card_id"]
        first, second = _at_once(lambda: a.grade(card_a, 4), lambda: b.grade(card_b, 2))  # noqa: B023
        statuses = sorted([first.status_code, second.status_code])
        assert statuses == [200, 409], (first.get_json(), second.get_json())
        loser = first if first.status_code == 409 else second
        assert loser.get_json()["code"] == "stale"
        assert _count(app, ReviewLog) == n
        assert _count(app, ReviewState) == len(graded)  # a card graded 2 comes back as a relearn
