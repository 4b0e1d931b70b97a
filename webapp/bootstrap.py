"""Bring a database to a usable state: migrate, seed, and make sure an admin exists."""

from __future__ import annotations

import os
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from . import migrate
from .db import DatabaseUnavailable, describe_url, get_engine, session_scope
from .models import ROLE_SUPER_ADMIN, User
from .seeding import seed
from .services.passwords import generate_password
from .services.users import create_user

ADMIN_USERNAME = "admin"


@dataclass
class InitResult:
    seeded: list[str]
    admin_created: bool
    admin_password: str | None  # only when generated, to print once


def upgrade_schema(app: Flask) -> None:
    try:
        migrate.upgrade(get_engine(app))
    except OperationalError as exc:
        url = describe_url(app.config["DATABASE_URL"])
        raise DatabaseUnavailable(
            f"无法连接数据库 {url}（{exc.orig}）。请检查 TIFA_DATABASE_URL 以及数据库服务是否已启动。"
            f" / Cannot reach the database: check TIFA_DATABASE_URL and that the server is running."
        ) from None


def initialise(app: Flask, with_seeds: bool = True) -> InitResult:
    """Migrate, seed missing materials, create the first super admin. Safe to run twice."""
    upgrade_schema(app)
    admin_created, password = ensure_admin(app)
    seeded: list[str] = []
    if with_seeds:
        with session_scope(app, write=True) as db:
            seeded = seed(db)
    return InitResult(seeded, admin_created, password)


def ensure_admin(app: Flask) -> tuple[bool, str | None]:
    with session_scope(app, write=True) as db:
        if db.scalar(select(User.id).where(User.role == ROLE_SUPER_ADMIN).limit(1)) is not None:
            return False, None
        configured = os.environ.get("TIFA_ADMIN_PASSWORD")
        password = configured or generate_password()
        create_user(db, ADMIN_USERNAME, "管理员", password, role=ROLE_SUPER_ADMIN,
                    must_change_password=False, check_strength=False)
        return True, None if configured else password
