"""Dashboard: time each progress query and the whole /admin/progress page on generated data.

    .venv/bin/python bench/dashboard.py                      # scale 1 (2,000 staff, ~4.5M logs), SQLite then PostgreSQL
    .venv/bin/python bench/dashboard.py --scale 0.1 --db sqlite
    TIFA_BENCH_DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/dashboard.py --db postgres

Data: bench/generate.py (a temp SQLite file; on PostgreSQL a dedicated schema, dropped at the end). Each query
runs ``--runs`` times as a super admin (all 20 departments) and as a department admin (one department), the
page (and the XLSX export) through the real Flask stack; figures are medians in milliseconds. Target: page < 1 s.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get("TIFA_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PASSWORD = "dashboard-bench-1"


def _median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _database(kind: str) -> tuple[str, Callable[[], None]]:
    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="tifa-dashboard-"))
        return f"sqlite:///{folder / 'tifa.db'}", lambda: shutil.rmtree(folder, ignore_errors=True)
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = f"tifa_dashboard_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return url.render_as_string(hide_password=False), drop


def _size(url: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            pages = conn.execute(text("PRAGMA page_count")).scalar_one() * conn.execute(
                text("PRAGMA page_size")).scalar_one()
        else:
            pages = conn.execute(text("SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
                                      "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
                                      "AND c.relkind = 'r'")).scalar_one()
    engine.dispose()
    return f"{int(pages) / 2**20:,.0f} MiB"


def run(kind: str, scale: float, runs: int) -> list[str]:
    from sqlalchemy import select

    from bench.generate import generate
    from webapp import create_app
    from webapp.db import get_engine, session_scope
    from webapp.models import AdminDepartment, Department, User
    from webapp.services import progress as pg
    from webapp.services.passwords import hash_password
    from webapp.services.users import create_user

    url, cleanup = _database(kind)
    out: list[str] = []
    try:
        app = create_app({"DATABASE_URL": url, "SCHEDULER": False, "SECRET_KEY": "bench", "TESTING": False})
        from webapp.bootstrap import upgrade_schema

        upgrade_schema(app)
        sizes = generate(get_engine(app), scale=scale)
        with session_scope(app, write=True) as db:
            for username, role in (("bench-boss", "super_admin"), ("bench-sec", "dept_admin")):
                user = create_user(db, username, username, PASSWORD, role=role, must_change_password=False)
                user.password_hash = hash_password(PASSWORD)
            db.flush()
            sec = db.scalar(select(User.id).where(User.username == "bench-sec"))
            first_dept = db.scalar(select(Department.id).order_by(Department.id))
            db.add(AdminDepartment(user_id=sec, department_id=first_dept))
        out.append(f"{kind}: {sizes} — generated in {sizes.seconds:.0f} s, database {_size(url)}")
        from scheduler.study_day import study_day
        from webapp.models import utcnow

        today = study_day(utcnow(), app.config["TIMEZONE"])
        tz = app.config["TIMEZONE"]
        scopes = {"all": pg.Filters.default(today), "one dept": pg.Filters.default(
            today, department_ids=frozenset({first_dept}))}
        queries: dict[str, Callable[[object, pg.Filters], object]] = {
            "header": pg.header,
            "departments": pg.departments,
            "matrix (page of 50)": lambda db, f: pg.matrix(db, f, tz, limit=50),
            "hardest cards": pg.hardest_cards,
            "forecast 14 d": pg.forecast,
            "trend 7 d": pg.trend,
            "person": lambda db, f: pg.person(db, f, 1),
        }
        out.append(f"| query ({kind}) | all staff ms | one department ms |")
        out.append("| --- | ---: | ---: |")
        with session_scope(app) as db:
            for name, fn in queries.items():
                cells = [f"{_median_ms(lambda fn=fn, f=f: fn(db, f), runs):.0f}" for f in scopes.values()]
                out.append(f"| {name} | {' | '.join(cells)} |")
        for username, label in (("bench-boss", "super admin"), ("bench-sec", "department admin")):
            client = app.test_client()
            token = re.search(r'name="csrf-token" content="([^"]+)"',
                              client.get("/login").get_data(as_text=True)).group(1)
            assert client.post("/login", data={"username": username, "password": PASSWORD,
                                               "csrf_token": token}).status_code == 302
            page = _median_ms(lambda c=client: _ok(c.get("/admin/progress")), runs)
            # Person 1 is in the first department, so both admins may see them.
            person = _median_ms(lambda c=client: _ok(c.get("/admin/progress/user/1")), runs)
            xlsx = _median_ms(lambda c=client: _ok(c.get("/admin/progress/export.xlsx")), max(1, runs // 2))
            out.append(f"- {kind}, {label}: full page {page:.0f} ms, person page {person:.0f} ms, "
                       f"XLSX export (every staff member) {xlsx:.0f} ms")
        get_engine(app).dispose()
    finally:
        cleanup()
    return out


def _ok(resp) -> None:  # noqa: ANN001
    assert resp.status_code == 200, resp.status_code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="staff and departments × this (1 = 2,000 / 20)")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    print(f"Command: .venv/bin/python bench/dashboard.py --scale {args.scale} --db {args.db} --runs {args.runs}")
    for kind in kinds:
        for line in run(kind, args.scale, args.runs):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
