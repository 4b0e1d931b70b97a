"""A realistic institution for benchmarks and query-plan tests: staff, departments, decks, 90 days of reviews.

    from bench.generate import generate
    sizes = generate(engine, scale=0.01)        # 20 staff in 2 departments, same decks, 90 days

At ``scale=1``: 2,000 staff (2% deactivated) in 20 departments, 40 published decks of 25 notes (2 cards a note,
one note in 25 retired), published every ~2 days over the 90 days, 30 assigned to everyone and 10 to two
departments each, each with a learn-by date two weeks after publication. Every person studies on a day with
their own probability (0.15..0.95), learns up to 12 new cards and reviews everything due, graded by a simple
per-person skill: SM-2 in integer hundredths, as the app does. Logs include same-day relearns and a few
undos. About 4.5 million review_logs and 1 million review_states.

Rows go in with the driver's fastest bulk path: executemany on SQLite, COPY on PostgreSQL. The schema must
exist (migrations applied); ``generate`` ends with ANALYZE.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, text

STAFF = 2000
DEPARTMENTS = 20
DECKS = 40
NOTES_PER_DECK = 25
CARDS_PER_NOTE = 2
DAYS = 90
NEW_PER_DAY = 12
PASSWORD_HASH = "!"  # no one logs in as generated staff; admins are added by the caller


@dataclass
class Sizes:
    staff: int
    departments: int
    decks: int
    cards: int
    review_states: int
    review_logs: int
    seconds: float = 0.0

    def __str__(self) -> str:
        return (f"{self.staff:,} staff in {self.departments} departments, {self.decks} decks / {self.cards:,} cards, "
                f"{self.review_states:,} review states, {self.review_logs:,} review logs")


def _ef_after(ef: int, q: int) -> int:
    d = 5 - q
    return max(130, ef + 10 - d * (8 + d * 2))


class _Writer:
    """Bulk rows into a table: executemany (SQLite) or COPY (PostgreSQL), in batches."""

    def __init__(self, conn, table: str, columns: list[str]) -> None:  # noqa: ANN001
        self.conn, self.table, self.columns = conn, table, columns
        self.pg = conn.dialect.name == "postgresql"
        self.rows: list[tuple] = []
        self.count = 0

    def add(self, row: tuple) -> None:
        self.rows.append(row)
        if len(self.rows) >= 100_000:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        raw = self.conn.connection.driver_connection
        cols = ", ".join(self.columns)
        if self.pg:
            with raw.cursor() as cur, cur.copy(f"COPY {self.table} ({cols}) FROM STDIN") as copy:
                for row in self.rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in self.columns)
            raw.executemany(f"INSERT INTO {self.table} ({cols}) VALUES ({marks})", [_sqlite(r) for r in self.rows])
        self.count += len(self.rows)
        self.rows = []


def _sqlite(row: tuple) -> tuple:
    # The app's UTCDateTime stores naive UTC text on SQLite; dates as ISO text.
    return tuple(v.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ") if isinstance(v, datetime)
                 else v.isoformat() if isinstance(v, date) else v for v in row)


def generate(engine: Engine, scale: float = 1.0, seed: int = 7, today: date | None = None,
             days: int = DAYS, decks: int = DECKS, notes_per_deck: int = NOTES_PER_DECK) -> Sizes:
    """Fill an empty, migrated database; return what was made. ``today`` defaults to the current study day."""
    import time as clock

    from scheduler.study_day import day_start, study_day

    started = clock.perf_counter()
    rng = random.Random(seed)
    staff = max(2, round(STAFF * scale))
    n_depts = max(2, round(DEPARTMENTS * scale)) if scale < 1 else DEPARTMENTS
    today = today or study_day(datetime.now(UTC))
    first = today - timedelta(days=days - 1)
    created = day_start(first) - timedelta(days=1)

    def at(day: date, minute: int) -> datetime:
        return day_start(day) + timedelta(hours=14, minutes=minute % 600)

    with engine.begin() as conn:
        w = lambda table, cols: _Writer(conn, table, cols.split())  # noqa: E731
        depts = w("departments", "id name created_at")
        for d in range(n_depts):
            depts.add((d + 1, f"部门{d + 1:02d}", created))
        depts.flush()
        users = w("users", "id username name department_id role active password_hash must_change_password "
                           "reminder_opt_out failed_logins created_at")
        for u in range(staff):
            users.add((u + 1, f"s{u + 1:05d}", f"员工{u + 1}", u % n_depts + 1, "staff", rng.random() >= 0.02,
                       PASSWORD_HASH, False, False, 0, created))
        users.flush()

        # Decks, notes and cards; the deck's publication day spreads decks over the period.
        deck_rows = w("decks", "id key title term week status new_per_day published_at created_at updated_at")
        note_rows = w("notes", "id deck_id key kind text extra source position retired created_at updated_at")
        card_rows = w("cards", "id note_id deck_id ord position retired")
        assign_rows = w("deck_assignments", "id deck_id department_id user_id everyone learn_by created_at")
        deck_cards: list[list[int]] = []  # live card ids per deck, in serving order
        published: list[date] = []
        card_id = note_id = assign_id = 0
        for k in range(decks):
            day = first + timedelta(days=int(k * days * 0.9 / max(1, decks)))
            published.append(day)
            deck_rows.add((k + 1, f"bench-{k + 1}", f"第{k + 1}周学习材料", "2026-2027-1", k + 1, "published", 20,
                           at(day, 0), at(day, 0), at(day, 0)))
            live = []
            for n in range(notes_per_deck):
                note_id += 1
                retired = n == notes_per_deck - 1
                note_rows.add((note_id, k + 1, f"bench-{k + 1}-{n}", "cloze",
                               f"坚持{{{{c1::提法{k}-{n}甲}}}}，推进{{{{c2::提法{k}-{n}乙}}}}", "", "{}", n, retired,
                               at(day, 0), at(day, 0)))
                for o in range(1, CARDS_PER_NOTE + 1):
                    card_id += 1
                    card_rows.add((card_id, note_id, k + 1, o, n * 100 + o, retired))
                    if not retired:
                        live.append(card_id)
            deck_cards.append(live)
            learn_by = day + timedelta(days=14)
            if k % 4 == 3:  # a quarter of the decks go to two departments only
                for d in (k % n_depts, (k + 7) % n_depts):
                    assign_id += 1
                    assign_rows.add((assign_id, k + 1, d + 1, None, False, learn_by, at(day, 1)))
            else:
                assign_id += 1
                assign_rows.add((assign_id, k + 1, None, None, True, learn_by, at(day, 1)))
        for writer in (deck_rows, note_rows, card_rows, assign_rows):
            writer.flush()
        dept_decks = {d: [k for k in range(decks) if k % 4 != 3 or d in (k % n_depts, (k + 7) % n_depts)]
                      for d in range(n_depts)}

        logs = w("review_logs", "id user_id card_id deck_id kind quality reviewed_at study_day ms before_repetitions "
                                "before_easiness_cents before_interval before_due after_repetitions "
                                "after_easiness_cents after_interval after_due undoes_id")
        states = w("review_states", "id user_id card_id deck_id repetitions easiness_cents interval due_day lapses "
                                    "relearn_pending introduced_day last_review_day last_reviewed_at version")
        log_id = state_id = 0
        for u in range(staff):
            user_id = u + 1
            diligence = rng.uniform(0.15, 0.95)
            skill = rng.uniform(0.6, 0.97)
            mine = sorted(dept_decks[u % n_depts])
            # state per card: [reps, ef, interval, due, lapses, introduced, last]
            cards: dict[int, list] = {}
            card_deck: dict[int, int] = {}
            pending: list[tuple[int, int]] = []
            for offset in range(days):
                day = first + timedelta(days=offset)
                # New cards become available as their decks are published.
                pending.extend((c, k + 1) for k in mine if published[k] == day for c in deck_cards[k])
                if rng.random() >= diligence:
                    continue
                minute = rng.randrange(600)
                due = [c for c, s in cards.items() if s[3] <= day]
                learn = pending[:NEW_PER_DAY]
                del pending[:NEW_PER_DAY]
                for c, deck in learn:
                    card_deck[c] = deck
                for c in due + [c for c, _ in learn]:
                    deck = card_deck[c]
                    s = cards.get(c)
                    q = 5 if rng.random() < skill * 0.6 else 4 if rng.random() < skill else rng.choice((1, 2, 3))
                    ms = rng.randint(3000, 25000)
                    minute += 1
                    if s is None:
                        reps, ef, interval, lapses = 0, 250, 0, 0
                        kind, before = "learn", (None, None, None, None)
                    else:
                        reps, ef, interval, _, lapses, _, _ = s
                        kind, before = "review", (reps, ef, interval, s[3])
                    if q >= 3:
                        ef = _ef_after(ef, q)
                        reps += 1
                        interval = 1 if reps == 1 else 6 if reps == 2 else math.ceil(interval * ef / 100)
                    else:
                        reps, interval = 1, 1
                        lapses += kind == "review"
                    new_due = day + timedelta(days=interval)
                    cards[c] = [reps, ef, interval, new_due, lapses, s[5] if s else day, day]
                    log_id += 1
                    logs.add((log_id, user_id, c, deck, kind, q, at(day, minute), day, ms, *before, reps, ef,
                              interval, new_due, None))
                    if q < 4:  # same-day repeat until graded >= 4
                        log_id += 1
                        logs.add((log_id, user_id, c, deck, "relearn", 4, at(day, minute + 1), day,
                                  ms // 2, None, None, None, None, None, None, None, None, None))
                    if rng.random() < 0.002:  # now and then a grade is taken back (kept simple: not re-graded)
                        log_id += 1
                        logs.add((log_id, user_id, c, deck, "undo", None, at(day, minute + 2), day, 0,
                                  None, None, None, None, None, None, None, None, log_id - 1))
            for c, (reps, ef, interval, due_day, lapses, introduced, last) in cards.items():
                state_id += 1
                states.add((state_id, user_id, c, card_deck[c], reps, ef, interval, due_day, lapses, False,
                            introduced, last, at(last, 0), 1))
        logs.flush()
        states.flush()
        if conn.dialect.name == "postgresql":
            for table in ("departments", "users", "decks", "notes", "cards", "deck_assignments", "review_logs",
                          "review_states"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT coalesce(max(id), 1) FROM {table}))"))
    # As autovacuum would leave it: statistics, and on PostgreSQL a visibility map so index-only scans skip the heap.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if conn.dialect.name == "postgresql" else "ANALYZE"))
    return Sizes(staff, n_depts, decks, card_id, states.count, logs.count, clock.perf_counter() - started)
