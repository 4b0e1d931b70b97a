"""The database disappears mid-session: a clear retryable error, no traceback page, recovery without restart."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

import pg_server
from helpers import csrf_token
from webapp import create_app
from webapp.bootstrap import upgrade_schema
from webapp.db import get_engine


@pytest.fixture
def throwaway_pg() -> Iterator[pg_server.ThrowawayPostgres]:
    if not pg_server.available():
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    server = pg_server.ThrowawayPostgres()
    server.start()
    yield server
    server.destroy()


def _app(url: str, tmp_path: Path) -> Flask:
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "x", "SCHEDULER": False,
                      "INSTANCE_PATH": str(tmp_path / "instance"), "SQLITE_BUSY_TIMEOUT_MS": 200})
    app.config["PROPAGATE_EXCEPTIONS"] = False  # behave as in production: error pages, not test re-raises
    return app


def test_postgres_restart_gives_503_then_recovers(throwaway_pg: pg_server.ThrowawayPostgres, tmp_path: Path) -> None:
    app = _app(throwaway_pg.url, tmp_path)
    upgrade_schema(app)
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    throwaway_pg.stop()
    down = client.get("/healthz", headers={"Accept": "application/json"})
    assert down.status_code == 503
    assert down.json["code"] == "unavailable" and "稍后重试" in down.json["message"]
    assert "Traceback" not in down.get_data(as_text=True)
    assert down.headers["Retry-After"]
    page = client.get("/login")  # the login page needs no database
    assert page.status_code == 200
    throwaway_pg.start()
    assert client.get("/healthz").status_code == 200  # same app, same pool: no restart needed
    get_engine(app).dispose()


def test_locked_sqlite_gives_a_retryable_error(tmp_path: Path) -> None:
    db_file = tmp_path / "tifa.db"
    app = _app(f"sqlite:///{db_file}", tmp_path)
    upgrade_schema(app)
    app = _app(f"sqlite:///{db_file}", tmp_path)
    # Another process holds the write lock longer than the busy timeout allows.
    blocker = sqlite3.connect(db_file, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        resp = _post_login(app)
        assert resp.status_code == 503
        assert "稍后重试" in resp.get_data(as_text=True)
        assert "Traceback" not in resp.get_data(as_text=True)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert app.test_client().get("/healthz").status_code == 200
    get_engine(app).dispose()


def _post_login(app: Flask):  # noqa: ANN202
    client = app.test_client()
    token = csrf_token(client)
    return client.post("/login", data={"username": "someone", "password": "whatever-1", "csrf_token": token})
