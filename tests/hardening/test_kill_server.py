"""SIGKILL the server while 20 people grade cards; restart it; nothing acknowledged is lost or doubled.

A real ``tifa serve`` process (waitress) on the test database; 20 client threads log in and grade through the
JSON API as the review page does. Mid-run the server is killed with SIGKILL and started again on the same
database. A client whose grade was in flight retries it with the same one-time token (as the page does), so a
grade that had committed before the kill must come back as the first result, not as a second log row.
Afterwards: every acknowledged token is in the review log exactly once, and ``tifa check`` (replaying the log
through SM-2) agrees with every stored state.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from bench import load
from webapp.db import session_scope
from webapp.models import Card, Deck, DeckAssignment, Note, ReviewLog, User
from webapp.services.integrity import check
from webapp.services.passwords import hash_password
from webapp.services.review import read_token

PEOPLE = 20
RUN_BEFORE_KILL_S = 4.0
RUN_AFTER_RESTART_S = 3.0


@dataclass
class Ledger:
    acked: list[str] = field(default_factory=list)  # nonces of grades the server answered 200
    errors: list[str] = field(default_factory=list)
    retried: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def prepare(app: Flask) -> None:
    password_hash = hash_password(load.PASSWORD)
    with session_scope(app, write=True) as db:
        deck = Deck(key="kill", title="断电测试卡组", term="压测", week=1, status="published", new_per_day=10_000)
        db.add(deck)
        db.flush()
        for i in range(400):
            note = Note(deck_id=deck.id, key=f"kill-{i}", kind="cloze", text=f"第{i}条：坚持{{{{c1::共抓大保护}}}}",
                        extra="", position=i)
            db.add(note)
            db.flush()
            db.add(Card(note_id=note.id, deck_id=deck.id, ord=1, position=i * 1000 + 1))
        db.add(DeckAssignment(deck_id=deck.id, everyone=True))
        for i in range(PEOPLE):
            db.add(User(username=f"kill{i:02d}", name=f"员工{i}", password_hash=password_hash))


def person_loop(base: str, username: str, phase: dict[str, Any], ledger: Ledger, rng: random.Random) -> None:
    person = load.Person(base, username)
    pending: dict[str, Any] | None = None  # a grade sent but not answered: retried with the same token
    # After "stop" a pending grade is still retried (bounded), so every grade ends answered or refused.
    while (not phase["stop"] or pending is not None) and time.monotonic() < phase["deadline"]:
        try:
            if not person.csrf:
                person.login()
            headers = {"Content-Type": "application/json", "X-CSRFToken": person.csrf}
            if pending is None:
                resp = person._open("GET", "/api/v1/review/next")
                if resp.status != 200:
                    raise ConnectionError(f"next HTTP {resp.status}")
                card = json.loads(resp.read())
                pending = {"card_id": card["card_id"], "body": {"quality": rng.choice([2, 3, 4, 5, 5]),
                                                                 "token": card["token"], "ms": 900}}
            else:
                with ledger.lock:
                    ledger.retried += 1
            resp = person._open("POST", f"/api/v1/review/{pending['card_id']}",
                                json.dumps(pending["body"]).encode(), headers)
            payload = resp.read()
            if resp.status == 200:
                with ledger.lock:
                    ledger.acked.append(read_token("load-test", pending["body"]["token"]).nonce)
                pending = None
            elif resp.status in (409,):
                pending = None  # stale tab: the server refused it, nothing was written
            elif resp.status >= 500:
                raise ConnectionError(f"grade HTTP {resp.status}")
            else:
                with ledger.lock:
                    ledger.errors.append(f"{username}: grade HTTP {resp.status} {payload[:200]!r}")
                pending = None
        except (OSError, ConnectionError, ValueError, http.client.HTTPException):
            # The server is down (killed) or restarting: wait and try again, keeping the pending grade.
            time.sleep(0.1)


def serve(url: str, port: int, instance: Path) -> subprocess.Popen:
    return load.start_server("waitress-sqlite", url, port, 1, instance)


def test_sigkill_mid_run_loses_and_doubles_nothing(app: Flask, db_url: str, tmp_path: Path, counts: Any) -> None:
    prepare(app)
    instance = tmp_path / "server" / "instance"
    instance.mkdir(parents=True)
    port = load.free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve(db_url, port, instance)
    phase: dict[str, Any] = {"stop": False, "deadline": time.monotonic() + 60}
    ledger = Ledger()
    threads = [threading.Thread(target=person_loop, args=(base, f"kill{i:02d}", phase, ledger, random.Random(i)),
                                daemon=True) for i in range(PEOPLE)]
    try:
        for t in threads:
            t.start()
        # Kill only once every client is logged in and grading: on a loaded machine the 20 logins
        # (one argon2 hash each) can take longer than the planned run before the kill.
        time.sleep(RUN_BEFORE_KILL_S)
        busy_by = time.monotonic() + 30
        while len(ledger.acked) <= 2 * PEOPLE and time.monotonic() < busy_by and not ledger.errors:
            time.sleep(0.2)
        acked_before_kill = len(ledger.acked)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)
        counts.add("faults_injected")
        time.sleep(0.5)
        server = serve(db_url, port, instance)
        time.sleep(RUN_AFTER_RESTART_S)
    finally:
        phase["stop"] = True
        for t in threads:
            t.join(40)
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
    assert not ledger.errors, ledger.errors[:5]
    assert acked_before_kill > PEOPLE, f"the clients were grading when the server was killed ({acked_before_kill})"
    assert len(ledger.acked) > acked_before_kill, "grading resumed after the restart"
    assert len(set(ledger.acked)) == len(ledger.acked)

    with session_scope(app) as db:
        logged = list(db.scalars(select(ReviewLog.token).where(ReviewLog.kind != "undo")))
        report = check(db)
        users = db.scalar(select(func.count()).select_from(User))
    assert users == PEOPLE + 1  # the server's first start added its admin, nothing else
    found = set(logged)
    assert len(found) == len(logged), "a token appears twice in the review log"
    missing = set(ledger.acked) - found
    assert not missing, f"{len(missing)} acknowledged grades are not in the review log"
    # Grades in flight at the kill were either committed (then retried and acknowledged) or rolled back.
    extra = found - set(ledger.acked)
    assert not extra, f"{len(extra)} logged grades were never acknowledged (retried {ledger.retried})"
    assert report.ok, report.problems[:5]
    counts.add("grades_acknowledged", len(ledger.acked))
    counts.add("grades_found_after_recovery", len(found & set(ledger.acked)))
    counts.add("grades_retried_after_kill", ledger.retried)
    counts.add("states_replayed_by_tifa_check", report.cards_checked)
