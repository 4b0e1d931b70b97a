"""Growth: does the cost of a grade and of the Today page stay flat as data grows?

    .venv/bin/python bench/growth.py                     # SQLite
    .venv/bin/python bench/growth.py --postgres          # PostgreSQL (TIFA_BENCH_DATABASE_URL)

One dimension at a time: 1k, 10k and 100k cards for the measured person (staff fixed at 100; three
past grades per learned card over the last 300 days),
then 100, 1,000 and 10,000 staff (200 cards each, the measured person's cards fixed at 1k).
Every other person has states on the same cards, so tables grow with staff too. Each point
times ``GET /api/v1/review/next`` + ``POST /api/v1/review/<id>`` (median of 200 grades) and
``GET /today`` (median of 30) through the real Flask stack, in process.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get("TIFA_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PASSWORD = "growth-pass-1"
OTHER_CARDS = 200


def build(url: str, cards: int, staff: int, other_cards: int = OTHER_CARDS) -> None:
    """One published deck of ``cards`` cards; ``staff`` people; person 0 has states on every card."""
    from sqlalchemy import insert, text
    from sqlalchemy.orm import Session

    from webapp import create_app
    from webapp.bootstrap import upgrade_schema
    from webapp.db import get_engine
    from webapp.models import Card, Deck, DeckAssignment, Note, ReviewLog, ReviewState, User, utcnow
    from webapp.services import tallies
    from webapp.services.passwords import hash_password

    app = create_app({"DATABASE_URL": url, "SCHEDULER": False})
    upgrade_schema(app)
    engine = get_engine(app)
    rng = random.Random(7)
    today = date.today()
    now = utcnow()
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        if postgres:
            # A bulk load, not how the app writes: the per-row tally triggers would update the measured
            # person's ~90 tally rows ~1,000 times each inside this one transaction, and PostgreSQL
            # re-walks a row's versions on every update. Load without triggers, then recount the tallies
            # as `tifa check --repair` does.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        deck_id = conn.execute(insert(Deck).values(key="growth", title="增长测试", term="", week=1, status="published",
                                                   new_per_day=20, created_at=now, updated_at=now)
                               .returning(Deck.id)).scalar_one()
        conn.execute(insert(DeckAssignment).values(deck_id=deck_id, everyone=True, created_at=now))
        conn.execute(insert(Note), [
            {"id": i + 1, "deck_id": deck_id, "key": f"g{i}", "kind": "cloze", "text": f"第{i}条{{{{c1::提法}}}}",
             "extra": "", "source": {}, "position": i, "retired": False, "created_at": now, "updated_at": now}
            for i in range(cards)])
        conn.execute(insert(Card), [
            {"id": i + 1, "note_id": i + 1, "deck_id": deck_id, "ord": 1, "position": i * 1000 + 1, "retired": False}
            for i in range(cards)])
        pw = hash_password(PASSWORD)
        conn.execute(insert(User), [
            {"id": u + 1, "username": f"g{u:05d}", "name": f"员工{u}", "role": "staff", "active": True,
             "password_hash": pw, "must_change_password": False, "reminder_opt_out": False, "failed_logins": 0,
             "created_at": now} for u in range(staff)])

        def states(user_id: int, n: int) -> list[dict]:
            rows = []
            for c in range(n):
                interval = rng.choice([1, 3, 6, 15, 30, 80])
                due = today + timedelta(days=rng.randint(-5, interval))
                rows.append({"user_id": user_id, "card_id": c + 1, "deck_id": deck_id, "repetitions": 3,
                             "easiness_cents": 250, "interval": interval, "due_day": due, "lapses": 0,
                             "relearn_pending": False, "introduced_day": today - timedelta(days=30),
                             "last_review_day": today - timedelta(days=1), "last_reviewed_at": now, "version": 1})
            return rows

        # Person 0 keeps 10% of cards new so new cards are served too.
        conn.execute(insert(ReviewState), states(1, int(cards * 0.9)))
        # ...and has the history such a collection comes with: three past grades per learned card over
        # the last 300 days, one in ten of them late, so the streak has a year of logs to look through.
        conn.execute(insert(ReviewLog), [
            {"user_id": 1, "card_id": c + 1, "deck_id": deck_id, "kind": "review", "quality": 4, "reviewed_at": now,
             "study_day": day, "ms": 3000, "before_due": day - timedelta(days=rng.random() < 0.1)}
            for c in range(int(cards * 0.9)) for day in
            (today - timedelta(days=rng.randint(1, 300)) for _ in range(3))])
        batch: list[dict] = []
        for u in range(2, staff + 1):
            batch += states(u, min(other_cards, cards))
            if len(batch) >= 50_000:
                conn.execute(insert(ReviewState), batch)
                batch = []
        if batch:
            conn.execute(insert(ReviewState), batch)
        if postgres:
            for table in ("notes", "cards", "users"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
            conn.execute(text("SET LOCAL session_replication_role = origin"))
            tallies.rebuild(Session(bind=conn))
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    engine.dispose()


def measure(url: str, grades: int = 200, pages: int = 30) -> tuple[float, float]:
    """Median ms per grade (next + grade) and per Today page for person 0."""
    import re

    from webapp import create_app
    from webapp.db import get_engine

    app = create_app({"DATABASE_URL": url, "SCHEDULER": False, "SECRET_KEY": "growth"})
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    client.post("/login", data={"username": "g00000", "password": PASSWORD, "csrf_token": token})
    page = client.get("/today").get_data(as_text=True)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    grade_ms, today_ms = [], []
    rng = random.Random(3)
    for _ in range(grades):
        t0 = time.perf_counter()
        nxt = client.get("/api/v1/review/next")
        if nxt.status_code != 200:
            break
        card = nxt.get_json()
        resp = client.post(f"/api/v1/review/{card['card_id']}", headers={"X-CSRFToken": csrf},
                           json={"quality": rng.choice([3, 4, 5]), "token": card["token"], "ms": 1000})
        assert resp.status_code == 200, resp.get_data(as_text=True)
        grade_ms.append((time.perf_counter() - t0) * 1000)
    for _ in range(pages):
        t0 = time.perf_counter()
        assert client.get("/today").status_code == 200
        today_ms.append((time.perf_counter() - t0) * 1000)
    get_engine(app).dispose()
    return statistics.median(grade_ms), statistics.median(today_ms)


def fresh_url(postgres: bool) -> tuple[str, callable]:
    if not postgres:
        folder = Path(tempfile.mkdtemp(prefix="tifa-growth-"))
        return f"sqlite:///{folder / 'tifa.db'}", lambda: __import__("shutil").rmtree(folder, ignore_errors=True)
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = f"tifa_growth_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
    return url, drop


def point(postgres: bool, cards: int, staff: int) -> tuple[float, float, float]:
    url, drop = fresh_url(postgres)
    try:
        t0 = time.perf_counter()
        build(url, cards, staff)
        built = time.perf_counter() - t0
        grade_ms, today_ms = measure(url)
        return grade_ms, today_ms, built
    finally:
        drop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--quick", action="store_true", help="10x smaller (a smoke run)")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"growth on {backend}: median ms per grade (next + grade) and per Today page, in process")
    print(f"{'dimension':<10} {'cards/user':>10} {'staff':>7} {'grade ms':>9} {'today ms':>9} {'build s':>8}")
    for label, points in (
        ("cards", [(c // scale, 100 // scale) for c in (1_000, 10_000, 100_000)]),
        ("staff", [(1_000 // scale, s // scale) for s in (100, 1_000, 10_000)]),
    ):
        rows = []
        for cards, staff in points:
            grade_ms, today_ms, built = point(args.postgres, cards, staff)
            rows.append((grade_ms, today_ms))
            print(f"{label:<10} {cards:>10,} {staff:>7,} {grade_ms:>9.2f} {today_ms:>9.2f} {built:>8.1f}", flush=True)
        print(f"{'':<10} largest/smallest: grade {rows[-1][0] / rows[0][0]:.2f}x, "
              f"today {rows[-1][1] / rows[0][1]:.2f}x (target <= 1.5x)")
    print(f"reproduce: .venv/bin/python bench/growth.py{' --postgres' if args.postgres else ''}"
          f"{' --quick' if args.quick else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
