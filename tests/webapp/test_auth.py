"""Login, logout, forced password change, lockout and safe redirects."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from helpers import PASSWORD, csrf_token, get_user, login
from webapp.auth.lockout import FREE_ATTEMPTS, lock_duration
from webapp.auth.routes import safe_next
from webapp.db import session_scope
from webapp.models import User, utcnow


def test_login_page_is_chinese_and_has_csrf(client: FlaskClient) -> None:
    resp = client.get("/login")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "登录提法卡" in html and 'name="csrf_token"' in html
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]


def test_login_and_logout(client: FlaskClient, make_user) -> None:
    make_user("1001")
    resp = login(client, "1001")
    assert resp.status_code == 302
    assert client.get("/healthz").json == {"status": "ok"}
    token = csrf_token(client, "/account/password")
    resp = client.post("/logout", data={"csrf_token": token})
    assert resp.status_code == 302
    assert client.get("/account/password").status_code == 302  # back to login


def test_wrong_password_and_unknown_user_get_the_same_answer(client: FlaskClient, make_user) -> None:
    make_user("1002")
    wrong = login(client, "1002", "not-the-password")
    unknown = login(client, "no-such-user", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert "工号或密码错误" in wrong.get_data(as_text=True)
    assert "工号或密码错误" in unknown.get_data(as_text=True)


def test_lockout_grows_and_is_kept_in_the_database(app: Flask, client: FlaskClient, make_user) -> None:
    make_user("1003")
    for _ in range(FREE_ATTEMPTS):
        login(client, "1003", "wrong-password")
    user = get_user(app, "1003")
    assert user.failed_logins == FREE_ATTEMPTS
    assert user.locked_until is not None and user.locked_until > utcnow()
    # Locked: even the right password is refused until the lock runs out.
    assert login(client, "1003", PASSWORD).status_code == 401
    with session_scope(app) as db:
        db.execute(update(User).where(User.username == "1003").values(locked_until=utcnow() - timedelta(seconds=1)))
    assert login(client, "1003", PASSWORD).status_code == 302
    assert get_user(app, "1003").failed_logins == 0


def test_lock_durations() -> None:
    assert lock_duration(FREE_ATTEMPTS - 1) == timedelta(0)
    assert lock_duration(FREE_ATTEMPTS) == timedelta(minutes=1)
    assert lock_duration(FREE_ATTEMPTS + 2) == timedelta(minutes=4)
    assert lock_duration(100) == timedelta(hours=1)


def test_forced_password_change(client: FlaskClient, make_user, app: Flask) -> None:
    make_user("1004", must_change_password=True)
    resp = login(client, "1004")
    assert resp.headers["Location"].endswith("/account/password")
    assert client.get("/").headers["Location"].endswith("/account/password")
    token = csrf_token(client, "/account/password")
    resp = client.post("/account/password", data={"csrf_token": token, "current": PASSWORD,
                                                  "new": "12345678", "confirm": "12345678"})
    assert "不能全是数字" in resp.get_data(as_text=True)
    resp = client.post("/account/password", data={"csrf_token": token, "current": PASSWORD,
                                                  "new": "new-pass-2024", "confirm": "new-pass-2024"})
    assert resp.status_code == 302
    assert get_user(app, "1004").must_change_password is False


def test_deactivated_user_cannot_log_in(client: FlaskClient, make_user, app: Flask) -> None:
    make_user("1005")
    with session_scope(app) as db:
        db.execute(update(User).where(User.username == "1005").values(active=False))
    resp = login(client, "1005")
    assert resp.status_code == 403
    assert "停用" in resp.get_data(as_text=True)


def test_post_without_csrf_is_refused(client: FlaskClient, make_user) -> None:
    make_user("1006")
    resp = client.post("/login", data={"username": "1006", "password": PASSWORD})
    assert resp.status_code == 400
    assert "CSRF" in resp.get_data(as_text=True)


def test_session_changes_at_login(client: FlaskClient, make_user) -> None:
    make_user("1007")
    client.get("/login")
    before = client.get_cookie("session")
    login(client, "1007")
    after = client.get_cookie("session")
    assert before is not None and after is not None and before.value != after.value


def test_safe_next() -> None:
    assert safe_next("/review") == "/review"
    for bad in ["https://evil.example/", "//evil.example", "/\\evil.example", "javascript:alert(1)", ""]:
        assert safe_next(bad) is None


def test_open_redirect_is_ignored(client: FlaskClient, make_user) -> None:
    make_user("1008")
    resp = login(client, "1008", next_url="https://evil.example/")
    assert "evil.example" not in resp.headers["Location"]


def test_static_urls_are_fingerprinted_and_long_cached(client: FlaskClient) -> None:
    html = client.get("/login").get_data(as_text=True)
    href = re.search(r'href="(/static/css/app\.css\?v=[0-9a-f]{12})"', html)
    assert href, "stylesheet URL carries no content hash"
    resp = client.get(href.group(1))
    assert resp.status_code == 200
    assert "max-age=31536000" in resp.headers["Cache-Control"] and "immutable" in resp.headers["Cache-Control"]
    resp.close()
