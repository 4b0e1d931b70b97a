"""Helpers for tests: log in as a browser would, read CSRF tokens, fetch users."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from webapp.db import session_scope
from webapp.models import User

PASSWORD = "correct-horse-7"

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token a page hands out (as a browser would read it from the meta tag)."""
    html = client.get(path).get_data(as_text=True)
    match = CSRF_META.search(html)
    assert match, f"no csrf meta tag on {path}"
    return match.group(1)


def login(client: FlaskClient, username: str, password: str = PASSWORD, next_url: str | None = None):  # noqa: ANN201
    token = csrf_token(client)
    data = {"username": username, "password": password, "csrf_token": token}
    if next_url is not None:
        data["next"] = next_url
    return client.post("/login", data=data)


def get_user(app: Flask, username: str) -> User:

    with session_scope(app) as db:
        return db.scalar(select(User).where(User.username == username))
