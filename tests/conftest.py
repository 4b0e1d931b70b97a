"""Shared fixtures: a fresh database per test on SQLite (a real file) or PostgreSQL.

Set TIFA_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test to run the
same suite on PostgreSQL: each run works in a schema of its own, dropped at the end.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from helpers import PASSWORD
from webapp import create_app
from webapp.db import get_engine, session_scope
from webapp.models import Base
from webapp.services.users import create_user

pytest_plugins = ["browser_fixtures", "smtp_helpers"]

PG_URL = os.environ.get("TIFA_TEST_DATABASE_URL", "")


def pytest_report_header(config: pytest.Config) -> str:
    url = make_url(PG_URL).render_as_string(hide_password=True) if PG_URL else "SQLite (temp files)"
    return f"tifa database: {url}"


@pytest.fixture(scope="session", autouse=True)
def _jieba_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    os.environ.setdefault("TIFA_JIEBA_CACHE", str(tmp_path_factory.mktemp("jieba")))


@pytest.fixture(scope="session")
def _database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Migrate once per run: a template SQLite file, or a fresh PostgreSQL schema."""
    from webapp import migrate
    from webapp.db import make_engine

    if PG_URL:
        schema = f"tifa_test_{uuid.uuid4().hex[:10]}"
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        url_str = url.render_as_string(hide_password=False)
        engine = make_engine(url_str)
        migrate.upgrade(engine)
        engine.dispose()
        yield {"kind": "postgresql", "url": url_str, "schema": schema}
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    else:
        template = tmp_path_factory.mktemp("template") / "tifa.db"
        engine = make_engine(f"sqlite:///{template}")
        migrate.upgrade(engine)
        engine.dispose()
        yield {"kind": "sqlite", "template": template}


def _fresh_url(database: dict[str, Any], tmp_path: Path) -> str:
    if database["kind"] == "sqlite":
        target = tmp_path / "tifa.db"
        shutil.copyfile(database["template"], target)
        return f"sqlite:///{target}"
    engine = create_engine(database["url"])
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return database["url"]


@pytest.fixture
def db_url(_database: dict[str, Any], tmp_path: Path) -> str:
    return _fresh_url(_database, tmp_path)


@pytest.fixture
def is_postgres(_database: dict[str, Any]) -> bool:
    return _database["kind"] == "postgresql"


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Iterator[Flask]:
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    app = create_app({
        "TESTING": True,
        "DATABASE_URL": db_url,
        "SECRET_KEY": "test-secret",
        "INSTANCE_PATH": str(instance),
        "SCHEDULER": False,
    })
    yield app
    get_engine(app).dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):  # noqa: ANN201
    return app.test_cli_runner()


@pytest.fixture
def make_user(app: Flask):  # noqa: ANN201
    """Create a user (password PASSWORD, no forced change unless asked) and return its id."""

    def _make(username: str, *, name: str | None = None, department: str | None = "测试部门",
              role: str = "staff", must_change_password: bool = False, **kw: Any) -> int:
        with session_scope(app, write=True) as db:
            user = create_user(db, username, name or f"用户{username}", PASSWORD, department=department,
                               role=role, must_change_password=must_change_password, **kw)
            if role == "dept_admin" and user.department is not None:
                user.managed_departments.append(user.department)
            return user.id

    return _make


@pytest.fixture
def seeded(app: Flask) -> Flask:
    """The app with the seed materials imported, published and assigned to everyone."""
    from webapp.seeding import seed

    with session_scope(app, write=True) as db:
        seed(db)
    return app
