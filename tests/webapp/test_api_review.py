"""Review API: next card, grading (SM-2, relearn, one-time tokens), undo, visibility and errors."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from helpers import login
from review_helpers import NOON, ReviewClient, make_deck
from scheduler.queue import QueueCard, order_today
from webapp.db import session_scope
from webapp.models import Card, Deck, Note, ReviewLog, ReviewState, User
from webapp.services.queue import new_left, queue_today

TODAY = date(2026, 11, 29)


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = NOON
        for module in ("webapp.api.review", "webapp.review.routes"):
            monkeypatch.setattr(f"{module}.utcnow", lambda: self.now)

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


@pytest.fixture
def staff(app: Flask, client: FlaskClient, make_user: Callable[..., int], clock: Clock) -> ReviewClient:
    make_user("s1")
    assert login(client, "s1").status_code == 302
    return ReviewClient(client)


def states(app: Flask) -> dict[int, ReviewState]:
    with session_scope(app) as db:
        return {s.card_id: s for s in db.scalars(select(ReviewState))}


def logs(app: Flask) -> list[ReviewLog]:
    with session_scope(app) as db:
        return list(db.scalars(select(ReviewLog).order_by(ReviewLog.id)))


def test_next_needs_login(client: FlaskClient) -> None:
    resp = client.get("/api/v1/review/next")
    assert resp.status_code == 401
    assert resp.get_json()["code"] == "unauthorized"


def test_nothing_assigned_gives_204(app: Flask, staff: ReviewClient) -> None:
    make_deck(app, everyone=False)  # exists but assigned to nobody
    make_deck(app, key="draft", status="draft")  # assigned but not published
    assert staff.client.get("/api/v1/review/next").status_code == 204


def test_next_card_payload(app: Flask, staff: ReviewClient) -> None:
    deck_id = make_deck(app)
    card = staff.next()
    assert isinstance(card["card_id"], int)
    assert card["prompt_html"] == '坚持<span class="cloze">[…]</span>、不搞大开发'
    assert card["answer_html"] == '坚持<span class="cloze">共抓大保护</span>、不搞大开发'
    assert card["extra"] == "原文：坚持{{c1::共抓大保护}}、{{c2::不搞大开发}}"
    assert card["hidden"] == "共抓大保护"
    assert card["deck"] == {"id": deck_id, "title": "第11周学习材料", "term": "2026-2027学年第一学期", "week": 11}
    assert card["counts"] == {"new": 5, "learning": 0, "review": 0, "left": 5}
    assert card["token"]


def test_list_card_says_how_many_items(app: Flask, staff: ReviewClient) -> None:
    make_deck(app, ["坚持{{c1::创新、协调、绿色、开放、共享}}的新发展理念"], kind="list")
    card = staff.next()
    assert card["items"] == 5
    assert "[…5项]" in card["prompt_html"]


def test_grade_new_card_follows_sm2_and_logs_learn(app: Flask, staff: ReviewClient) -> None:
    make_deck(app)
    card = staff.next()
    resp = staff.grade(card, 5, ms=2345)
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["repetitions"] == 1 and body["interval"] == 1 and body["due"] == "2026-11-30"
    assert body["easiness"] == 2.6 and isinstance(body["easiness"], float)
    (state,) = states(app).values()
    assert (state.repetitions, state.easiness_cents, state.interval, state.due_day) == (1, 260, 1, date(2026, 11, 30))
    assert state.introduced_day == TODAY and state.version == 1 and not state.relearn_pending
    (log,) = logs(app)
    assert (log.kind, log.quality, log.ms, log.restore, log.study_day) == ("learn", 5, 2345, None, TODAY)
    assert (log.after_repetitions, log.after_easiness_cents, log.after_interval) == (1, 260, 1)


def test_grades_below_four_come_back_as_relearn_without_moving_the_schedule(app: Flask, staff: ReviewClient) -> None:
    make_deck(app, ["推进{{c1::高质量发展}}", "实现{{c1::伟大复兴}}"])
    first = staff.next()
    assert staff.grade(first, 2).get_json()["interval"] == 1
    second = staff.next()
    assert second["card_id"] != first["card_id"], "the card just graded waits while another is left"
    assert second["counts"] == {"new": 1, "learning": 1, "review": 0, "left": 2}
    assert staff.grade(second, 5).status_code == 200
    again = staff.next()
    assert again["card_id"] == first["card_id"] and again["bucket"] == "relearn"
    before = states(app)[first["card_id"]]
    body = staff.grade(again, 3).get_json()  # still below 4: comes back once more
    assert body["kind"] == "relearn" and body["again_today"] is True
    only = staff.next()
    assert only["card_id"] == first["card_id"], "the only card left comes back even right after its grade"
    body = staff.grade(only, 4).get_json()
    assert body["kind"] == "relearn" and body["again_today"] is False
    after = states(app)[first["card_id"]]
    assert (after.repetitions, after.easiness_cents, after.interval, after.due_day) == \
        (before.repetitions, before.easiness_cents, before.interval, before.due_day)
    assert not after.relearn_pending
    assert staff.next() is None
    assert [row.kind for row in logs(app)] == ["learn", "learn", "relearn", "relearn"]


def test_due_reviews_the_next_day_use_sm2(app: Flask, staff: ReviewClient, clock: Clock) -> None:
    make_deck(app, ["推进{{c1::高质量发展}}"])
    staff.grade(staff.next(), 5)
    assert staff.next() is None
    clock.advance(days=1)
    card = staff.next()
    assert card["bucket"] == "due" and card["counts"] == {"new": 0, "learning": 0, "review": 1, "left": 1}
    body = staff.grade(card, 4).get_json()
    assert (body["repetitions"], body["easiness"], body["interval"], body["due"]) == (2, 2.6, 6, "2026-12-06")
    log = logs(app)[-1]
    assert log.kind == "review" and log.before_due == date(2026, 11, 30) and log.restore["repetitions"] == 1


def test_same_token_twice_is_one_grade(app: Flask, staff: ReviewClient) -> None:
    make_deck(app)
    card = staff.next()
    first = staff.grade(card, 4)
    again = staff.grade(card, 1)  # a retry with a different grade still returns the first result
    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json()
    assert len(logs(app)) == 1 and states(app)[card["card_id"]].version == 1


def test_stale_token_from_another_tab_gets_409(app: Flask, staff: ReviewClient, client: FlaskClient,
                                               clock: Clock) -> None:
    make_deck(app, ["推进{{c1::高质量发展}}"])
    staff.grade(staff.next(), 5)
    clock.advance(days=1)
    tab_a, tab_b = staff.next(), staff.next()
    assert tab_a["card_id"] == tab_b["card_id"] and tab_a["token"] != tab_b["token"]
    assert staff.grade(tab_a, 4).status_code == 200
    resp = staff.grade(tab_b, 5)
    assert resp.status_code == 409 and resp.get_json()["code"] == "stale"
    assert "别的页面" in resp.get_json()["message"]
    assert states(app)[tab_a["card_id"]].repetitions == 2
    assert len(logs(app)) == 2


def test_stale_token_for_a_new_card_gets_409(app: Flask, staff: ReviewClient) -> None:
    make_deck(app, ["推进{{c1::高质量发展}}"])
    tab_a, tab_b = staff.next(), staff.next()
    assert staff.grade(tab_a, 5).status_code == 200
    resp = staff.grade(tab_b, 5)
    assert resp.status_code == 409 and resp.get_json()["code"] == "stale"
    assert len(logs(app)) == 1


@pytest.mark.parametrize(("body", "code"), [
    ({"quality": 6}, "bad_quality"),
    ({"quality": -1}, "bad_quality"),
    ({"quality": "5"}, "bad_quality"),
    ({"quality": True}, "bad_quality"),
    ({"quality": 4, "token": None}, "missing_token"),
    ({"quality": 4, "token": "forged.token"}, "bad_token"),
])
def test_bad_requests_leave_state_untouched(app: Flask, staff: ReviewClient, body: dict[str, Any],
                                            code: str) -> None:
    make_deck(app)
    card = staff.next()
    body = {"token": card["token"], **body}
    resp = staff.post(f"/api/v1/review/{card['card_id']}", body)
    assert resp.status_code == 400
    assert resp.get_json()["code"] == code and resp.get_json()["message"]
    assert states(app) == {} and logs(app) == []


def test_non_json_body_is_refused(app: Flask, staff: ReviewClient) -> None:
    make_deck(app)
    card = staff.next()
    resp = staff.client.post(f"/api/v1/review/{card['card_id']}", data="quality=4",
                             headers={"X-CSRFToken": staff.csrf})
    assert resp.status_code == 400 and resp.get_json()["code"] == "bad_request"


def test_csrf_header_is_required(app: Flask, staff: ReviewClient) -> None:
    make_deck(app)
    card = staff.next()
    resp = staff.post(f"/api/v1/review/{card['card_id']}", {"quality": 4, "token": card["token"]}, csrf=False)
    assert resp.status_code == 400 and resp.get_json()["code"] == "csrf"
    assert logs(app) == []


def test_token_for_one_card_cannot_grade_another(app: Flask, staff: ReviewClient) -> None:
    make_deck(app)
    card = staff.next()
    with session_scope(app) as db:
        other = db.scalar(select(Card.id).where(Card.id != card["card_id"]).limit(1))
    resp = staff.post(f"/api/v1/review/{other}", {"quality": 4, "token": card["token"]})
    assert resp.status_code == 400 and resp.get_json()["code"] == "bad_token"
    assert logs(app) == []


def test_card_not_assigned_to_you_cannot_be_graded(app: Flask, staff: ReviewClient, make_user, client) -> None:
    make_deck(app)
    other_id = make_user("s2", department="别的部门")
    with session_scope(app) as db:
        user_id = db.scalar(select(User.id).where(User.username == "s1"))
    private = make_deck(app, ["只给{{c1::别人}}"], key="private", everyone=False, user_id=other_id)
    with session_scope(app) as db:
        private_card = db.scalar(select(Card.id).where(Card.deck_id == private))
    from webapp.services.review import issue_token
    token = issue_token(app.config["SECRET_KEY"], user_id, private_card, 0)
    resp = staff.post(f"/api/v1/review/{private_card}", {"quality": 5, "token": token})
    assert resp.status_code == 404 and resp.get_json()["code"] == "not_assigned"
    assert logs(app) == []


def test_assignment_by_department_and_by_person(app: Flask, staff: ReviewClient, make_user) -> None:
    with session_scope(app) as db:
        me = db.scalar(select(User).where(User.username == "s1"))
        my_dept, my_id = me.department_id, me.id
    other = make_user("s2", department="别的部门")
    make_deck(app, ["甲{{c1::部门}}"], key="dept", everyone=False, department_id=my_dept)
    make_deck(app, ["乙{{c1::个人}}"], key="mine", everyone=False, user_id=my_id)
    make_deck(app, ["丙{{c1::别人}}"], key="theirs", everyone=False, user_id=other)
    seen = []
    while (card := staff.next()) is not None:
        seen.append(card["hidden"])
        staff.grade(card, 5)
    assert sorted(seen) == ["个人", "部门"]


def test_retired_cards_and_notes_never_show(app: Flask, staff: ReviewClient) -> None:
    deck_id = make_deck(app)
    with session_scope(app, write=True) as db:
        db.execute(update(Note).where(Note.deck_id == deck_id, Note.position == 0).values(retired=True))
        db.execute(update(Card).where(Card.deck_id == deck_id, Card.position == 2001).values(retired=True))
    seen = []
    while (card := staff.next()) is not None:
        seen.append(card["hidden"])
        staff.grade(card, 5)
    assert seen == ["高质量发展", "十年禁渔"]


def test_new_card_limit_per_deck(app: Flask, staff: ReviewClient, clock: Clock) -> None:
    make_deck(app, new_per_day=2)
    assert staff.next()["counts"]["new"] == 2
    staff.grade(staff.next(), 5)
    staff.grade(staff.next(), 5)
    assert staff.next() is None
    clock.advance(days=1)  # two reviews due, two more new cards
    assert staff.next()["counts"] == {"new": 2, "learning": 0, "review": 2, "left": 4}


def test_undo_restores_the_previous_state_exactly(app: Flask, staff: ReviewClient, clock: Clock) -> None:
    make_deck(app, ["推进{{c1::高质量发展}}", "实现{{c1::伟大复兴}}"])
    staff.grade(staff.next(), 5)
    clock.advance(days=1)
    card = staff.next()
    before = states(app)[card["card_id"]]
    assert staff.grade(card, 1).status_code == 200
    resp = staff.undo()
    assert resp.status_code == 200
    shown = resp.get_json()
    assert shown["card_id"] == card["card_id"] and shown["undone"]["quality"] == 1
    after = states(app)[card["card_id"]]
    for name in ("repetitions", "easiness_cents", "interval", "due_day", "lapses", "relearn_pending",
                 "introduced_day", "last_review_day", "last_reviewed_at"):
        assert getattr(after, name) == getattr(before, name), name
    assert after.version == before.version + 2
    rows = logs(app)
    assert [r.kind for r in rows] == ["learn", "review", "undo"]
    assert rows[2].undoes_id == rows[1].id and rows[1].quality == 1, "the undone row is kept as it was"
    # The card is served again with a fresh token; the old one is stale now.
    assert staff.grade(card, 5).status_code == 200, "the old token replays its first result"
    assert states(app)[card["card_id"]].version == after.version
    assert staff.grade(shown, 4).get_json()["interval"] == 6


def test_undo_of_a_new_card_deletes_its_state(app: Flask, staff: ReviewClient) -> None:
    make_deck(app)
    card = staff.next()
    staff.grade(card, 4)
    assert staff.undo().status_code == 200
    assert states(app) == {}
    assert staff.next()["counts"]["new"] == 5, "the card counts as new again"
    resp = staff.undo()
    assert resp.status_code == 409 and resp.get_json()["code"] == "nothing_to_undo"
    assert [r.kind for r in logs(app)] == ["learn", "undo"]


def test_undo_twice_walks_back_two_grades(app: Flask, staff: ReviewClient) -> None:
    make_deck(app)
    a = staff.next()
    staff.grade(a, 4)
    b = staff.next()
    staff.grade(b, 2)
    assert staff.undo().get_json()["card_id"] == b["card_id"]
    assert staff.undo().get_json()["card_id"] == a["card_id"]
    assert states(app) == {}
    assert [(r.kind, r.undoes_id) for r in logs(app)] == [("learn", None), ("learn", None), ("undo", 2), ("undo", 1)]


def test_summary_counts_todays_kept_grades(app: Flask, staff: ReviewClient) -> None:
    make_deck(app, ["推进{{c1::高质量发展}}", "实现{{c1::伟大复兴}}"])
    staff.grade(staff.next(), 5, ms=60_000)
    staff.grade(staff.next(), 2, ms=30_000)
    staff.grade(staff.next(), 1, ms=1000)
    staff.undo()
    summary = staff.client.get("/api/v1/review/summary").get_json()
    assert summary == {"reviewed": 2, "correct": 1, "ms": 90_000, "left": 1, "due_tomorrow": 2, "streak": 0}


def test_streak_counts_days_with_all_due_cards_done(app: Flask, staff: ReviewClient, clock: Clock) -> None:
    make_deck(app, ["推进{{c1::高质量发展}}"])
    for _ in range(3):  # three days in a row, everything due done each day
        while (card := staff.next()) is not None:
            staff.grade(card, 5)
        clock.advance(days=1)
    clock.advance(days=-1)
    # Studied on days 1 and 2; day 3 had nothing due: it neither breaks nor extends the run.
    assert staff.client.get("/api/v1/review/summary").get_json()["streak"] == 2
    # The card is due 6 days later; skipping past its due day breaks the run.
    clock.advance(days=10)
    assert staff.client.get("/api/v1/review/summary").get_json()["streak"] == 0
    staff.grade(staff.next(), 5)
    assert staff.client.get("/api/v1/review/summary").get_json()["streak"] == 1


def test_sql_queue_matches_the_pure_rules_on_random_data(app: Flask, make_user) -> None:
    rng = random.Random(20261129)
    user_id = make_user("q1")
    other = make_user("q2", department="别的部门")
    for d in range(3):
        texts = [f"第{d}组{i}{{{{c1::甲{i}}}}}{{{{c2::乙{i}}}}}" for i in range(rng.randint(8, 14))]
        make_deck(app, texts, key=f"d{d}", new_per_day=rng.randint(0, 6), everyone=d != 2,
                  user_id=user_id if d == 2 else None)
    make_deck(app, ["看不见{{c1::的}}"], key="hidden", everyone=False, user_id=other)
    now = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
    with session_scope(app, write=True) as db:
        cards = list(db.scalars(select(Card)))
        for card in cards:
            card.position = rng.randint(0, 5)  # ties are broken by card id in both versions
            card.retired = rng.random() < 0.1
            roll = rng.random()
            if roll < 0.35:
                continue  # new
            last_day = TODAY - timedelta(days=rng.choice([0, 0, 1, 3]))
            db.add(ReviewState(
                user_id=user_id, card_id=card.id, deck_id=card.deck_id, repetitions=rng.randint(1, 5),
                easiness_cents=250, interval=rng.randint(1, 30), due_day=TODAY + timedelta(days=rng.randint(-6, 4)),
                relearn_pending=rng.random() < 0.3, introduced_day=rng.choice([TODAY, TODAY - timedelta(days=2)]),
                last_review_day=last_day, last_reviewed_at=now - timedelta(minutes=rng.randint(0, 5000)),
            ))
    with session_scope(app) as db:
        user = db.get(User, user_id)
        visible = {d.id for d in db.scalars(select(Deck).where(Deck.key != "hidden"))}
        rows = db.execute(
            select(Card, ReviewState).outerjoin(ReviewState, (ReviewState.card_id == Card.id)
                                                & (ReviewState.user_id == user_id))
            .where(Card.retired.is_(False), Card.deck_id.in_(visible))
        ).all()
        pure_cards = [
            QueueCard(card.id, card.deck_id, card.position,
                      due=state.due_day if state else None,
                      relearn_pending=bool(state and state.relearn_pending and state.last_review_day == TODAY),
                      last_reviewed=state.last_reviewed_at if state else None)
            for card, state in rows
        ]
        allowance = new_left(db, user, TODAY)
        expected = [c.card_id for c in order_today(pure_cards, TODAY, allowance)]
        got = [item.card_id for item in queue_today(db, user, TODAY)]
        assert len(expected) > 20
        assert got == expected
        assert [i.card_id for i in queue_today(db, user, TODAY, limit=2)] == expected[:2]
        introduced = db.scalar(select(func.count()).select_from(ReviewState)
                               .where(ReviewState.introduced_day == TODAY))
        assert introduced > 0
