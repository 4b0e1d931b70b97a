"""Today's figures from cheap reads: trigger-kept due tallies agree with a recount after every kind of write,
and the streak's day count (a loose index scan) agrees with COUNT(DISTINCT)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from flask import Flask
from sqlalchemy import delete, func, select, update

from review_helpers import make_deck
from scheduler.queue import MASTERED_INTERVAL
from scheduler.study_day import study_day
from webapp.cli import main
from webapp.db import session_scope
from webapp.models import Card, Deck, DueTally, Note, ReviewLog, ReviewState, User
from webapp.services import queue, review, tallies
from webapp.services.notes import delete_note, restore_note

TZ = "Asia/Shanghai"
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
TEXTS = [f"第{i}条：坚持{{{{c1::提法{i}甲}}}}、{{{{c2::提法{i}乙}}}}" for i in range(12)]


def _brute_force(db, user: User, today) -> dict[int, tuple[int, int, int, int, int]]:  # noqa: ANN001
    """Per deck, counted card by card: overdue, due, learned, mastered, unseen (retired cards left out)."""
    out = {}
    for deck in db.scalars(select(Deck)):
        live = [c.id for c in db.scalars(select(Card).where(Card.deck_id == deck.id, Card.retired.is_(False)))]
        states = list(db.scalars(select(ReviewState).where(ReviewState.user_id == user.id,
                                                           ReviewState.card_id.in_(live))))
        repeats = [s for s in states if s.relearn_pending and s.last_review_day == today]
        scheduled = [s for s in states if s not in repeats]
        out[deck.id] = (sum(s.due_day < today for s in scheduled), sum(s.due_day == today for s in scheduled),
                        len(states), sum(s.interval >= MASTERED_INTERVAL for s in states), len(live) - len(states))
    return out


def _assert_agree(db, users: list[User], today) -> None:  # noqa: ANN001
    assert tallies.drift(db) == []
    for user in users:
        kept = queue.deck_tallies(db, user, today)
        expected = _brute_force(db, user, today)
        assert {d: (t.overdue, t.due, t.learned, t.mastered, t.unseen) for d, t in kept.items()} == expected


def test_random_writes_keep_tallies_exact(app: Flask, make_user) -> None:
    """Grades, undos, deleting and restoring notes, hand-run bulk updates and deletes, across study days."""
    make_deck(app, TEXTS, key="a", new_per_day=10)
    make_deck(app, TEXTS[:5], key="b", new_per_day=10)
    for name in ("7001", "7002"):
        make_user(name)
    rng = random.Random(11)
    admin = make_user("7099", role="super_admin")
    for day in range(12):
        now = START + timedelta(days=day)
        today = study_day(now, TZ)
        with session_scope(app) as db:
            users = list(db.scalars(select(User).where(User.username.in_(["7001", "7002"]))))
            for step in range(25):
                user = rng.choice(users)
                action = rng.random()
                if action < 0.7:
                    card = review.next_card(db, "s", user, today)
                    if card is not None:
                        review.grade_card(db, "s", user, card["card_id"], rng.choice([0, 2, 3, 4, 5, 5]),
                                          card["token"], 800, now + timedelta(seconds=step), TZ)
                elif action < 0.8:
                    try:
                        review.undo_last(db, "s", user, now + timedelta(seconds=step), TZ)
                    except review.ReviewError:
                        db.rollback()
                elif action < 0.9:
                    note = rng.choice(list(db.scalars(select(Note))))
                    actor = db.get(User, admin)
                    (restore_note if note.retired else delete_note)(db, note, actor)
                    db.commit()
                elif action < 0.95:
                    # An operator's hand-run reschedule: the triggers see it like any other write.
                    db.execute(update(ReviewState).where(ReviewState.user_id == user.id, ReviewState.interval < 6)
                               .values(due_day=today + timedelta(days=rng.randint(-3, 3)),
                                       interval=ReviewState.interval + 20))
                    db.commit()
                else:
                    victim = db.scalar(select(ReviewState.id).where(ReviewState.user_id == user.id).limit(1))
                    if victim is not None:
                        db.execute(delete(ReviewState).where(ReviewState.id == victim))
                        db.commit()
                _assert_agree(db, users, today)
    with session_scope(app) as db:
        assert db.scalar(select(func.count()).select_from(DueTally)) > 0
        assert db.scalar(select(func.min(DueTally.cards))) > 0, "rows that reach zero are removed"


def test_deleting_cards_and_moving_due_days_in_bulk(app: Flask, make_user) -> None:
    deck_id = make_deck(app, TEXTS, key="c", new_per_day=30)
    make_user("7003")
    now = START
    today = study_day(now, TZ)
    with session_scope(app) as db:
        user = db.scalar(select(User).where(User.username == "7003"))
        for step in range(20):
            card = review.next_card(db, "s", user, today)
            review.grade_card(db, "s", user, card["card_id"], 5, card["token"], 500, now + timedelta(seconds=step), TZ)
        assert db.scalar(select(Deck.live_cards).where(Deck.id == deck_id)) == 24
        # A bulk move of every due day (as the holiday calendar does), then a card deleted outright.
        db.execute(update(ReviewState).where(ReviewState.user_id == user.id)
                   .values(due_day=today + timedelta(days=9)))
        db.execute(delete(Card).where(Card.id == db.scalar(select(ReviewState.card_id).limit(1))))
        db.commit()
        assert tallies.drift(db) == []
        assert db.scalar(select(Deck.live_cards).where(Deck.id == deck_id)) == 23
        assert queue.due_on(db, user, today + timedelta(days=9)) == 19
        assert queue.due_on(db, user, today + timedelta(days=8)) == 0


def test_check_reports_drift_and_repair_rebuilds(app: Flask, make_user, db_url: str, tmp_path: Path) -> None:
    make_deck(app, TEXTS[:3], key="d")
    make_user("7004")
    with session_scope(app) as db:
        user = db.scalar(select(User).where(User.username == "7004"))
        today = study_day(START, TZ)
        card = review.next_card(db, "s", user, today)
        review.grade_card(db, "s", user, card["card_id"], 4, card["token"], 500, START, TZ)
        db.execute(update(DueTally).values(cards=DueTally.cards + 5))
        db.execute(update(Deck).values(live_cards=0))
        db.commit()
    env = {"TIFA_DATABASE_URL": db_url, "TIFA_INSTANCE_PATH": str(tmp_path / "instance")}
    result = CliRunner().invoke(main, ["check"], env=env)
    assert result.exit_code == 1
    assert "到期计数" in result.output and "tifa check --repair" in result.output
    assert "有效卡片数 0，实际 6" in result.output
    result = CliRunner().invoke(main, ["check", "--repair"], env=env)
    assert result.exit_code == 0, result.output
    assert "一致" in result.output
    with session_scope(app) as db:
        assert tallies.drift(db) == []


def test_studied_days_loose_scan_matches_count_distinct(app: Flask, make_user) -> None:
    """The streak's day count (one index seek per studied day) equals COUNT(DISTINCT study_day)."""
    make_deck(app, TEXTS[:2], key="e")
    user_id = make_user("7005")
    rng = random.Random(5)
    base = study_day(START, TZ)
    with session_scope(app, write=True) as db:
        card_id = db.scalar(select(Card.id).limit(1))
        deck_id = db.scalar(select(Deck.id).limit(1))
        db.add_all(ReviewLog(user_id=user_id, card_id=card_id, deck_id=deck_id, kind=rng.choice(["review", "undo"]),
                             quality=4, study_day=base - timedelta(days=rng.randint(0, 90)), ms=1)
                   for _ in range(400))
    with session_scope(app) as db:
        user = db.get(User, user_id)
        for after, before in ((base - timedelta(days=91), base + timedelta(days=1)), (base - timedelta(days=30), base),
                              (base - timedelta(days=5), base - timedelta(days=4))):
            expected = db.scalar(select(func.count(func.distinct(ReviewLog.study_day)))
                                 .where(ReviewLog.user_id == user_id, ReviewLog.kind != "undo",
                                        ReviewLog.study_day > after, ReviewLog.study_day < before))
            assert queue._studied_days(db, user, after, before, []) == expected
            gap = [~ReviewLog.study_day.between(base - timedelta(days=20), base - timedelta(days=10))]
            expected_gap = db.scalar(select(func.count(func.distinct(ReviewLog.study_day)))
                                     .where(ReviewLog.user_id == user_id, ReviewLog.kind != "undo",
                                            ReviewLog.study_day > after, ReviewLog.study_day < before, *gap))
            assert queue._studied_days(db, user, after, before, gap) == expected_gap
