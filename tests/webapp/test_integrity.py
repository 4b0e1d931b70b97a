"""``tifa check``: the review log replayed through SM-2 agrees with the stored states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select, update

from scheduler.study_day import study_day
from webapp.cli import main
from webapp.db import session_scope
from webapp.models import Deck, ReviewState, User
from webapp.services import review
from webapp.services.integrity import check

TZ = "Asia/Shanghai"


def _review_days(app: Flask, username: str, days: int) -> int:
    """Grade everything due for ``days`` study days (grades cycle 5,4,3,2,1,0), with one undo a day."""
    graded = 0
    start = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    qualities = [5, 4, 3, 2, 1, 0]
    for day in range(days):
        now = start + timedelta(days=day)
        with session_scope(app) as db:
            user = db.scalar(select(User).where(User.username == username))
            today = study_day(now, TZ)
            for step in range(60):
                card = review.next_card(db, "s", user, today)
                if card is None:
                    break
                review.grade_card(db, "s", user, card["card_id"], qualities[(graded + day) % 6], card["token"],
                                  900, now + timedelta(seconds=step), TZ)
                graded += 1
            if graded:
                review.undo_last(db, "s", user, now + timedelta(minutes=5), TZ)
    return graded


def test_replay_agrees_after_real_reviews_and_undos(seeded: Flask, make_user) -> None:
    make_user("3001")
    with session_scope(seeded) as db:
        for deck in db.scalars(select(Deck)):
            deck.new_per_day = 8
    assert _review_days(seeded, "3001", 5) > 20
    with session_scope(seeded) as db:
        report = check(db)
    assert report.ok, report.problems
    assert report.cards_checked > 0 and report.grades_replayed > 0


def test_tampered_state_is_reported_and_cli_exits_1(seeded: Flask, make_user, db_url: str, tmp_path: Path) -> None:
    make_user("3002")
    _review_days(seeded, "3002", 2)
    with session_scope(seeded) as db:
        victim = db.scalar(select(ReviewState.id).limit(1))
        db.execute(update(ReviewState).where(ReviewState.id == victim).values(interval=99))
    env = {"TIFA_DATABASE_URL": db_url, "TIFA_INSTANCE_PATH": str(tmp_path / "instance")}
    result = CliRunner().invoke(main, ["check"], env=env)
    assert result.exit_code == 1
    assert "I=99" in result.output and "不一致" in result.output
