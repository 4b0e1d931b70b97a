"""Load test: N simulated staff log in and run review sessions against a real server on loopback.

    .venv/bin/python bench/load.py --stack waitress-sqlite --users 40 --seconds 30
    .venv/bin/python bench/load.py --stack gunicorn-postgres --users 40 --seconds 30 --workers 3

Each simulated person logs in through the login form (CSRF and all), then loops
``GET /api/v1/review/next`` + ``POST /api/v1/review/<card_id>`` until time is up. Afterwards
the review log is checked: every grade the server acknowledged is there exactly once.
Requests go to 127.0.0.1 only; the run is bounded in time and stops by itself.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import multiprocessing
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get("TIFA_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PASSWORD = "load-test-pass-1"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@dataclass
class UserResult:
    acked: int = 0
    errors: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    done_early: bool = False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- setup


def prepare_database(url: str, users: int, cards_per_user_deck: int) -> None:
    """Migrate, seed, add a large synthetic deck assigned to everyone and create the staff."""
    from sqlalchemy import select

    from webapp import create_app
    from webapp.bootstrap import initialise
    from webapp.db import get_engine, session_scope
    from webapp.models import DECK_PUBLISHED, Card, Deck, DeckAssignment, Note, User
    from webapp.services.passwords import hash_password

    app = create_app({"DATABASE_URL": url, "SCHEDULER": False})
    initialise(app)
    password_hash = hash_password(PASSWORD)  # one hash for all: creating 1,000 argon2 hashes is not the point
    with session_scope(app, write=True) as db:
        deck = Deck(key=f"load-{uuid.uuid4().hex[:8]}", title="压力测试卡组", term="压测", week=1,
                    status=DECK_PUBLISHED, new_per_day=100_000)
        db.add(deck)
        db.flush()
        for i in range(cards_per_user_deck):
            note = Note(deck_id=deck.id, key=f"{deck.key}-{i}", kind="cloze",
                        text=f"第{i}条：坚持{{{{c1::共抓大保护}}}}、不搞大开发", extra="", source={}, position=i)
            db.add(note)
            db.flush()
            db.add(Card(note_id=note.id, deck_id=deck.id, ord=1, position=i * 1000 + 1))
        db.add(DeckAssignment(deck_id=deck.id, everyone=True))
        for d in db.scalars(select(Deck)):
            d.new_per_day = 100_000
        for i in range(users):
            db.add(User(username=f"load{i:05d}", name=f"压测{i}", password_hash=password_hash))
    get_engine(app).dispose()


def start_server(stack: str, url: str, port: int, workers: int, instance: Path) -> subprocess.Popen:
    env = {**os.environ, "TIFA_DATABASE_URL": url, "TIFA_SCHEDULER": "off", "TIFA_INSTANCE_PATH": str(instance),
           "TIFA_SECRET_KEY": "load-test", "TIFA_ADMIN_PASSWORD": "load-admin-pass"}
    bin_dir = Path(sys.executable).parent
    if stack.startswith("waitress"):
        cmd = [str(bin_dir / "tifa"), "serve", "--port", str(port), "--threads", "8"]
    else:
        cmd = [str(bin_dir / "gunicorn"), "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
               "-b", f"127.0.0.1:{port}", "-w", str(workers), "--access-logfile", "/dev/null", "webapp:create_app()"]
    log_path = instance.parent / "server.log"
    with open(log_path, "wb") as log:  # a file, not a pipe: a chatty server must never block on it
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log_path.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not answer /healthz within 60 s")


# ---------------------------------------------------------------- one simulated person


class Person:
    def __init__(self, base: str, username: str) -> None:
        self.base = base
        self.username = username
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.csrf = ""

    def _open(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):  # noqa: ANN202
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        try:
            return self.opener.open(req, timeout=30)
        except urllib.error.HTTPError as exc:
            return exc

    def login(self) -> None:
        html = self._open("GET", "/login").read().decode()
        token = CSRF_META.search(html).group(1)
        form = urllib.parse.urlencode({"username": self.username, "password": PASSWORD, "csrf_token": token})
        resp = self._open("POST", "/login", form.encode(), {"Content-Type": "application/x-www-form-urlencoded"})
        page = resp.read().decode()
        match = CSRF_META.search(page)
        if resp.status != 200 or match is None:
            raise RuntimeError(f"login failed for {self.username}: HTTP {resp.status}")
        self.csrf = match.group(1)

    def review_loop(self, deadline: float, rng: random.Random) -> UserResult:
        result = UserResult()
        headers = {"Content-Type": "application/json", "X-CSRFToken": self.csrf}
        while time.monotonic() < deadline:
            start = time.perf_counter()
            resp = self._open("GET", "/api/v1/review/next")
            if resp.status == 204:
                result.done_early = True
                break
            if resp.status != 200:
                result.errors.append(f"next HTTP {resp.status}")
                continue
            card = json.loads(resp.read())
            body = json.dumps({"quality": rng.choice([3, 4, 4, 5, 5, 2]), "token": card["token"], "ms": 1500})
            resp = self._open("POST", f"/api/v1/review/{card['card_id']}", body.encode(), headers)
            payload = resp.read()
            if resp.status != 200:
                result.errors.append(f"grade HTTP {resp.status}: {payload[:200]!r}")
                continue
            result.acked += 1
            result.latencies_ms.append((time.perf_counter() - start) * 1000)
        return result


def _run_people(args: tuple[str, list[str], float, int]) -> list[UserResult]:
    base, usernames, deadline_wall, seed = args
    results: list[UserResult] = [UserResult() for _ in usernames]
    deadline = time.monotonic() + (deadline_wall - time.time())

    def one(i: int, username: str) -> None:
        person = Person(base, username)
        try:
            person.login()
            results[i] = person.review_loop(deadline, random.Random(seed + i))
        except Exception as exc:  # an error is a finding, not a crash of the generator
            results[i].errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=one, args=(i, u)) for i, u in enumerate(usernames)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


# ---------------------------------------------------------------- verification


def logged_grades(url: str) -> tuple[int, int]:
    """(grades in the review log, grades whose token appears twice)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM review_logs WHERE kind <> 'undo'")).scalar_one()
        doubled = conn.execute(text(
            "SELECT count(*) FROM (SELECT token FROM review_logs WHERE token IS NOT NULL "
            "GROUP BY token HAVING count(*) > 1) t")).scalar_one()
    engine.dispose()
    return total, doubled


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run(stack: str, users: int, seconds: float, workers: int, procs: int, cards: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="tifa-load-"))
    schema = None
    if stack.endswith("sqlite"):
        url = f"sqlite:///{tmp / 'tifa.db'}"
    else:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        schema = f"tifa_load_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
    try:
        prepare_database(url, users, cards)
        port = free_port()
        server = start_server(stack, url, port, workers, tmp / "instance")
        try:
            base = f"http://127.0.0.1:{port}"
            names = [f"load{i:05d}" for i in range(users)]
            deadline = time.time() + seconds + 5  # login time included in the window below
            chunks = [names[i::procs] for i in range(procs)]
            started = time.perf_counter()
            with multiprocessing.get_context("spawn").Pool(procs) as pool:
                parts = pool.map(_run_people, [(base, c, deadline, 1000 * k) for k, c in enumerate(chunks) if c])
            elapsed = time.perf_counter() - started
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        results = [r for part in parts for r in part]
        latencies = [x for r in results for x in r.latencies_ms]
        acked = sum(r.acked for r in results)
        errors = [e for r in results for e in r.errors]
        logged, doubled = logged_grades(url)
        return {
            "stack": stack, "users": users, "seconds": round(elapsed, 1), "round_trips": acked,
            "rps": acked / elapsed if elapsed else 0.0,
            "p50": percentile(latencies, 50), "p95": percentile(latencies, 95), "p99": percentile(latencies, 99),
            "errors": len(errors), "error_samples": errors[:5], "logged": logged, "doubled": doubled,
            "done_early": sum(r.done_early for r in results),
        }
    finally:
        if schema:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
        shutil.rmtree(tmp, ignore_errors=True)


def report(r: dict) -> str:
    ok = r["errors"] == 0 and r["logged"] == r["round_trips"] and r["doubled"] == 0
    return (f"{r['stack']}: {r['users']} staff, {r['seconds']} s, {r['round_trips']} round trips "
            f"({r['rps']:.0f}/s), latency p50 {r['p50']:.1f} ms, p95 {r['p95']:.1f} ms, p99 {r['p99']:.1f} ms, "
            f"errors {r['errors']}, acknowledged {r['round_trips']} = logged {r['logged']}, doubled {r['doubled']}"
            f" -> {'OK' if ok else 'FAILED'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", choices=["waitress-sqlite", "gunicorn-postgres", "both"], default="both")
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--procs", type=int, default=2, help="load generator processes")
    parser.add_argument("--cards", type=int, default=2000, help="cards in the synthetic deck")
    args = parser.parse_args()
    stacks = ["waitress-sqlite", "gunicorn-postgres"] if args.stack == "both" else [args.stack]
    failed = False
    for stack in stacks:
        r = run(stack, args.users, args.seconds, args.workers, args.procs, args.cards)
        print(report(r))
        for sample in r["error_samples"]:
            print("  error:", sample)
        failed |= not (r["errors"] == 0 and r["logged"] == r["round_trips"] and r["doubled"] == 0)
    print(f"reproduce: .venv/bin/python bench/load.py --stack {args.stack} --users {args.users} "
          f"--seconds {args.seconds:g} --workers {args.workers}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
