"""Engine and sessions: one SQLAlchemy session per request, closed on teardown."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached; the message says which URL and what to check."""


def make_engine(url: str, pool_size: int = 5, busy_timeout_ms: int = 15000) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            from pathlib import Path

            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False})
        _sqlite_pragmas(engine, busy_timeout_ms)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
                         pool_recycle=1800)


def _sqlite_pragmas(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, emit BEGIN so writers can ask for BEGIN IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred transaction that later writes can fail at once with "database is locked"
        # when another writer committed in between; writers take the lock up front instead.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")


def begin_write(session: Session) -> None:
    """Mark the session's next transaction as a writer (BEGIN IMMEDIATE on SQLite).

    Call before the transaction's first statement; a no-op on PostgreSQL.
    """
    if session.in_transaction():
        return
    session.connection(execution_options={"write": True})


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"], app.config.get("DB_POOL_SIZE", 5),
                         app.config.get("SQLITE_BUSY_TIMEOUT_MS", 15000))
    app.extensions["tifa.engine"] = engine
    app.extensions["tifa.sessionmaker"] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()


def get_engine(app: Flask | None = None) -> Engine:
    return (app or current_app).extensions["tifa.engine"]


def get_db() -> Session:
    """The request's session."""
    if "db" not in g:
        g.db = current_app.extensions["tifa.sessionmaker"]()
    return g.db


@contextmanager
def session_scope(app: Flask | None = None, write: bool = False) -> Iterator[Session]:
    """A session outside requests (CLI, jobs): commits on success, rolls back on error."""
    session: Session = (app or current_app).extensions["tifa.sessionmaker"]()
    try:
        if write:
            begin_write(session)
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def describe_url(url: str) -> str:
    """The URL without its password, for error messages."""
    return make_url(url).render_as_string(hide_password=True)
