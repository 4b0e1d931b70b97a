"""Per-grade server time of Tifa's review (next card + grade) against Anki's own Rust scheduler.

Both sides get the same 10,000-card collection for one person: ``--due`` cards already learned
and due (spread over the last 30 days, oldest first), the rest new, and the default limit of
20 new cards a day on both sides. Then ``--grades`` cards are fetched and graded in a row with the same grade
sequence (0–5 for Tifa; Again/Hard/Good/Easy for Anki: q<3, 3, 4, 5), after ``--warmup``
untimed ones. Tifa is timed twice in-process: through the whole Flask stack (test client:
session cookie, login, CSRF, JSON) and at the service layer (the two functions the views call).
Anki: ``col.sched.get_queued_cards()`` + ``build_answer`` + ``col.sched.answer_card()``.

    .venv/bin/python bench/review.py [--cards 10000] [--due 3000] [--grades 500] [--database-url URL]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from scheduler.study_day import study_day  # noqa: E402

PASSWORD = "bench-password-1"


def grade_sequence(n: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.choice([2, 3, 4, 4, 5, 5, 5]) for _ in range(n)]


def summarise(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median": statistics.median(ordered) * 1000,
        "mean": statistics.fmean(ordered) * 1000,
        "p95": ordered[int(len(ordered) * 0.95) - 1] * 1000,
    }


# -- Tifa --------------------------------------------------------------------------------------------

def build_tifa(url: str, cards: int, due: int, tmp: Path, new_per_day: int):  # noqa: ANN201
    from webapp import create_app, migrate
    from webapp.db import make_engine, session_scope
    from webapp.models import Card, Deck, DeckAssignment, Note, ReviewState, User
    from webapp.services.users import create_user

    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "INSTANCE_PATH": str(tmp / "instance"),
                      "SCHEDULER": False, "TESTING": False})
    today = study_day(datetime.now(UTC), app.config["TIMEZONE"])
    now = datetime.now(UTC)
    with session_scope(app, write=True) as db:
        user = create_user(db, "bench", "压测员工", PASSWORD, department="压测部门")
        user.must_change_password = False
        deck = Deck(key="bench", title="压测卡组", status="published", new_per_day=new_per_day)
        db.add(deck)
        db.flush()
        db.add(DeckAssignment(deck_id=deck.id, everyone=True))
        db.execute(insert(Note), [
            {"deck_id": deck.id, "key": f"bench-{i}", "kind": "cloze", "text": f"第{i}条提法{{{{c1::答案{i}}}}}",
             "extra": f"第{i}条提法答案{i}", "source": {}, "position": i, "retired": False,
             "created_at": now, "updated_at": now}
            for i in range(cards)
        ])
        note_ids = list(db.scalars(select(Note.id).where(Note.deck_id == deck.id).order_by(Note.position)))
        db.execute(insert(Card), [
            {"note_id": nid, "deck_id": deck.id, "ord": 1, "position": i * 1000 + 1, "retired": False}
            for i, nid in enumerate(note_ids)
        ])
        card_ids = list(db.scalars(select(Card.id).where(Card.deck_id == deck.id).order_by(Card.position)))
        rng = random.Random(7)
        db.execute(insert(ReviewState), [
            {"user_id": user.id, "card_id": cid, "deck_id": deck.id, "repetitions": 3, "easiness_cents": 250,
             "interval": 15, "due_day": today - timedelta(days=rng.randint(0, 30)), "lapses": 0,
             "relearn_pending": False, "introduced_day": today - timedelta(days=60),
             "last_review_day": today - timedelta(days=31), "last_reviewed_at": now - timedelta(days=31),
             "version": 1}
            for cid in card_ids[:due]
        ])
        user_id = db.scalar(select(User.id).where(User.username == "bench"))
    analyse = make_engine(url)
    with analyse.begin() as conn:
        conn.exec_driver_sql("ANALYZE")  # realistic plans, as after a day of use
    analyse.dispose()
    return app, user_id


def time_tifa_http(app, grades: list[int], warmup: int) -> list[float]:  # noqa: ANN001
    import re

    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'csrf-token" content="([^"]+)', page).group(1)
    resp = client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf_token": csrf})
    assert resp.status_code == 302, resp.status_code
    csrf = re.search(r'csrf-token" content="([^"]+)', client.get("/review").get_data(as_text=True)).group(1)
    headers = {"X-CSRFToken": csrf}
    samples = []
    for i, quality in enumerate(grades):
        start = time.perf_counter()
        card = client.get("/api/v1/review/next").get_json()
        resp = client.post(f"/api/v1/review/{card['card_id']}", headers=headers,
                           json={"quality": quality, "token": card["token"], "ms": 1000})
        elapsed = time.perf_counter() - start
        assert resp.status_code == 200, resp.get_data(as_text=True)
        if i >= warmup:
            samples.append(elapsed)
    return samples


def time_tifa_service(app, user_id: int, grades: list[int], warmup: int) -> list[float]:  # noqa: ANN001
    from webapp.models import User
    from webapp.services import review

    secret, tz = app.config["SECRET_KEY"], app.config["TIMEZONE"]
    factory = app.extensions["tifa.sessionmaker"]
    samples = []
    for i, quality in enumerate(grades):
        start = time.perf_counter()
        with factory() as db:  # one session per request, as in the app
            user = db.get(User, user_id)
            now = datetime.now(UTC)
            card = review.next_card(db, secret, user, study_day(now, tz))
            review.grade_card(db, secret, user, card["card_id"], quality, card["token"], 1000, now, tz)
        elapsed = time.perf_counter() - start
        if i >= warmup:
            samples.append(elapsed)
    return samples


# -- Anki --------------------------------------------------------------------------------------------

def build_anki(path: Path, cards: int, due: int, new_limit: int):  # noqa: ANN201
    from anki.collection import Collection

    path.parent.mkdir(parents=True, exist_ok=True)
    col = Collection(str(path))
    model = col.models.by_name("Basic")
    deck_id = col.decks.id("压测卡组")
    conf = col.decks.config_dict_for_deck_id(deck_id)
    conf["new"]["perDay"] = new_limit
    conf["rev"]["perDay"] = 9999  # Anki's maximum: reviews unlimited, as in Tifa
    col.decks.update_config(conf)
    col.decks.select(deck_id)
    for i in range(cards):
        note = col.new_note(model)
        note["Front"] = f"第{i}条提法 [...]"
        note["Back"] = f"答案{i}"
        col.add_note(note, deck_id)
    card_ids = list(col.find_cards(f"did:{deck_id}", order="c.id"))
    rng = random.Random(7)
    today = col.sched.today
    # Learned cards due today or up to 30 days overdue, as on the Tifa side (review queue, 15-day interval).
    col.db.executemany(
        "update cards set type = 2, queue = 2, ivl = 15, factor = 2500, reps = 3, due = ? where id = ?",
        [(today - rng.randint(0, 30), cid) for cid in card_ids[:due]],
    )
    return col


def time_anki(col, grades: list[int], warmup: int) -> list[float]:  # noqa: ANN001
    from anki.cards import Card
    from anki.scheduler.v3 import CardAnswer

    ratings = {0: CardAnswer.AGAIN, 1: CardAnswer.AGAIN, 2: CardAnswer.AGAIN, 3: CardAnswer.HARD,
               4: CardAnswer.GOOD, 5: CardAnswer.EASY}
    samples = []
    for i, quality in enumerate(grades):
        start = time.perf_counter()
        queued = col.sched.get_queued_cards()
        top = queued.cards[0]
        card = Card(col, backend_card=top.card)
        card.start_timer()
        answer = col.sched.build_answer(card=card, states=top.states, rating=ratings[quality])
        col.sched.answer_card(answer)
        elapsed = time.perf_counter() - start
        if i >= warmup:
            samples.append(elapsed)
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=10_000)
    parser.add_argument("--due", type=int, default=3_000, help="cards already learned and due today or overdue")
    parser.add_argument("--grades", type=int, default=500, help="timed grades per run")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--new-per-day", type=int, default=20, help="new-card limit of the deck on both sides")
    parser.add_argument("--database-url", default="", help="Tifa database (default: a temporary SQLite file)")
    args = parser.parse_args(argv)

    grades = grade_sequence(args.warmup + args.grades, seed=11)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        url = args.database_url or f"sqlite:///{tmp / 'tifa.db'}"

        t0 = time.perf_counter()
        app, user_id = build_tifa(url, args.cards, args.due, tmp, args.new_per_day)
        build_tifa_s = time.perf_counter() - t0
        service = summarise(time_tifa_service(app, user_id, grades[: (args.warmup + args.grades) // 2],
                                              args.warmup))
        http = summarise(time_tifa_http(app, grades, args.warmup))
        from webapp.db import get_engine

        get_engine(app).dispose()

        t0 = time.perf_counter()
        col = build_anki(tmp / "anki" / "collection.anki2", args.cards, args.due, new_limit=args.new_per_day)
        build_anki_s = time.perf_counter() - t0
        try:
            anki = summarise(time_anki(col, grades, args.warmup))
        finally:
            col.close()

    import anki as anki_pkg

    backend = url.split(":", 1)[0] if args.database_url else "sqlite (temp file)"
    print(f"Review bench: {args.cards} cards for one person ({args.due} due/overdue, the rest new), "
          f"{args.grades} timed grades after {args.warmup} warm-up; Tifa on {backend}, "
          f"anki {getattr(anki_pkg, 'version', '') or _anki_version()}")
    print(f"  setup: Tifa {build_tifa_s:.1f} s, Anki {build_anki_s:.1f} s")
    print("  per grade (next + grade), ms       median    mean     p95")
    for name, fig in (("Tifa via Flask (test client)", http), ("Tifa service layer", service),
                      ("Anki get_queued_cards+answer", anki)):
        print(f"  {name:<32} {fig['median']:7.2f} {fig['mean']:7.2f} {fig['p95']:7.2f}")
    print(f"  ratio Tifa/Anki (median): via Flask {http['median'] / anki['median']:.2f}x, "
          f"service layer {service['median'] / anki['median']:.2f}x (target: within 3x)")
    database = f" --database-url {args.database_url}" if args.database_url else ""
    print(f"  reproduce: .venv/bin/python bench/review.py --cards {args.cards} --due {args.due} "
          f"--grades {args.grades} --new-per-day {args.new_per_day}{database}")
    return 0


def _anki_version() -> str:
    from anki.buildinfo import version

    return version


if __name__ == "__main__":
    raise SystemExit(main())
