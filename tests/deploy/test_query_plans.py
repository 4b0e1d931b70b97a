"""Hot queries use indexes on realistic data (bench generator at a small scale, then ANALYZE).

The check reads PostgreSQL's EXPLAIN; it never disables sequential scans to get there.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import Select, func, select, text

from bench.generate import generate
from scheduler.study_day import study_day
from webapp.db import get_engine, session_scope
from webapp.models import DueTally, ReviewState, User
from webapp.services import queue

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not os.environ.get("TIFA_TEST_DATABASE_URL"), reason="needs PostgreSQL"),
]


def _plan(db, statement: Select) -> str:  # noqa: ANN001
    sql = statement.compile(dialect=db.get_bind().dialect, compile_kwargs={"literal_binds": True})
    return "\n".join(db.execute(text(f"EXPLAIN {sql}")).scalars())


@pytest.fixture
def realistic(app: Flask) -> tuple[Flask, date]:
    today = study_day(datetime.now(UTC))
    generate(get_engine(app), scale=0.05, today=today)
    with get_engine(app).connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    return app, today


def test_next_card_and_today_queries_use_indexes(realistic: tuple[Flask, date]) -> None:
    app, today = realistic
    with session_scope(app) as db:
        # The busiest person: the one with the most review states.
        user_id = db.scalar(select(ReviewState.user_id).group_by(ReviewState.user_id)
                            .order_by(func.count().desc()).limit(1))
        user = db.get(User, user_id)
        states = db.scalar(select(func.count()).select_from(ReviewState))
        assert states > 5_000, "the generator should have made a realistic amount of review states"
        deck_id = queue.assigned(db, user)[0]
        statements = {
            "overdue": queue._scheduled(db, user, today, overdue=True).limit(2),
            "due today": queue._scheduled(db, user, today, overdue=False).limit(2),
            "same-day repeats": queue._relearn(db, user, today).limit(2),
            "next new card": queue._unseen(user, deck_id).limit(2),
            "grading lookup": select(ReviewState).where(ReviewState.user_id == user.id,
                                                        ReviewState.card_id == 1),
            "today counts": select(func.sum(DueTally.cards))
            .where(DueTally.user_id == user.id, DueTally.deck_id == deck_id, DueTally.due_day <= today),
            "due tomorrow": select(func.sum(DueTally.cards))
            .where(DueTally.user_id == user.id, DueTally.deck_id.in_(queue.assigned(db, user)),
                   DueTally.due_day <= today + timedelta(days=1)),
        }
        for name, statement in statements.items():
            plan = _plan(db, statement)
            for table in ("review_states", "due_tallies"):
                assert f"Seq Scan on {table}" not in plan, f"{name} scans {table}:\n{plan}"
                assert table not in plan or "Index" in plan, f"{name}:\n{plan}"
        for name in ("overdue", "due today"):
            # Served in index order (ix_review_states_user_due_order): the first cards without sorting them all.
            plan = _plan(db, statements[name])
            assert "ix_review_states_user_due_order" in plan and "Sort" not in plan, f"{name}:\n{plan}"
