"""The whole seed deck reviewed in Chromium: by keyboard on a desktop, by taps on a phone.

Cards graded below 4 come back in the same session; one grade is undone; afterwards the
database holds exactly the review logs and states that SM-2 gives for the grades given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from helpers import PASSWORD
from scheduler.sm2 import Sm2State, grade
from scheduler.study_day import study_day
from webapp.db import session_scope
from webapp.models import Card, Deck, ReviewLog, ReviewState, User, utcnow

pytestmark = pytest.mark.browser

NEXT_SHOWN = ("() => document.querySelector('#answer').classList.contains('hidden')"
              " || !document.querySelector('#done').classList.contains('hidden')")


@dataclass
class Session:
    first: dict[int, int] = field(default_factory=dict)  # card -> first (kept) grade
    relearns: list[tuple[int, int]] = field(default_factory=list)  # (card, grade) of same-day repeats
    undone: tuple[int, int] | None = None  # (card, grade) taken back


def first_grade(index: int) -> int:
    """A spread of grades: every 4th card graded 2, every 4th 3 (both come back today), the rest 4 or 5."""
    return {0: 5, 1: 2, 2: 4, 3: 3}[index % 4]


def prepare(app: Flask, make_user: Callable[..., int], username: str) -> int:
    """A staff member of our own, and the seed deck's new-card limit raised to take all of it today."""
    make_user(username, name="测试员工")
    with session_scope(app, write=True) as db:
        db.execute(update(Deck).values(new_per_day=1000))
        return db.scalar(select(func.count()).select_from(Card).where(Card.retired.is_(False)))


def sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url(f"{base}/today")


def run_session(page: Any, reveal: Callable[[], None], give: Callable[[int], None], undo: Callable[[], None],
                undo_after: int) -> Session:
    """Review until the summary shows; undo the grade given at first-grade number ``undo_after``."""
    session = Session()
    page.wait_for_selector("#card:not(.hidden), #done:not(.hidden)")
    while not page.locator("#done").is_visible():
        card_id = int(page.get_attribute("#card", "data-card-id"))
        assert page.locator("#answer").is_hidden()
        reveal()
        page.wait_for_selector("#grades:not(.hidden)")
        assert page.locator("#answer").is_visible()
        if card_id in session.first:
            quality = 4
            session.relearns.append((card_id, quality))
        else:
            quality = first_grade(len(session.first))
            session.first[card_id] = quality
        with page.expect_response(lambda r: "/api/v1/review/next" in r.url or "/summary" in r.url):
            give(quality)
        page.wait_for_function(NEXT_SHOWN)
        if session.undone is None and len(session.first) >= undo_after and quality == 5:
            assert not page.locator("#undo").is_disabled()
            with page.expect_response(lambda r: "/api/v1/review/undo" in r.url):
                undo()
            page.wait_for_function(f"() => document.querySelector('#card').dataset.cardId === '{card_id}'")
            page.wait_for_function(NEXT_SHOWN)
            session.undone = (card_id, quality)
            del session.first[card_id]
    assert page.locator("#sum-reviewed").inner_text() == str(len(session.first) + len(session.relearns))
    return session


def check_database(app: Flask, username: str, session: Session, cards: int) -> None:
    with session_scope(app) as db:
        user_id = db.scalar(select(User.id).where(User.username == username))
        today = study_day(utcnow(), app.config["TIMEZONE"])
        rows = list(db.scalars(select(ReviewLog).where(ReviewLog.user_id == user_id).order_by(ReviewLog.id)))
        states = {s.card_id: s for s in db.scalars(select(ReviewState).where(ReviewState.user_id == user_id))}
    assert len(session.first) == cards, "every card of the seed deck was reviewed"
    assert session.undone is not None
    kinds = [r.kind for r in rows]
    assert kinds.count("learn") == cards + 1  # the undone first grade stays in the log
    assert kinds.count("relearn") == len(session.relearns) == sum(q < 4 for q in session.first.values())
    assert kinds.count("undo") == 1 and kinds.count("review") == 0
    (undo_row,) = [r for r in rows if r.kind == "undo"]
    undone = next(r for r in rows if r.id == undo_row.undoes_id)
    assert (undone.card_id, undone.quality, undone.kind) == (*session.undone, "learn")
    assert {r.study_day for r in rows} == {today}
    assert sorted(states) == sorted(session.first)
    for card_id, quality in session.first.items():
        expected = grade(Sm2State.new(), quality)
        state = states[card_id]
        assert (state.repetitions, state.easiness_cents, state.interval) == \
            (expected.repetitions, expected.easiness_cents, expected.interval), card_id
        assert state.due_day == today + timedelta(days=expected.interval)
        assert state.lapses == (1 if quality < 3 else 0)
        assert not state.relearn_pending, "every repeat ended with a grade of 4"


def test_review_whole_seed_deck_by_keyboard(seeded: Flask, live_server: str, new_page: Callable[..., Any],
                                            make_user: Callable[..., int]) -> None:
    cards = prepare(seeded, make_user, "kb1")
    page = new_page()
    sign_in(page, live_server, "kb1")
    assert page.locator("#today-new").inner_text() == str(cards)
    page.focus("#start-review")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/review")

    def reveal() -> None:
        page.keyboard.press("Space" if len(session_keys) % 2 else "Enter")
        session_keys.append(1)

    session_keys: list[int] = []
    session = run_session(page, reveal, lambda q: page.keyboard.press(str(q)),
                          lambda: page.keyboard.press("Control+z"), undo_after=5)
    assert page.console_errors == []  # includes CSP violations
    check_database(seeded, "kb1", session, cards)
    page.goto(f"{live_server}/today")
    assert "今天的复习已全部完成" in page.inner_text("main")


def test_review_whole_seed_deck_by_taps_on_a_phone(seeded: Flask, live_server: str, new_page: Callable[..., Any],
                                                   make_user: Callable[..., int], artifacts: Path) -> None:
    cards = prepare(seeded, make_user, "ph1")
    page = new_page(phone=True)
    sign_in(page, live_server, "ph1")
    page.tap("#start-review")
    page.wait_for_url(f"{live_server}/review")
    page.wait_for_selector("#card:not(.hidden)")
    page.tap("#reveal")
    page.wait_for_selector("#grades:not(.hidden)")
    # Phone layout: nothing wider than the screen, touch targets at least 44 px high.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for selector in [f'.grade[data-quality="{q}"]' for q in range(6)] + ["#undo"]:
        box = page.locator(selector).bounding_box()
        assert box["height"] >= 44 and box["width"] >= 88, (selector, box)
    page.screenshot(path=str(artifacts / "review-phone-answer.png"), full_page=True)
    page.reload()  # start the tapped session from a clean page
    session = run_session(page, lambda: page.tap("#prompt"), lambda q: page.tap(f'.grade[data-quality="{q}"]'),
                          lambda: page.tap("#undo"), undo_after=3)
    page.screenshot(path=str(artifacts / "review-phone-done.png"), full_page=True)
    assert page.console_errors == []
    check_database(seeded, "ph1", session, cards)
